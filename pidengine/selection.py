r"""Model selection from a dataset's PID (Liang et al., 2023, §5).

A reference table lists synthetic datasets with their PID and the test accuracy of every model family on them.
For a new dataset, its PID is normalised to proportions
:math:`\bar\pi = (R, U_1, U_2, S) / (R + U_1 + U_2 + S)`, the reference dataset nearest in L1 distance
:math:`\lVert \bar\pi - \bar\pi_{\mathrm{ref}} \rVert_1` is found, and its ``k`` best families are recommended.
The selection score of a recommendation on a dataset where all families were trained is

.. math:: 100 \times \max_{f \in \text{recommended}} \mathrm{acc}(f) \,/\, \max_{f} \mathrm{acc}(f).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pidengine.estimators.base import ATOMS
from pidengine.exceptions import ConfigError, InvalidJointError


def normalized_pid(pid: dict[str, float]) -> NDArray[np.float64]:
    """(R, U1, U2, S) as proportions of their sum.

    Parts below zero are estimator noise (certified within the solver's tolerance); they count as 0 here so the
    proportions stay a distribution.
    """
    missing = [part for part in ATOMS if part not in pid]
    if missing:
        raise InvalidJointError(f"the PID lacks {missing}; it needs {list(ATOMS)}")
    parts = np.array([max(float(pid[part]), 0.0) for part in ATOMS])
    if not np.isfinite(parts).all():
        raise InvalidJointError(f"the PID has non-finite parts: {pid}")
    total = parts.sum()
    if total <= 1e-9:
        raise InvalidJointError("the PID is zero: the modalities carry no information about the label to compare")
    return parts / total


@dataclass(frozen=True)
class ReferenceRow:
    """One reference dataset: its PID (bits) and each family's test accuracy on it."""

    dataset: str
    pid: dict[str, float]
    accuracy: dict[str, float]

    def ranked_families(self) -> list[str]:
        """Families from best to worst accuracy (ties broken by name, so the order is reproducible)."""
        return sorted(self.accuracy, key=lambda family: (-self.accuracy[family], family))


@dataclass(frozen=True)
class Recommendation:
    """The recommended families for one dataset, with the evidence behind them."""

    dataset: str
    families: tuple[str, ...]
    nearest: str
    distance: float
    neighbours: tuple[tuple[str, float], ...]
    """Every reference dataset with its L1 distance, nearest first."""


def recommend(dataset: str, pid: dict[str, float], reference: list[ReferenceRow], k: int = 3) -> Recommendation:
    """The ``k`` best families of the reference dataset whose normalised PID is nearest (L1) to ``pid``."""
    if not reference:
        raise ConfigError("the reference table is empty; build it from the synthetic datasets first")
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    target = normalized_pid(pid)
    distances = sorted(
        ((row.dataset, float(np.abs(normalized_pid(row.pid) - target).sum())) for row in reference),
        key=lambda item: (item[1], item[0]),
    )
    nearest = next(row for row in reference if row.dataset == distances[0][0])
    return Recommendation(dataset, tuple(nearest.ranked_families()[:k]), nearest.dataset, distances[0][1], tuple(distances))


def selection_score(recommended: tuple[str, ...] | list[str], accuracy: dict[str, float]) -> float:
    """100 × best accuracy among the recommended families ÷ best accuracy of all families."""
    unknown = [family for family in recommended if family not in accuracy]
    if unknown:
        raise ConfigError(f"no accuracy for recommended families {unknown}; trained: {sorted(accuracy)}")
    best = max(accuracy.values())
    if best <= 0:
        raise InvalidJointError("every family has accuracy 0; the score is undefined")
    return 100.0 * max(accuracy[family] for family in recommended) / best
