"""Bootstrap bias correction and confidence intervals for the PID of discrete samples.

The PID of an empirical joint is a plug-in estimate, biased upward where cells are many for the samples. Resampling
the rows with replacement and solving every resampled joint estimates that bias and the sampling variability: each
part is corrected by its bootstrap bias and given the basic interval (:mod:`pidengine.estimators.intervals`), and a
part whose interval lies above 0 is flagged significant.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.estimators import BasePIDEstimator, ExactEstimator, PIDResult, get_estimator
from pidengine.estimators.constraints import Interval, check_params
from pidengine.estimators.exact_many import ExactManyEstimator
from pidengine.estimators.intervals import MAX_TABLES, basic_bootstrap, information_lower_bounds
from pidengine.estimators.progress import Progress, ProgressFn, check_progress
from pidengine.exceptions import ConvergenceWarning, EstimationError
from pidengine.joint import JointTable, joint_from_samples
from pidengine.parts import PARTS, PartEstimate, flatten_parts

# Resamples drawn and solved together by the vectorised exact estimator (bounds memory whatever their number).
BATCH_SIZE = 500
MIN_SHOWN_BATCH = 20
# The bounds of bootstrap_pid's parameters, which the pipeline's exact settings (pidengine.quantify) share.
BOOTSTRAP_CONSTRAINTS = {
    "n_resamples": Interval(int, ge=2, le=MAX_TABLES),
    "n_permutations": Interval(int, ge=0, le=MAX_TABLES),
    "confidence": Interval(float, gt=0, lt=1),
}


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """A bias-corrected PID estimate with basic bootstrap intervals, in bits.

    Attributes
    ----------
    estimate : PIDResult
        The plug-in PID of the full sample, with its certificate.
    corrected : dict of str to float
        Every part of :data:`PARTS` corrected by its bootstrap bias. Not clipped: a part within its interval of 0
        may be slightly negative.
    intervals : dict of str to (float, float)
        Basic intervals at level ``confidence``, centred where ``corrected`` is.
    significant : dict of str to bool
        Whether each part's interval lies above 0 and, when the permutation null was computed, its plug-in value
        also above the ``confidence`` quantile of its permuted values.
    confidence : float
        Coverage of the intervals, e.g. 0.95.
    samples : ndarray, shape (n_certified, 5)
        R, U1, U2, S and total of every certified resample, columns in the order of :data:`PARTS`.
    n_resamples : int
        Resamples drawn.
    n_failed : int
        Resamples whose estimate could not be certified; they are left out (with a warning).
    information_lower : dict of str to float
        One-sided lower confidence bounds at level ``confidence`` of :math:`I(X_1; Y)` (``"x1"``),
        :math:`I(X_2; Y)` (``"x2"``) and :math:`I(X_1, X_2; Y)` (``"joint"``) of the samples' law
        (:func:`~pidengine.estimators.intervals.information_lower_bounds`; with the permutation null, its mean
        bounds the bias, which the bootstrap under-corrects on sparse tables). Where the samples are codes of
        continuous features, codes can only lose information, so these bound the features' informations too,
        whatever the discretisation lost.
    null : ndarray, shape (n_certified, 5), optional
        The permutation null (:func:`permutation_null`), when it was computed.
    """

    estimate: PIDResult
    corrected: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    significant: dict[str, bool]
    confidence: float
    samples: NDArray[np.float64] = field(repr=False)
    n_resamples: int
    n_failed: int
    information_lower: dict[str, float]
    null: NDArray[np.float64] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, float | int | str | bool | None]:
        """Flat, JSON-ready: the plug-in estimate's fields with each part replaced by its corrected value, and
        ``plugin_<part>``, ``<part>_low``, ``<part>_high``, ``<part>_significant`` for every part, and
        ``shuffled_<part>`` (the mean of the permutation null) when it was computed."""
        flat = self.estimate.to_dict()
        shuffled = dict(zip(PARTS, self.null.mean(axis=0).tolist())) if self.null is not None else {}
        flat.update(flatten_parts({
            part: PartEstimate(self.corrected[part], *self.intervals[part], significant=self.significant[part],
                               plugin=flat[part], shuffled=shuffled.get(part)) for part in PARTS
        }))
        flat.update(confidence=self.confidence, n_resamples=self.n_resamples, n_failed=self.n_failed,
                    **{f"information_lower_{k}": v for k, v in self.information_lower.items()})
        return flat


def _estimate_all(estimator: BasePIDEstimator, joints: NDArray, n_samples: int) -> list[PIDResult | None]:
    """Every joint's PID, None where it cannot be certified; one vectorised batch for the exact estimator."""
    if isinstance(estimator, ExactEstimator):
        many = ExactManyEstimator(
            max_iter=estimator.max_iter,
            progress=estimator.progress,
            tol=estimator.tol,
            marginal_tol=estimator.marginal_tol,
            on_failure="warn",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return [r if r.certificate.certified else None for r in many.estimate_many(joints, n_samples=n_samples)]
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
    n_permutations: int = 0,
    confidence: float = 0.95,
    estimator: BasePIDEstimator | None = None,
    random_state: int | np.random.Generator | None = None,
    progress: bool | ProgressFn = False,
) -> BootstrapResult:
    """PID of discrete samples, bias-corrected, with basic bootstrap intervals and a significance flag per part.

    Parameters
    ----------
    x1, x2, y : array_like, shape (n_samples,)
        Discrete samples (see :func:`pidengine.joint_from_samples`).
    n_resamples : int, default=1000
        Number of resamples of the rows, drawn with replacement.
    n_permutations : int, default=0
        Label permutations for the null (:func:`permutation_null`). With them a part is significant only when its
        plug-in value also exceeds the ``confidence`` quantile of its permuted values: where cells outnumber
        samples the bootstrap under-corrects the bias, and the permutation test still holds its level.
    confidence : float, default=0.95
        Coverage of the two-sided intervals.
    estimator : BasePIDEstimator, optional
        Defaults to ``get_estimator("auto")``. The exact estimator solves the resamples as vectorised batches
        (:class:`~pidengine.estimators.exact_many.ExactManyEstimator`, on a GPU when present).
    random_state : int or numpy Generator, optional
        Seed for reproducible resampling.
    progress : bool or callable, default=False
        ``True`` shows a bar per stage (the resamples, then the permutations) with the time left; a callable is
        called after every batch of tables as ``progress(stage, tables_done, n_tables, tables_certified)``.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ConfigError
        If ``n_resamples < 2``, ``n_permutations < 0`` or ``confidence`` is not in (0, 1).
    EstimationError
        If the full sample's estimate, or every resample, fails to certify.
    """
    check_params({"n_resamples": n_resamples, "n_permutations": n_permutations, "confidence": confidence},
                 BOOTSTRAP_CONSTRAINTS)
    estimator = estimator if estimator is not None else get_estimator("auto")
    rng = np.random.default_rng(random_state)
    table, codes = _table_and_cells(x1, x2, y)
    estimate = estimator.estimate(table.pmf, n_samples=table.n_samples)
    n = table.n_samples
    check_progress(progress)
    samples = _solve_all(estimator, lambda: np.bincount(codes[rng.integers(0, n, n)], minlength=table.pmf.size),
                         n_resamples, table, "bootstrap resamples", progress)
    plugin = np.array([getattr(estimate, part) for part in PARTS])
    basic = basic_bootstrap(plugin, samples, confidence)
    significant = basic.significant
    null = None
    if n_permutations:
        null = _permutation_null(estimator, table, codes, n_permutations, rng, progress)
        significant = significant & (plugin > np.quantile(null, confidence, axis=0))
    return BootstrapResult(
        estimate,
        corrected={part: float(value) for part, value in zip(PARTS, basic.corrected)},
        intervals={part: (float(lo), float(hi)) for part, lo, hi in zip(PARTS, basic.low, basic.high)},
        significant={part: bool(flag) for part, flag in zip(PARTS, significant)},
        confidence=confidence,
        samples=samples,
        n_resamples=n_resamples,
        n_failed=n_resamples - len(samples),
        null=null,
        information_lower=information_lower_bounds(plugin, samples, confidence, null),
    )


def permutation_null(
    x1: ArrayLike,
    x2: ArrayLike,
    y: ArrayLike,
    *,
    n_permutations: int = 100,
    estimator: BasePIDEstimator | None = None,
    random_state: int | np.random.Generator | None = None,
) -> NDArray[np.float64]:
    r"""The PID of the samples with the labels randomly permuted, ``n_permutations`` times: the null, in bits.

    Permuting :math:`y` over the rows keeps both marginals, :math:`p(x_1, x_2)` and :math:`p(y)`, and breaks every
    dependence between them, so the true decomposition of the shuffled data is zero in every part. What the
    estimator still reports is the plug-in bias of a joint with this many cells and samples,

    .. math::

        \mathbb{E}\,\hat I(X_1, X_2; Y_\pi) \approx \frac{(k_{12} - 1)(|Y| - 1)}{2 n \ln 2}
        \quad \text{bits}, \qquad k_{12} = \#\{(x_1, x_2) : \hat p(x_1, x_2) > 0\},

    (Miller's correction), split over the four parts by the decomposition: a part of the real estimate that is
    not clearly above its permuted values is not evidence of that interaction.

    Parameters
    ----------
    x1, x2, y : array_like, shape (n_samples,)
        Discrete samples (see :func:`pidengine.joint_from_samples`).
    n_permutations : int, default=100
    estimator : BasePIDEstimator, optional
        Defaults to ``get_estimator("auto")``.
    random_state : int or numpy Generator, optional
        Seed of the permutations.

    Returns
    -------
    ndarray, shape (n_certified, 5)
        R, U1, U2, S and total of every permutation whose estimate was certified, columns in the order of
        :data:`PARTS`.
    """
    Interval(int, ge=1, le=MAX_TABLES).check("n_permutations", n_permutations)
    estimator = estimator if estimator is not None else get_estimator("auto")
    rng = np.random.default_rng(random_state)
    return _permutation_null(estimator, *_table_and_cells(x1, x2, y), n_permutations, rng)


def _permutation_null(
    estimator: BasePIDEstimator, table: JointTable, cells: NDArray[np.int64], n_permutations: int,
    rng: np.random.Generator, progress: bool | ProgressFn = False,
) -> NDArray[np.float64]:
    n_labels = table.pmf.shape[2]
    pairs, labels = np.divmod(cells, n_labels)
    return _solve_all(estimator,
                      lambda: np.bincount(pairs * n_labels + rng.permutation(labels), minlength=table.pmf.size),
                      n_permutations, table, "label permutations", progress)


def _table_and_cells(x1: ArrayLike, x2: ArrayLike, y: ArrayLike) -> tuple[JointTable, NDArray[np.int64]]:
    """The samples' joint table, and each row's flat cell index in it (so resampled rows fill tables of its shape)."""
    table = joint_from_samples(x1, x2, y)
    cells = np.ravel_multi_index(
        [
            np.searchsorted(values, np.asarray(raw))
            for values, raw in zip((table.values1, table.values2, table.values_y), (x1, x2, y))
        ],
        table.pmf.shape,
    )
    return table, cells


def _solve_all(
    estimator: BasePIDEstimator, draw: Callable[[], NDArray[np.int64]], n_tables: int, table: JointTable, what: str,
    progress: bool | ProgressFn = False,
) -> NDArray[np.float64]:
    """R, U1, U2, S, total of ``n_tables`` count tables (each ``draw()``, flat), warning about those not certified.

    The tables are drawn and solved ``BATCH_SIZE`` at a time, so memory does not grow with ``n_tables``."""
    rows = []
    bar = Progress(progress, what, n_tables, "table", "certified")
    # A bar that moves once is no bar: shown, it advances in tenths (each still solved as one vectorised batch).
    batch = min(BATCH_SIZE, max(MIN_SHOWN_BATCH, -(-n_tables // 10))) if bar.active else BATCH_SIZE
    try:
        for start in range(0, n_tables, batch):
            size = min(batch, n_tables - start)
            counts = np.stack([draw() for _ in range(size)]).reshape((size, *table.pmf.shape))
            rows += [[getattr(result, part) for part in PARTS]
                     for result in _estimate_all(estimator, counts, table.n_samples) if result is not None]
            bar.update(start + size, len(rows), advance=size)
    finally:
        bar.close()
    if not rows:
        raise EstimationError(f"none of the {n_tables} {what} could be certified")
    if len(rows) < n_tables:
        warnings.warn(
            f"{n_tables - len(rows)} of {n_tables} {what} could not be certified and are left out",
            ConvergenceWarning,
            stacklevel=3,
        )
    return np.asarray(rows)
