r"""The paper's two analyses of trained models (Liang et al., 2023, §5), over a sweep of datasets × families.

**Agreement between dataset and model PID.** For a dataset with PID :math:`\pi` and a model whose predictions have
PID :math:`\pi_f` (both normalised to proportions of R, U1, U2, S, see :func:`pidengine.selection.normalized_pid`),

.. math:: \alpha_f = 1 - \tfrac12 \lVert \bar\pi - \bar\pi_f \rVert_1 \in [0, 1],

1 when the model uses the interactions in the same proportions as the data. It is set against the model's accuracy
relative to the best family on the same dataset (:math:`\mathrm{acc}_f / \max_g \mathrm{acc}_g`, which removes the
dataset's difficulty) and against its raw accuracy.

**Unique information against the cost of removing a modality.** For each dataset and modality :math:`k`, the unique
information :math:`U_k` (bits) is set against the test accuracy lost when :math:`x_k` is removed from the trained
models (replaced by its training mean), averaged over families.

Correlations are Pearson's and Spearman's over the points; NaN where fewer than three points or a constant variable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pidengine.exceptions import InvalidJointError
from pidengine.models.sweep import MODALITIES, ModelReport
from pidengine.parts import ATOMS, flat_key
from pidengine.selection import normalized_pid


def pid_agreement(
    dataset_pid: Mapping[str, Any], model_pid: Mapping[str, Any], dataset_significant: Mapping[str, bool] | None = None
) -> float:
    """:math:`1 - \\frac12\\lVert\\bar\\pi - \\bar\\pi_f\\rVert_1`, a part that does not clear its null counting as
    0 on either side, as in selection (:func:`~pidengine.selection.normalized_pid`): the dataset's by
    ``dataset_significant``, the model's by the flags of its PID's flat view (``<part>_significant``); NaN when the
    dataset or the model's predictions show no interaction to compare (no part above zero that clears its null).
    """
    try:
        model = normalized_pid(model_pid, _flags(model_pid))
        data = normalized_pid(dataset_pid, dataset_significant)
    except InvalidJointError:
        return math.nan
    return float(1.0 - 0.5 * np.abs(data - model).sum())


def _flags(view: Mapping[str, Any]) -> dict[str, bool]:
    return {part: flag for part in ATOMS if isinstance(flag := view.get(flat_key(part, "significant")), bool)}


@dataclass(frozen=True)
class Correlation:
    """Pearson's r and Spearman's ρ of ``n`` points (NaN when undefined)."""

    n: int
    pearson: float
    spearman: float

    @classmethod
    def of(cls, x: Sequence[float], y: Sequence[float]) -> Correlation:
        points = np.array([(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)], dtype=float)
        n = len(points)
        if n < 3 or np.ptp(points[:, 0]) == 0 or np.ptp(points[:, 1]) == 0:
            return cls(n, math.nan, math.nan)
        from scipy import stats

        return cls(n, float(stats.pearsonr(points[:, 0], points[:, 1])[0]),
                   float(stats.spearmanr(points[:, 0], points[:, 1])[0]))

    def __str__(self) -> str:
        if math.isnan(self.pearson):
            return f"undefined (n = {self.n}: needs at least 3 points that vary on both axes)"
        return f"Pearson r = {self.pearson:+.2f}, Spearman ρ = {self.spearman:+.2f} (n = {self.n})"


@dataclass(frozen=True, eq=False)
class InteractionAnalysis:
    """Both analyses: their points (one frame each) and correlations."""

    agreement: pd.DataFrame
    """dataset, family, accuracy, relative_accuracy, agreement."""
    agreement_vs_relative_accuracy: Correlation
    agreement_vs_accuracy: Correlation
    ablation: pd.DataFrame
    """dataset, modality, unique_bits, mean_accuracy_drop."""
    unique_vs_accuracy_drop: Correlation

    def summary(self) -> str:
        return "\n".join([
            "Agreement of dataset and model PID against accuracy:",
            f"  relative to the best family: {self.agreement_vs_relative_accuracy}",
            f"  raw accuracy:                {self.agreement_vs_accuracy}",
            "Unique information of a modality against the accuracy lost without it:",
            f"  {self.unique_vs_accuracy_drop}",
        ])

    def figure(self):
        """Two scatter plots (agreement vs relative accuracy; U_k vs accuracy drop), built without pyplot."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9.0, 4.0), layout="constrained")
        left, right = fig.subplots(1, 2)
        left.scatter(self.agreement["agreement"], self.agreement["relative_accuracy"], s=14, alpha=0.7)
        left.set_xlabel("agreement of dataset and model PID")
        left.set_ylabel("accuracy / best accuracy on the dataset")
        left.set_title(f"ρ = {self.agreement_vs_relative_accuracy.spearman:+.2f}", fontsize=10)
        for modality, marker in zip(MODALITIES, ("o", "^")):
            rows = self.ablation[self.ablation["modality"] == modality]
            right.scatter(
                rows["unique_bits"], rows["mean_accuracy_drop"], s=18, marker=marker, label=f"without {modality}"
            )
        right.set_xlabel("unique information of the modality (bits)")
        right.set_ylabel("accuracy lost without it (mean over families)")
        right.set_title(f"ρ = {self.unique_vs_accuracy_drop.spearman:+.2f}", fontsize=10)
        right.legend(fontsize=8)
        return fig


def analyse(
    dataset_pids: dict[str, dict[str, float]], reports: Sequence[ModelReport],
    significance: dict[str, dict[str, bool]] | None = None,
) -> InteractionAnalysis:
    """Both analyses over every report whose dataset has a PID (bits); ``significance``: whether each part of each
    dataset's PID clears its null (:func:`pidengine.selection.dataset_significance`), for the agreement."""
    reports = [r for r in reports if r.dataset in dataset_pids]
    best = {}
    for r in reports:
        best[r.dataset] = max(best.get(r.dataset, 0.0), r.test_accuracy)
    agreement = pd.DataFrame(
        [{"dataset": r.dataset, "family": r.family, "accuracy": r.test_accuracy,
          "relative_accuracy": r.test_accuracy / best[r.dataset] if best[r.dataset] > 0 else math.nan,
          "agreement": pid_agreement(dataset_pids[r.dataset], r.pid, (significance or {}).get(r.dataset))}
         for r in reports],
        columns=["dataset", "family", "accuracy", "relative_accuracy", "agreement"],
    )
    ablation = pd.DataFrame(
        [{"dataset": name, "modality": m, "unique_bits": float(dataset_pids[name][f"unique{i + 1}"]),
          "mean_accuracy_drop": float(np.mean([r.accuracy_drop(m) for r in reports if r.dataset == name]))}
         for name in sorted({r.dataset for r in reports}) for i, m in enumerate(MODALITIES)],
        columns=["dataset", "modality", "unique_bits", "mean_accuracy_drop"],
    )
    return InteractionAnalysis(
        agreement,
        Correlation.of(agreement["agreement"], agreement["relative_accuracy"]),
        Correlation.of(agreement["agreement"], agreement["accuracy"]),
        ablation,
        Correlation.of(ablation["unique_bits"], ablation["mean_accuracy_drop"]),
    )
