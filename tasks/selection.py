"""The selection tasks, in the flow's own process once every dataset's models are in: model selection over the run
(:func:`pidengine.selection.select_from_run`) and the interaction analyses (:func:`pidengine.models.analysis.analyse`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prefect import task

from pidengine.exceptions import PIDEngineError
from pidengine.models.analysis import InteractionAnalysis, analyse
from pidengine.models.settings import TrainSettings
from pidengine.models.sweep import ModelReport
from pidengine.report import RunRecord
from pidengine.selection import Selection, dataset_pids, dataset_significance, select_from_run
from tasks.tracking import code_version


@dataclass(frozen=True)
class SelectionOutcome:
    """Model selection over a run and the reference table's file, or the error that stopped it."""

    selection: Selection | None = None
    reference_path: str = ""
    error: str = ""


@task(name="select-models", persist_result=False)
def select_models(
    records: Sequence[RunRecord], reports: Sequence[ModelReport], data_dir: str, reference: list[str],
    table_file: Path | None, top_k: int, train: TrainSettings,
) -> SelectionOutcome:
    """Recommend ``top_k`` families per dataset from the reference table, built from ``reference`` (and published)
    or found; an error of the data or settings is the outcome, not a failure of the flow run."""
    provenance = {"train": train.model_dump(mode="json"), "code_version": code_version()}
    try:
        selection, path = select_from_run(records, reports, data_dir, reference, table_file, top_k, provenance)
    except PIDEngineError as exc:
        return SelectionOutcome(error=str(exc))
    return SelectionOutcome(selection, str(path))


@task(name="analyse-models", persist_result=False)
def analyse_models(records: Sequence[RunRecord], reports: Sequence[ModelReport]) -> InteractionAnalysis:
    """How each model's PID agrees with its dataset's, and how accuracy drops without a modality, against the PIDs."""
    return analyse(dataset_pids(records), reports, dataset_significance(records))
