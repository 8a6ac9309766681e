r"""The cross-fitted estimator: the PID of continuous data through codes learned from the label.

Why not cluster the features? k-means codes keep whatever varies most, which in real data is often not what the
label depends on (style, lighting, speaker), so their PID is the PID of an arbitrary clustering. Codes built from
the posterior :math:`p(y \mid x_i)` keep exactly the label-relevant part: the posterior is a sufficient statistic of
:math:`X_i` for :math:`Y`, and BROJA's redundancy and unique informations depend on each modality only through its
channel :math:`p(x_i \mid y)` up to such statistics (see :mod:`pidengine.datasets.hidden_codes`). Synergy needs
:math:`I(X_1, X_2; Y)`, which no pair of unimodal statistics holds (XOR), so it comes from a joint classifier.

Steps, for ``n_folds`` stratified folds:

1. **Cross-fitted posteriors.** For each fold, classifiers of :math:`y` from :math:`x_1`, from :math:`x_2` and
   from both (:func:`~pidengine.estimators.posterior.fit_posterior`: input scaling, capacity and epochs chosen on
   validation cross-entropy, temperature-scaled; for both, fusion networks of per-modality encoders, one with
   the outer product of the encodings, are candidates) are trained on the other folds and predict the fold. No
   sample's posterior saw its own label, so a table built from them has only the plug-in bias of a table of that
   size.
2. **Codes.** Each modality's posteriors are clustered into ``n_codes`` codes by k-means in the KL divergence
   (Dhillon et al. 2003: the clustering that loses least :math:`I(X_i; Y)`); ``n_codes="auto"`` takes the most
   codes whose plug-in bias on :math:`I(C_i; Y)`, :math:`(k - 1)(|Y| - 1) / (2 n \ln 2)`, stays under
   ``bias_budget`` bits.
3. **Union information.** The exact solver on the table of (code 1, code 2, label) gives R, U1 and U2, which depend
   only on its pairwise margins.
4. **Joint information.** :math:`\hat I(X_1, X_2; Y) = \hat H(Y) - \overline{\mathrm{CE}}`, the held-out
   cross-entropy of the joint classifier (a lower bound, tight for a calibrated posterior);
   :math:`S = \hat I(X_1, X_2; Y) - (R + U_1 + U_2)`, where :math:`\hat I(X_1, X_2; Y)` is the larger of the joint
   classifier's bound, the bound of a cross-fitted model of the label from the code pair, and the union information
   itself (which it cannot fall below).
5. **Bias correction and intervals.** The rows are resampled ``n_bootstrap`` times with the codes and held-out
   losses fixed; each part is corrected by the bootstrap estimate of its bias and given the basic interval
   (:mod:`pidengine.estimators.intervals`). A part is ``significant`` when its interval lies above 0.
6. **Learning-curve check** (``learning_fraction``, default 0.5). Steps 1–4 are repeated with every model learnt
   from that share of each training fold, scored on the same held-out folds and resampled with the same rows. An
   information that still grew from there to the full folds (by more than :data:`GAIN_FLOOR` bits and
   :data:`GAIN_Z` paired-bootstrap standard deviations) marks every part computed from it ``learning_limited``
   (:class:`LearningCurve`), with a :class:`~pidengine.exceptions.LearningLimitedWarning`.

What the interval does not hold: the variability of the learned codes and classifiers (the folds are fitted once),
nor what they have yet to learn. Where the classifiers have not learnt the posterior, every part is biased (on the
validation suite, low) by what they missed; the learning-curve check flags where that is still moving. A part that
is not flagged is not thereby accurate: an interaction no classifier has started to find (an XOR plateau) does not
grow either. The held-out informations in :attr:`CrossFitResult.diagnostics` show how much each classifier found.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.datasets.types import MultimodalData, is_text
from pidengine.estimators.base import Certificate, PIDResult
from pidengine.estimators.constraints import Interval, check_params
from pidengine.estimators.exact_many import ExactManyEstimator
from pidengine.estimators.intervals import (
    INFORMATIONS,
    MAX_TABLES,
    PARTS_TO_INFORMATIONS,
    basic_bootstrap,
    information_lower_bounds,
)
from pidengine.exceptions import (
    ConfigError,
    ConvergenceWarning,
    EstimationError,
    InvalidJointError,
    LearningLimitedWarning,
)
from pidengine.info import entropy
from pidengine.parts import LN2, PARTS, Decomposition, PartEstimate, flatten_parts

# scikit-learn, and torch for the posteriors, load where the estimator computes: the pipeline's settings read its
# parameters and their bounds without them.
if TYPE_CHECKING:
    from pidengine.estimators.posterior import PosteriorSettings

MAX_CODES = 64
GAIN_FLOOR, GAIN_Z = 0.02, 2.0  # an information grew when its gain exceeds this many bits and standard deviations
_KL_ITERATIONS = 50
PROBABILITY_FLOOR = 1e-6  # posteriors are clipped here before logs: a calibrated net never claims more certainty


@dataclass(frozen=True, eq=False)
class _Learned:
    codes: list[NDArray[np.int64]]
    joint_loss: NDArray[np.float64]  # each row's held-out log-loss (bits) under the better joint model
    joint_model: str
    posteriors: dict[str, NDArray[np.float64]]
    capacities: dict[str, list[str]]


@dataclass(frozen=True)
class CrossFitDiagnostics:
    """What the learned half found: held-out informations (bits) and the classifiers chosen."""

    heldout_information: dict[str, float]  # "x1", "x2", "joint", "codes": H(Y) − held-out cross-entropy, bits
    joint_model: str  # which held-out model gave I(X1, X2; Y): "joint" (the classifier) or "codes" (code pairs)
    capacities: dict[str, list[str]]  # per classifier and fold, the one chosen: FittedPosterior.label
    code_information: dict[str, float]  # "x1", "x2": plug-in I(C_i; Y) of the codes, bits
    n_failed_resamples: int
    certificate: Certificate  # the exact solver's, for the full sample's code table
    synergy_bounded_only: bool  # the joint models found less than the union: S is 0 here, a lower bound only


@dataclass(frozen=True, eq=False)
class LearningCurve:
    """The estimate relearnt from ``fraction`` of each training fold, and what grew from there to the full folds.

    ``information_gain``: how much each information the parts are computed from grew (bits, full minus reduced
    plug-in): ``x1`` and ``x2`` the code informations :math:`I(C_i; Y)`, ``joint`` the held-out
    :math:`I(X_1, X_2; Y)`. An information is ``learning_limited`` when its gain exceeds both
    :data:`GAIN_FLOOR` bits and :data:`GAIN_Z` paired-bootstrap standard deviations; R, U1 and U2 (computed from
    both codes) are flagged when either code information is, S and the total when any information is, or when the
    joint models found less than the union information while the total is significant (``synergy_bounded_only``:
    the joint models have not even learnt what the codes show).
    """

    fraction: float
    plugin: dict[str, float]  # each part, uncorrected, at the reduced training size
    gain: dict[str, float]  # each part: full minus reduced plug-in, bits
    information_gain: dict[str, float]  # "x1", "x2", "joint"
    information_gain_std: dict[str, float]  # paired bootstrap standard deviation of each information gain
    information_limited: dict[str, bool]
    learning_limited: dict[str, bool]  # each part
    heldout_information: dict[str, float]  # as CrossFitDiagnostics.heldout_information, at the reduced size
    seconds: float
    samples: NDArray[np.float64] = field(repr=False)  # bootstrap replicates at the reduced size, same rows


@dataclass(frozen=True, eq=False)
class CrossFitResult(Decomposition):
    """PID of continuous samples by the cross-fitted estimator, in bits: the parts and the total
    (:class:`~pidengine.parts.Decomposition`) are bias-corrected estimates, ``total`` their sum.

    Attributes
    ----------
    plugin : dict of str to float
        The same parts before bias correction.
    intervals : dict of str to (float, float)
        Basic bootstrap intervals at level ``confidence``.
    significant : dict of str to bool
        Whether each part's interval lies above 0.
    n_codes : tuple of int
        Codes of x1 and x2.
    samples : ndarray, shape (n_resamples, 5)
        The bootstrap replicates of R, U1, U2, S and total (uncorrected), columns in the order of :data:`PARTS`.
    information_lower : dict of str to float
        One-sided lower confidence bounds at level ``confidence`` of :math:`I(X_1; Y)` (``"x1"``),
        :math:`I(X_2; Y)` (``"x2"``) and :math:`I(X_1, X_2; Y)` (``"joint"``), bits. Codes and held-out losses can
        only lose information, so these bounds hold whatever the classifiers missed; the parts' intervals do not.
    learning : LearningCurve or None
        The learning-curve check (``learning_fraction``): what each part and information gained from a reduced to
        the full training folds, and which parts are ``learning_limited`` (their intervals then hold sampling
        error only, not what the classifiers have yet to learn). None when the check was not run.
    """

    plugin: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    significant: dict[str, bool]
    confidence: float
    n_samples: int
    n_codes: tuple[int, int]
    diagnostics: CrossFitDiagnostics
    information_lower: dict[str, float]
    samples: NDArray[np.float64] = field(repr=False)
    estimator: str = field(default="crossfit", kw_only=True)
    # A bias-corrected part may fall below zero by as much as its interval allows: `check` tests the sum only.
    negative_tol: ClassVar[float] = math.inf
    learning: LearningCurve | None = None

    def to_dict(self) -> dict[str, float | int | str | bool]:
        """Flat, JSON-ready: each part with ``_low``, ``_high``, ``_significant`` and ``plugin_`` companions."""
        flat: dict[str, float | int | str | bool] = {"estimator": self.estimator, "units": self.units}
        curve = self.learning
        flat.update(flatten_parts({
            part: PartEstimate(getattr(self, part), *self.intervals[part], significant=self.significant[part],
                               plugin=self.plugin[part], learning_gain=curve.gain[part] if curve else None,
                               learning_limited=curve.learning_limited[part] if curve else None)
            for part in PARTS
        }))
        certificate = self.diagnostics.certificate
        flat.update(
            confidence=self.confidence, n_samples=self.n_samples, n_codes1=self.n_codes[0], n_codes2=self.n_codes[1],
            certified=certificate.certified, duality_gap_bits=certificate.duality_gap,
            marginal_violation=certificate.marginal_violation,
            synergy_bounded_only=self.diagnostics.synergy_bounded_only,
            **{f"heldout_information_{k}": v for k, v in self.diagnostics.heldout_information.items()},
            **{f"information_lower_{k}": v for k, v in self.information_lower.items()},
        )
        if curve is not None:
            flat.update(learning_fraction=curve.fraction,
                        **{f"learning_gain_{k}": v for k, v in curve.information_gain.items()})
        return flat


class CrossFitEstimator:
    """PID of continuous two-modality samples from cross-fitted, label-learned codes (see the module docstring).

    Parameters
    ----------
    n_folds : int, default=5
        Folds of the cross-fitting, from 2 to 20.
    n_codes : int or "auto", default="auto"
        Codes per modality; ``"auto"`` chooses from the number of samples and labels (``bias_budget``).
    bias_budget : float, default=0.02
        Largest plug-in bias (bits) of one modality's code table that ``n_codes="auto"`` accepts.
    n_bootstrap : int, default=200
        Resamples of the code table, from 20 to 100,000.
    confidence : float, default=0.95
    posterior : PosteriorSettings, optional
    random_state : int, default=0
    learning_fraction : float or None, default=0.5
        Relearn every classifier and code model from this share of each training fold and flag the parts whose
        informations still grew from there to the full folds (:class:`LearningCurve`); about 50–90 % more time.
        None: no check.
    """

    name = "crossfit"

    def __init__(
        self,
        *,
        n_folds: int = 5,
        n_codes: int | str = "auto",
        bias_budget: float = 0.02,
        n_bootstrap: int = 200,
        confidence: float = 0.95,
        posterior: PosteriorSettings | None = None,
        random_state: int = 0,
        learning_fraction: float | None = 0.5,
    ) -> None:
        from pidengine.estimators.posterior import PosteriorSettings

        self.n_folds = n_folds
        self.n_codes = n_codes
        self.bias_budget = bias_budget
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.posterior = posterior if posterior is not None else PosteriorSettings()
        self.random_state = random_state
        self.learning_fraction = learning_fraction

    parameter_constraints: ClassVar[dict[str, Interval]] = {
        "n_folds": Interval(int, ge=2, le=20, reason="each fold trains three classifiers"),
        "bias_budget": Interval(float, gt=0, lt=1),
        "n_bootstrap": Interval(int, ge=20, le=MAX_TABLES),
        "confidence": Interval(float, gt=0, lt=1),
        "learning_fraction": Interval(float, ge=0.1, le=0.9, none=True),
        "random_state": Interval(int),
    }

    def _validate_params(self) -> None:
        check_params(vars(self), self.parameter_constraints)
        if self.n_codes != "auto" and not (isinstance(self.n_codes, int) and 2 <= self.n_codes <= MAX_CODES):
            raise ConfigError(f"n_codes must be 'auto' or an integer from 2 to {MAX_CODES}, got {self.n_codes!r}")

    def codes_for(self, n_samples: int, n_labels: int) -> int:
        """Codes per modality: ``n_codes``, or the most whose table's plug-in bias stays within ``bias_budget``."""
        if self.n_codes != "auto":
            return int(self.n_codes)
        affordable = 1 + int(self.bias_budget * 2 * n_samples * LN2 / max(n_labels - 1, 1))
        return int(np.clip(affordable, 2, MAX_CODES))

    def estimate(self, x1: ArrayLike, x2: ArrayLike, y: ArrayLike) -> CrossFitResult:
        """PID of samples: ``x1`` (n, d1) and ``x2`` (n, d2) continuous features, ``y`` (n,) labels.

        Raises
        ------
        InvalidJointError
            For non-finite features, mismatched lengths, a single class, or fewer than 10 samples per fold.
        EstimationError
            If the code table cannot be certified.
        """
        self._validate_params()
        x1, x2, labels = _check_samples(x1, x2, y, self.n_folds)
        n, n_labels = len(labels), int(labels.max()) + 1
        folds = self._folds(labels)
        k = self.codes_for(n, n_labels)
        learned = self._learn(x1, x2, labels, n_labels, folds, k)
        codes, joint_loss = learned.codes, learned.joint_loss
        shape = (k, k, n_labels)
        cells = np.ravel_multi_index((codes[0], codes[1], labels), shape)
        table = np.bincount(cells, minlength=np.prod(shape)).reshape(1, *shape)
        estimate, (solved,) = self._parts(table, [joint_loss.mean()])
        if not solved.certificate.certified:
            raise EstimationError(f"the exact solver could not certify the code table: {solved.certificate}")
        union = estimate[0, :3].sum()
        bounded_only = bool(entropy(np.bincount(labels)) - joint_loss.mean() < union)
        if bounded_only:
            warnings.warn(
                "the held-out joint models found less information than the union of the unimodal codes: synergy is "
                "reported as 0 but is only bounded below (more samples, or a stronger joint classifier, may find it)",
                UserWarning, stacklevel=2,
            )
        rng = np.random.default_rng(self.random_state)
        rows = rng.integers(0, n, (self.n_bootstrap, n))
        replicates = self._replicates(cells, joint_loss, rows, shape)
        failed = np.isnan(replicates).any(axis=1)
        if failed.all():
            raise EstimationError(f"none of the {self.n_bootstrap} bootstrap resamples could be certified")
        if failed.any():
            warnings.warn(f"{int(failed.sum())} bootstrap resamples could not be certified and are left out",
                          ConvergenceWarning, stacklevel=2)
        good = replicates[~failed]
        point = estimate[0]
        basic = basic_bootstrap(point, good, self.confidence)
        curve = None
        if self.learning_fraction is not None:
            curve = self._learning_curve(x1, x2, labels, n_labels, folds, k, rows, point, replicates,
                                         short=bounded_only and bool(basic.significant[-1]))
        if curve is not None:
            curve = replace(curve, samples=curve.samples[~failed])  # aligned with ``samples``
            _warn_learning_limited(curve)
        heldout = {m: _heldout_information(learned.posteriors[m], labels) for m in learned.posteriors}
        code_info = {m: float(point[0] + point[1 + i]) for i, m in enumerate(("x1", "x2"))}
        return CrossFitResult(
            **{part: float(basic.corrected[i]) for i, part in enumerate(PARTS)},
            plugin={part: float(point[i]) for i, part in enumerate(PARTS)},
            intervals={part: (float(basic.low[i]), float(basic.high[i])) for i, part in enumerate(PARTS)},
            significant={part: bool(basic.significant[i]) for i, part in enumerate(PARTS)},
            confidence=self.confidence,
            n_samples=n,
            n_codes=(len(np.unique(codes[0])), len(np.unique(codes[1]))),
            diagnostics=CrossFitDiagnostics(
                heldout, learned.joint_model, learned.capacities, code_info, int(failed.sum()), solved.certificate,
                bounded_only,
            ),
            samples=good,
            information_lower=information_lower_bounds(point, good, self.confidence),
            learning=curve,
        )

    def out_of_fold_posteriors(
        self, x1: ArrayLike, x2: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.int64], tuple[NDArray[np.float64], NDArray[np.float64]], dict[str, float]]:
        """The labels (``0 .. |Y| - 1``), each modality's out-of-fold calibrated posterior (n, |Y|) learnt as
        :meth:`estimate` learns them (same folds, learners and seeds), and the held-out information of each
        (``"x1"``, ``"x2"``: :math:`H(Y)` minus its cross-entropy, bits), for estimators built on these encodings.
        """
        self._validate_params()
        x1, x2, labels = _check_samples(x1, x2, y, self.n_folds)
        n_labels, folds = int(labels.max()) + 1, self._folds(labels)
        posteriors = tuple(self._cross_fit(x, labels, n_labels, folds, 1000 * offset, None)[0]
                           for offset, x in enumerate((x1, x2)))
        return labels, posteriors, {m: _heldout_information(p, labels) for m, p in zip(("x1", "x2"), posteriors)}

    def _folds(self, labels: NDArray[np.int64]) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
        """The cross-fitting folds: stratified, which keeps every label in every training part, unless a label is
        rarer than the folds and cannot be spread."""
        from sklearn.model_selection import KFold, StratifiedKFold

        rare = np.bincount(labels).min() < self.n_folds
        splitter = (KFold if rare else StratifiedKFold)(self.n_folds, shuffle=True, random_state=self.random_state)
        return list(splitter.split(labels, labels))

    def _learn(
        self, x1: NDArray, x2: NDArray, labels: NDArray[np.int64], n_labels: int, folds: list, k: int
    ) -> _Learned:
        """Out-of-fold posteriors, codes and held-out joint losses learnt with ``folds``."""
        posteriors, capacities = {}, {}
        inputs = (("x1", x1, None), ("x2", x2, None), ("joint", np.hstack([x1, x2]), (x1.shape[1], x2.shape[1])))
        for offset, (name, features, blocks) in enumerate(inputs):
            posteriors[name], capacities[name] = self._cross_fit(features, labels, n_labels, folds, 1000 * offset,
                                                                 blocks)
        codes = [kl_kmeans(posteriors[m], k, self.random_state) for m in ("x1", "x2")]
        posteriors["codes"] = code_pair_posteriors(codes[0], codes[1], labels, n_labels, folds)
        # Held-out log-loss of each row (bits) under the better of the two joint models: the joint information's
        # ingredient. Both give lower bounds on I(X1, X2; Y); the code pairs hold what interactions of the
        # unimodal posteriors carry, the joint classifier what only the features together show (XOR).
        losses = {m: _log_loss(posteriors[m], labels) for m in ("joint", "codes")}
        joint_model = min(losses, key=lambda m: losses[m].mean())
        return _Learned(codes, losses[joint_model], joint_model, posteriors, capacities)

    def _learning_curve(
        self, x1: NDArray, x2: NDArray, labels: NDArray[np.int64], n_labels: int, folds: list, k: int, rows: NDArray,
        point: NDArray, replicates: NDArray, short: bool,
    ) -> LearningCurve | None:
        """Every model relearnt from ``learning_fraction`` of each training fold, scored on the same held-out folds
        and resampled with the same ``rows``; ``point`` and ``replicates``: the full folds' parts; ``short``: the joint
        models found less than a significant union information."""
        start = time.perf_counter()
        rng = np.random.default_rng(self.random_state + 1)
        fraction = float(self.learning_fraction)
        reduced = [(np.sort(rng.choice(train, max(round(fraction * len(train)), 2 * n_labels), replace=False)), test)
                   for train, test in folds]
        learned = self._learn(x1, x2, labels, n_labels, reduced, k)
        shape = (k, k, n_labels)
        cells = np.ravel_multi_index((learned.codes[0], learned.codes[1], labels), shape)
        table = np.bincount(cells, minlength=np.prod(shape)).reshape(1, *shape)
        small = self._parts(table, [learned.joint_loss.mean()])[0][0]
        small_replicates = self._replicates(cells, learned.joint_loss, rows, shape)
        if np.isnan(small).any():
            warnings.warn("the exact solver could not certify the learning-curve check's code table; no check",
                          ConvergenceWarning, stacklevel=3)
            return None
        # Each information the parts are computed from (I(C1; Y), I(C2; Y), I(X1, X2; Y)); its gain's spread comes
        # from the paired resamples (same rows).
        paired = ~(np.isnan(replicates).any(axis=1) | np.isnan(small_replicates).any(axis=1))
        gain = point - small
        information_gain = gain @ PARTS_TO_INFORMATIONS
        spread = ((replicates[paired] - small_replicates[paired]) @ PARTS_TO_INFORMATIONS).std(axis=0)
        grew = np.abs(information_gain) > np.maximum(GAIN_FLOOR, GAIN_Z * spread)
        # S and the total are also unsettled where the joint models have not reached a union information that is
        # there: I(X1, X2; Y) is at least the union, so they have not learnt what the codes already show.
        limited = [bool(grew[:2].any())] * 3 + [bool(grew.any()) or short] * 2
        names = INFORMATIONS
        return LearningCurve(
            fraction=fraction,
            plugin={part: float(small[i]) for i, part in enumerate(PARTS)},
            gain={part: float(gain[i]) for i, part in enumerate(PARTS)},
            information_gain={m: float(information_gain[i]) for i, m in enumerate(names)},
            information_gain_std={m: float(spread[i]) for i, m in enumerate(names)},
            information_limited={m: bool(grew[i]) for i, m in enumerate(names)},
            learning_limited=dict(zip(PARTS, limited)),
            heldout_information={m: _heldout_information(learned.posteriors[m], labels) for m in learned.posteriors},
            seconds=time.perf_counter() - start,
            samples=small_replicates,
        )

    def _replicates(self, cells: NDArray, joint_loss: NDArray, rows: NDArray, shape: tuple[int, ...]) -> NDArray:
        """The parts of each bootstrap resample ``rows`` of the code table's ``cells`` and the rows' joint losses."""
        tables = np.stack([np.bincount(cells[r], minlength=np.prod(shape)) for r in rows]).reshape(-1, *shape)
        return self._parts(tables, joint_loss[rows].mean(axis=1))[0]

    def _cross_fit(
        self, features: NDArray, labels: NDArray[np.int64], n_labels: int, folds: list, seed: int,
        blocks: tuple[int, ...] | None,
    ) -> tuple[NDArray[np.float64], list[str]]:
        """Out-of-fold posteriors of every row, and the classifier chosen in each fold (``FittedPosterior.label``)."""
        from pidengine.estimators.posterior import fit_posterior

        out = np.empty((len(labels), n_labels))
        chosen: list[str] = []
        settings = self.posterior
        for fold, (train, test) in enumerate(folds):
            fitted = fit_posterior(features[train], labels[train], n_labels, settings, self.random_state + seed + fold,
                                   blocks)
            out[test] = fitted.predict_proba(features[test])
            chosen.append(fitted.label)
            # The candidate is chosen on the first fold's validation part; the other folds train that one only.
            settings = replace(settings, capacities=(fitted.capacity,), scalings=(fitted.scaling.name,),
                               architectures=(fitted.architecture,))
        return out, chosen

    def _parts(self, tables: NDArray, mean_joint_loss: ArrayLike) -> tuple[NDArray[np.float64], list[PIDResult]]:
        """R, U1, U2, S, total (bits) of each code table with its rows' mean joint log-loss (NaN where the solver could
        not certify the table), and the solver's results."""
        solver = ExactManyEstimator(on_failure="warn")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            results = solver.estimate_many(tables)
        out = np.full((len(tables), len(PARTS)), np.nan)
        for i, (result, table, loss) in enumerate(zip(results, tables, np.atleast_1d(mean_joint_loss))):
            if not result.certificate.certified:
                continue
            union = result.redundancy + result.unique1 + result.unique2
            joint_information = entropy(table.sum(axis=(0, 1))) - loss
            # I(X1, X2; Y) is at least the union information: a joint model that found less is no estimate of it.
            synergy = max(joint_information - union, 0.0)
            out[i] = (result.redundancy, result.unique1, result.unique2, synergy, union + synergy)
        return out, results


def _warn_learning_limited(curve: LearningCurve) -> None:
    parts = [part for part, limited in curve.learning_limited.items() if limited]
    if not parts:
        return
    grown = [f"{name} +{curve.information_gain[key]:.3f} bits" for key, name in
             (("x1", "I(X1; Y)"), ("x2", "I(X2; Y)"), ("joint", "I(X1, X2; Y)")) if curve.information_limited[key]]
    why = (f"with {curve.fraction:.0%} of each training fold instead of all of it, the learned models found less "
           f"({', '.join(grown)})" if grown else "the joint models found less than the union of the unimodal codes")
    warnings.warn(
        f"learning-limited: {why}; the parts {parts} are likely biased (low, on data with known truth, by more than "
        "that) and their intervals hold sampling error only. More samples or a better-suited learner would change "
        "them.",
        LearningLimitedWarning, stacklevel=3,
    )


def kl_kmeans(posteriors: NDArray[np.float64], n_codes: int, random_state: int = 0) -> NDArray[np.int64]:
    r"""Cluster probability rows by k-means in the KL divergence :math:`\mathrm{KL}(p_i \,\|\, c)`.

    Each row joins the centroid it diverges least from; a centroid is the mean of its rows. This is Lloyd's
    algorithm for a Bregman divergence (Banerjee et al. 2005), which for posteriors minimises the information about
    the label lost by the codes (Dhillon et al. 2003). Started from Euclidean k-means on :math:`\sqrt{p}`
    (Hellinger geometry); codes are relabelled ``0 .. k - 1`` over the clusters that are not empty.
    """
    from sklearn.cluster import KMeans

    p = np.clip(posteriors, PROBABILITY_FLOOR, None)
    p /= p.sum(axis=1, keepdims=True)
    k = min(n_codes, len(np.unique(np.round(p, 6), axis=0)))
    codes = KMeans(k, n_init=4, random_state=random_state).fit_predict(np.sqrt(p))
    entropy_rows = np.sum(p * np.log(p), axis=1)
    for _ in range(_KL_ITERATIONS):
        centroids = np.stack([p[codes == c].mean(axis=0) if (codes == c).any() else np.full(p.shape[1], np.nan)
                              for c in range(k)])
        centroids = centroids[~np.isnan(centroids).any(axis=1)]
        divergence = entropy_rows[:, None] - p @ np.log(centroids).T
        updated = divergence.argmin(axis=1)
        if np.array_equal(updated, codes):
            break
        codes = updated
    return np.unique(codes, return_inverse=True)[1].astype(np.int64)


def code_pair_posteriors(
    codes1: NDArray[np.int64], codes2: NDArray[np.int64], labels: NDArray[np.int64], n_labels: int, folds: list
) -> NDArray[np.float64]:
    r"""Out-of-fold :math:`\hat p(y \mid c_1, c_2)` from the other folds' counts, smoothed toward naive Bayes.

    Each code pair's label counts get :math:`|Y|` pseudo-counts spread as
    :math:`p(y \mid c_1)\, p(y \mid c_2) / p(y)` (normalised): the posterior when the codes add no synergy, which
    the counts then correct where they have the samples to.
    """
    k1, k2 = int(codes1.max()) + 1, int(codes2.max()) + 1
    out = np.empty((len(labels), n_labels))
    for train, test in folds:
        counts = np.zeros((k1, k2, n_labels))
        np.add.at(counts, (codes1[train], codes2[train], labels[train]), 1.0)
        prior = counts.sum(axis=(0, 1)) + 0.5
        given1 = (counts.sum(axis=1) + 0.5) / (counts.sum(axis=(1, 2))[:, None] + 0.5 * n_labels)
        given2 = (counts.sum(axis=0) + 0.5) / (counts.sum(axis=(0, 2))[:, None] + 0.5 * n_labels)
        naive = given1[codes1[test]] * given2[codes2[test]] / (prior / prior.sum())
        naive /= naive.sum(axis=1, keepdims=True)
        seen = counts[codes1[test], codes2[test]]
        out[test] = (seen + n_labels * naive) / (seen.sum(axis=1, keepdims=True) + n_labels)
    return out


def _log_loss(posterior: NDArray[np.float64], labels: NDArray[np.int64]) -> NDArray[np.float64]:
    """Each row's held-out log-loss in bits."""
    return -np.log2(np.clip(posterior[np.arange(len(labels)), labels], PROBABILITY_FLOOR, 1))


def _heldout_information(posterior: NDArray[np.float64], labels: NDArray[np.int64]) -> float:
    return float(entropy(np.bincount(labels)) - _log_loss(posterior, labels).mean())


def _check_samples(x1: ArrayLike, x2: ArrayLike, y: ArrayLike, n_folds: int) -> tuple[NDArray, NDArray, NDArray]:
    """Features as float rows and labels as codes ``0 .. k - 1``, validated like every ingested dataset."""
    data = MultimodalData.from_arrays(x1, x2, y)
    for name, values in (("x1", data.x1), ("x2", data.x2)):
        if is_text(values):
            raise InvalidJointError(f"{name} is text; encode it into numeric features first")
    if data.n_samples < 10 * n_folds:
        raise InvalidJointError(
            f"{data.n_samples} samples are too few for {n_folds}-fold cross-fitting (at least {10 * n_folds}); "
            "lower n_folds or use the exact estimator on discrete codes"
        )
    return data.x1, data.x2, data.y
