r"""A research estimator: the Gaussian PID of learned encodings of each modality and a one-hot label.

The idea of Flow-PID (Zhao et al. 2025): map each modality to an encoding whose pairwise marginal with the label is
near Gaussian, and solve the Gaussian PID (:mod:`pidengine.estimators.gaussian`) of the encodings. Here the
encoding of :math:`X_i` is what :class:`~pidengine.estimators.crossfit.CrossFitEstimator` already learns: its
out-of-fold calibrated posterior :math:`\hat p(y \mid x_i)`, as centred log-probabilities
:math:`E_i = \log \hat p(\cdot \mid x_i) - \overline{\log \hat p(\cdot \mid x_i)}` in the ``|Y| - 1`` dimensions
they span; the label is its one-hot vector with one column dropped. The parts are those of the Gaussian with the
sample covariance of :math:`(E_1, E_2, Y)`:

.. math::

    \hat\Sigma = \mathrm{Cov}(E_1, E_2, \mathbf{1}_Y), \qquad (R, U_1, U_2, S) = \mathrm{GPID}(\hat\Sigma).

Rows are resampled ``n_bootstrap`` times with the encodings fixed; each part is corrected by its bootstrap bias and
given the basic interval, and is ``significant`` when that interval lies above 0.

What it cannot be, by construction: a one-hot label is not Gaussian, so the Gaussian informations are those of the
best linear-Gaussian surrogate, not :math:`I(E_i; Y)` (they can lie above :math:`H(Y)` or far below the truth); and
the joint information is that of the linear-Gaussian model of :math:`(E_1, E_2)`, which cannot see an interaction
such as the XOR of a factor of each modality: a product of the encodings is not linear in them. The validation
suite's figures are in ``docs/accuracy.md`` ("A Gaussian PID on learned encodings"). Not registered in the
pipeline.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.estimators.constraints import Interval, check_params
from pidengine.estimators.crossfit import PROBABILITY_FLOOR, CrossFitEstimator
from pidengine.estimators.gaussian import gaussian_pid
from pidengine.estimators.intervals import MAX_TABLES, basic_bootstrap
from pidengine.exceptions import ConvergenceWarning, InvalidJointError
from pidengine.parts import PARTS, Decomposition

if TYPE_CHECKING:
    from pidengine.estimators.posterior import PosteriorSettings

_RANK_TOL = 1e-6  # an encoding's principal directions below this share of the largest singular value are dropped


@dataclass(frozen=True, eq=False)
class GaussianEncodingResult(Decomposition):
    """PID of continuous samples as the Gaussian PID of learned encodings, in bits; parts bias-corrected.

    Attributes
    ----------
    plugin : dict of str to float
        The parts of the full sample's covariance, before bias correction.
    intervals : dict of str to (float, float)
        Basic bootstrap intervals at level ``confidence``.
    significant : dict of str to bool
        Whether each part's interval lies above 0.
    gaussian_information : dict of str to float
        ``"x1"``, ``"x2"``, ``"joint"``: the Gaussian informations of the encodings with the label (bits).
    heldout_information : dict of str to float
        ``"x1"``, ``"x2"``: :math:`H(Y)` minus the held-out cross-entropy of each posterior (bits), a lower bound
        on :math:`I(X_i; Y)` beside which to read the Gaussian ones; empty for posteriors given from elsewhere.
    duality_gap : float
        The largest certified gap (bits) of the Gaussian solver over the point estimate and the resamples.
    samples : ndarray, shape (n_resamples, 5)
        Bootstrap replicates of R, U1, U2, S, total (uncorrected); resamples with a singular covariance are left
        out, with a :class:`~pidengine.exceptions.ConvergenceWarning`.
    """

    plugin: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    significant: dict[str, bool]
    confidence: float
    n_samples: int
    gaussian_information: dict[str, float]
    heldout_information: dict[str, float]
    duality_gap: float
    samples: NDArray[np.float64] = field(repr=False)
    estimator: str = field(default="gaussian-encodings", kw_only=True)
    negative_tol: ClassVar[float] = math.inf  # a bias-corrected part may fall below zero within its interval


class GaussianEncodingEstimator:
    """Gaussian PID of cross-fitted posterior encodings and a one-hot label (see the module docstring).

    Parameters
    ----------
    n_folds : int, default=5
    n_bootstrap : int, default=200
    confidence : float, default=0.95
    posterior : PosteriorSettings, optional
        How each modality's posterior is learned (the cross-fitted estimator's defaults).
    random_state : int, default=0
    """

    name = "gaussian-encodings"
    parameter_constraints: ClassVar[dict] = {
        "n_folds": Interval(int, ge=2, le=20),
        "n_bootstrap": Interval(int, ge=20, le=MAX_TABLES),
        "confidence": Interval(float, gt=0, lt=1),
        "random_state": Interval(int),
    }

    def __init__(
        self, *, n_folds: int = 5, n_bootstrap: int = 200, confidence: float = 0.95,
        posterior: PosteriorSettings | None = None, random_state: int = 0,
    ) -> None:
        self.n_folds = n_folds
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.posterior = posterior
        self.random_state = random_state

    def estimate(self, x1: ArrayLike, x2: ArrayLike, y: ArrayLike) -> GaussianEncodingResult:
        """PID of samples: ``x1`` (n, d1) and ``x2`` (n, d2) continuous features, ``y`` (n,) labels.

        Raises
        ------
        InvalidJointError
            For non-finite features, mismatched lengths, a single class, or fewer than 10 samples per fold.
        """
        check_params({k: getattr(self, k) for k in self.parameter_constraints}, self.parameter_constraints)
        learner = CrossFitEstimator(n_folds=self.n_folds, posterior=self.posterior, random_state=self.random_state)
        labels, posteriors, heldout = learner.out_of_fold_posteriors(x1, x2, y)
        return gaussian_pid_of_posteriors(posteriors[0], posteriors[1], labels, n_bootstrap=self.n_bootstrap,
                                          confidence=self.confidence, random_state=self.random_state,
                                          heldout_information=heldout)


def gaussian_pid_of_posteriors(
    posteriors1: NDArray[np.float64], posteriors2: NDArray[np.float64], labels: NDArray[np.int64], *,
    n_bootstrap: int = 200, confidence: float = 0.95, random_state: int = 0,
    heldout_information: dict[str, float] | None = None,
) -> GaussianEncodingResult:
    """The Gaussian PID of two modalities' posteriors (n, |Y|) as centred log-probabilities and the one-hot
    ``labels`` (n,) ``0 .. |Y| - 1``, with bootstrap bias correction and basic intervals (rows resampled, the
    posteriors fixed). The second half of :meth:`GaussianEncodingEstimator.estimate`, for posteriors from elsewhere
    (a user's own models, or the true ones of a known law)."""
    n, n_labels = len(labels), posteriors1.shape[1]
    if posteriors1.shape != (n, n_labels) or posteriors2.shape != (n, n_labels) or labels.max() >= n_labels:
        raise InvalidJointError(f"posteriors of shapes {posteriors1.shape} and {posteriors2.shape} do not match "
                                f"{n} labels in 0 .. {int(labels.max())}: both must be (n, |Y|)")
    basis = _contrasts(n_labels)
    blocks = [np.log(np.clip(p, PROBABILITY_FLOOR, None)) @ basis for p in (posteriors1, posteriors2)]
    blocks.append(np.eye(n_labels)[labels][:, :-1])

    def solve(rows: NDArray[np.intp]) -> tuple[NDArray[np.float64], float, dict[str, float]]:
        # Each block in the directions it spans in these rows (a code or label a resample lacks spans none); the
        # Gaussian PID is invariant to invertible maps of each block, so nothing else changes.
        spanned = [_principal(block[rows]) for block in blocks]
        cov = np.cov(np.hstack(spanned), rowvar=False)
        result = gaussian_pid(cov, spanned[0].shape[1], spanned[1].shape[1])
        return np.array([getattr(result, part) for part in PARTS]), result.duality_gap, result.informations

    point, gap, informations = solve(np.arange(n))
    replicates, gaps = [], [gap]
    for rows in np.random.default_rng(random_state).integers(0, n, (n_bootstrap, n)):
        try:
            parts, resample_gap, _ = solve(rows)
        except InvalidJointError:  # a label a linear function of the encodings in these rows: infinite information
            continue
        replicates.append(parts)
        gaps.append(resample_gap)
    if len(replicates) < n_bootstrap:
        warnings.warn(f"{n_bootstrap - len(replicates)} of {n_bootstrap} bootstrap resamples had a singular "
                      "covariance (the label linearly determined by the encodings) and are left out",
                      ConvergenceWarning, stacklevel=2)
    samples = np.array(replicates)
    basic = basic_bootstrap(point, samples, confidence)
    return GaussianEncodingResult(
        **{part: float(basic.corrected[i]) for i, part in enumerate(PARTS)},
        plugin={part: float(point[i]) for i, part in enumerate(PARTS)},
        intervals={part: (float(basic.low[i]), float(basic.high[i])) for i, part in enumerate(PARTS)},
        significant={part: bool(basic.significant[i]) for i, part in enumerate(PARTS)},
        confidence=confidence,
        n_samples=n,
        gaussian_information=informations,
        heldout_information=heldout_information or {},
        duality_gap=float(max(gaps)),
        samples=samples,
    )


def _principal(encoding: NDArray[np.float64]) -> NDArray[np.float64]:
    """``encoding``'s centred coordinates along its principal directions of non-negligible variance: posteriors
    that take fewer distinct values than classes (a modality with few codes) span fewer dimensions, and their
    covariance would be singular."""
    centred = encoding - encoding.mean(axis=0)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    keep = singular > _RANK_TOL * singular.max()
    return centred @ directions[keep].T


def _contrasts(n_labels: int) -> NDArray[np.float64]:
    """An orthonormal basis (n_labels, n_labels - 1) of the vectors summing to zero: log-probabilities projected on
    it are centred over the classes and lose nothing a softmax sees."""
    centring = np.eye(n_labels) - 1.0 / n_labels
    return np.linalg.svd(centring)[0][:, : n_labels - 1]
