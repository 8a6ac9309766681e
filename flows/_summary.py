"""What a flow run did: the outcome of every data stage, estimate and model (:class:`Outcomes`), and the summary a
flow returns (:class:`PipelineSummary`), whose table ``pidengine run`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from pidengine.models.analysis import InteractionAnalysis
from pidengine.models.sweep import ModelReport
from pidengine.report import RunRecord, accuracy_matrix, estimator_agreement, format_disagreements, format_summary
from pidengine.selection import Selection
from pidengine.stages import StageReport


@dataclass
class StageOutcome:
    """One data stage of one dataset: its report, or the error that stopped it."""

    dataset: str
    stage: str
    report: StageReport | None = None
    error: str = ""


@dataclass
class ModelOutcome:
    """One family trained on one dataset: its report, or the error that stopped it."""

    dataset: str
    family: str
    report: ModelReport | None = None
    error: str = ""
    cached: bool = False
    run_id: str = ""


@dataclass
class Outcomes:
    """Every dataset's data stages, one record per (dataset, estimator) and one outcome per (dataset, family)."""

    stages: list[StageOutcome] = field(default_factory=list)
    records: list[RunRecord] = field(default_factory=list)
    models: list[ModelOutcome] = field(default_factory=list)

    @property
    def reports(self) -> list[ModelReport]:
        """The models that trained."""
        return [m.report for m in self.models if m.report is not None]


@dataclass
class PipelineSummary:
    """What a flow run did: the data stages, one record per (dataset, estimator), one outcome per (dataset, family),
    the model selection, and where it was tracked."""

    flow: str
    records: list[RunRecord] = field(default_factory=list)
    stages: list[StageOutcome] = field(default_factory=list)
    models: list[ModelOutcome] = field(default_factory=list)
    selection: Selection | None = None
    analysis: InteractionAnalysis | None = None
    reference_path: str = ""
    selection_error: str = ""
    tracking_uri: str = ""
    experiment: str = ""
    parent_run_id: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        names = [f"{r.dataset}/{r.estimator}" for r in self.records if r.status == "failed"]
        names += [f"{m.dataset}/{m.family}" for m in self.models if m.error]
        names += ["selection"] if self.selection_error else []
        return names + [f"{s.dataset}/{s.stage}" for s in self.stages if s.error and not self.records]

    def table(self) -> str:
        if not self.records:
            lines = [f"{'dataset':<26}{'stage':<10}result"]
            for s in self.stages:
                lines.append(f"{s.dataset:<26}{s.stage:<10}{('FAILED: ' + s.error) if s.error else str(s.report)}")
            return "\n".join(lines)
        parts = [format_summary(self.records)]
        disagreements = format_disagreements(estimator_agreement(self.records))
        if disagreements:
            parts.append(disagreements)
        if self.models:
            parts.append(accuracy_matrix([m.report for m in self.models if m.report],
                                         [(m.dataset, m.family) for m in self.models if m.error]))
        if self.selection is not None:
            parts.append(f"Model selection (reference table {self.reference_path}):\n{self.selection.table()}")
        if self.selection_error:
            parts.append(f"Model selection FAILED: {self.selection_error}")
        if self.analysis is not None:
            parts.append(self.analysis.summary())
        return "\n\n".join(parts)
