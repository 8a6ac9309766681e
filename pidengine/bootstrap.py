"""Bootstrap confidence intervals for the PID of discrete samples.

The PID of an empirical joint is a plug-in estimate; its sampling variability is what a user needs to judge a
difference between two datasets or two models. Resampling the rows with replacement, solving every resampled
joint, and reading percentiles of each part gives the standard percentile interval (Efron & Tibshirani, 1993).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.estimators import BasePIDEstimator, ExactEstimator, PIDResult, get_estimator
from pidengine.estimators.base import ATOMS
from pidengine.estimators.batched import BatchedExactEstimator
from pidengine.exceptions import ConfigError, ConvergenceWarning, EstimationError
from pidengine.joint import joint_from_samples

PARTS = (*ATOMS, "total")
# Resamples solved together by the batched exact estimator (bounds its memory).
BATCH_SIZE = 500


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """A PID estimate with percentile confidence intervals, in bits.

    Attributes
    ----------
    estimate : PIDResult
        The PID of the full sample.
    intervals : dict of str to (float, float)
        ``{"redundancy": (low, high), ..., "total": (low, high)}`` at level ``confidence``.
    confidence : float
        Coverage of the intervals, e.g. 0.95.
    samples : ndarray, shape (n_certified, 5)
        R, U1, U2, S and total of every certified resample, columns in the order of :data:`PARTS`.
    n_resamples : int
        Resamples drawn.
    n_failed : int
        Resamples whose estimate could not be certified; they are left out of the intervals (with a warning).
    """

    estimate: PIDResult
    intervals: dict[str, tuple[float, float]]
    confidence: float
    samples: NDArray[np.float64] = field(repr=False)
    n_resamples: int
    n_failed: int

    def to_dict(self) -> dict[str, float | int | str | bool | None]:
        """Flat, JSON-ready: the estimate's fields plus ``<part>_low`` and ``<part>_high`` for every part."""
        flat = self.estimate.to_dict()
        for part, (low, high) in self.intervals.items():
            flat[f"{part}_low"], flat[f"{part}_high"] = low, high
        flat.update(confidence=self.confidence, n_resamples=self.n_resamples, n_failed=self.n_failed)
        return flat


def _estimate_all(estimator: BasePIDEstimator, joints: NDArray, n_samples: int) -> list[PIDResult | None]:
    """Every joint's PID, None where it cannot be certified; one vectorised batch for the exact estimator."""
    if isinstance(estimator, ExactEstimator):
        batched = BatchedExactEstimator(
            max_iter=estimator.max_iter,
            progress=estimator.progress,
            tol=estimator.tol,
            marginal_tol=estimator.marginal_tol,
            on_failure="warn",
        )
        results: list[PIDResult | None] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for start in range(0, len(joints), BATCH_SIZE):
                batch = batched.estimate_many(joints[start : start + BATCH_SIZE], n_samples=n_samples)
                results += [r if r.certificate.certified else None for r in batch]
        return results
    results = []
    for joint in joints:
        try:
            results.append(estimator.estimate(joint, n_samples=n_samples))
        except EstimationError:
            results.append(None)
    return results


def bootstrap_pid(
    x1: ArrayLike,
    x2: ArrayLike,
    y: ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    estimator: BasePIDEstimator | None = None,
    random_state: int | np.random.Generator | None = None,
) -> BootstrapResult:
    """PID of discrete samples with percentile bootstrap intervals for every part.

    Parameters
    ----------
    x1, x2, y : array_like, shape (n_samples,)
        Discrete samples (see :func:`pidengine.joint_from_samples`).
    n_resamples : int, default=1000
        Number of resamples of the rows, drawn with replacement.
    confidence : float, default=0.95
        Coverage of the two-sided percentile intervals.
    estimator : BasePIDEstimator, optional
        Defaults to ``get_estimator("auto")``. The exact estimator solves the resamples as vectorised batches
        (:class:`~pidengine.estimators.batched.BatchedExactEstimator`, on a GPU when present).
    random_state : int or numpy Generator, optional
        Seed for reproducible resampling.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ConfigError
        If ``n_resamples < 2`` or ``confidence`` is not in (0, 1).
    EstimationError
        If the full sample's estimate, or every resample, fails to certify.
    """
    if not (isinstance(n_resamples, (int, np.integer)) and n_resamples >= 2):
        raise ConfigError(f"n_resamples must be an integer >= 2, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    estimator = estimator if estimator is not None else get_estimator("auto")
    rng = np.random.default_rng(random_state)
    table = joint_from_samples(x1, x2, y)
    estimate = estimator.estimate(table.pmf, n_samples=table.n_samples)
    # Codes on the full sample's value grid, so every resample is a joint of the same shape.
    codes = np.ravel_multi_index(
        [
            np.searchsorted(values, np.asarray(raw))
            for values, raw in zip((table.values1, table.values2, table.values_y), (x1, x2, y))
        ],
        table.pmf.shape,
    )
    n = table.n_samples
    resampled = np.stack(
        [np.bincount(codes[rng.integers(0, n, n)], minlength=table.pmf.size) for _ in range(n_resamples)]
    ).reshape((n_resamples, *table.pmf.shape))
    rows, failures = [], 0
    for result in _estimate_all(estimator, resampled, n):
        if result is None:
            failures += 1
        else:
            rows.append([getattr(result, part) for part in PARTS])
    if not rows:
        raise EstimationError(f"none of the {n_resamples} bootstrap resamples could be certified")
    if failures:
        warnings.warn(
            f"{failures} of {n_resamples} bootstrap resamples could not be certified and are left out of the intervals",
            ConvergenceWarning,
            stacklevel=2,
        )
    samples = np.asarray(rows)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    intervals = {part: (float(lo), float(hi)) for part, lo, hi in zip(PARTS, low, high)}
    return BootstrapResult(estimate, intervals, confidence, samples, n_resamples, failures)


def shuffled_pid(
    x1: ArrayLike,
    x2: ArrayLike,
    y: ArrayLike,
    *,
    estimator: BasePIDEstimator | None = None,
    random_state: int | np.random.Generator | None = None,
) -> PIDResult:
    r"""The PID of the samples with the labels randomly permuted: a null baseline, in bits.

    Permuting :math:`y` over the rows keeps both marginals, :math:`p(x_1, x_2)` and :math:`p(y)`, and breaks every
    dependence between them, so the true decomposition of the shuffled data is zero in every part. What the
    estimator still reports is the plug-in bias of a joint with this many cells and samples,

    .. math::

        \mathbb{E}\,\hat I(X_1, X_2; Y_\pi) \approx \frac{(k_{12} - 1)(|Y| - 1)}{2 n \ln 2}
        \quad \text{bits}, \qquad k_{12} = \#\{(x_1, x_2) : \hat p(x_1, x_2) > 0\},

    (Miller's correction), split over the four parts by the decomposition: a part of the real estimate that is
    not clearly above its shuffled value is not evidence of that interaction.

    Parameters
    ----------
    x1, x2, y : array_like, shape (n_samples,)
        Discrete samples (see :func:`pidengine.joint_from_samples`).
    estimator : BasePIDEstimator, optional
        Defaults to ``get_estimator("auto")``.
    random_state : int or numpy Generator, optional
        Seed of the permutation.

    Returns
    -------
    PIDResult
    """
    estimator = estimator if estimator is not None else get_estimator("auto")
    return estimator.estimate_samples(x1, x2, np.random.default_rng(random_state).permutation(np.asarray(y)))
