"""What a BATCH estimate returns: the parts with their spread (:class:`BatchPIDResult`) and what they rest on
(:class:`BatchDiagnostics`), every figure in bits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from pidengine.parts import PARTS, Decomposition, PartEstimate, flatten_parts

# The three classifiers, by the inputs they read; the keys of the per-classifier diagnostics.
CLASSIFIERS = ("x1", "x2", "x1x2")


@dataclass(frozen=True, eq=False)
class BatchDiagnostics:
    """What a BATCH estimate rests on: Sinkhorn convergence, classifier quality and batch size.

    Attributes
    ----------
    sinkhorn_marginal_error : float
        Largest L1 violation of the :math:`(x_1, y)` batch marginal (probability mass) over the evaluated batches;
        the :math:`(x_2, y)` marginal holds to rounding.
    sinkhorn_tol : float
        The tolerance it was held to.
    sinkhorn_converged : bool
        Whether every evaluated batch met ``sinkhorn_tol``.
    sinkhorn_n_iter : int
        Most Sinkhorn iterations used by one batch.
    label_marginal_mismatch : float
        Largest L1 distance, over batches, between the label marginals :math:`\\pi_1` and :math:`\\pi_2` that the
        two unimodal classifiers imply on the same batch (absorbed by the common marginal; large values mean the
        classifiers disagree about the label distribution).
    prior_entropy : float
        :math:`H(Y)` of the training label prior, in bits.
    prior_cross_entropy : float
        Cross-entropy (bits) of the training label prior itself on ``cross_entropy_source``: what a classifier that
        ignores its input scores.
    cross_entropy : dict of str to float
        Cross-entropy (bits) of each classifier (``"x1"``, ``"x2"``, ``"x1x2"``) on ``cross_entropy_source``.
    worse_than_prior : dict of str to bool
        Whether each classifier's cross-entropy exceeds ``prior_cross_entropy`` by more than
        :data:`~pidengine.estimators.batch.quality.PRIOR_MARGIN_BITS` and by more than two standard errors (paired
        over samples): the classifier is then worse than predicting the label prior, and a warning is issued.
    mean_entropy : dict of str to float
        Mean entropy (bits) of each classifier's predicted distribution on the same data; ``cross_entropy`` much
        above it means the classifier is overconfident, and the information it carries is overestimated.
    cross_entropy_source : str
        ``"held-out labels"`` when :meth:`BatchEstimator.estimate` got labels, else ``"validation split"``.
    batch_size : int
        Pairs per evaluated batch (the coupling of one batch is ``batch_size`` x ``batch_size`` per label).
    n_batches : int
        Evaluated batches per seed.
    n_classes : int
        :math:`|Y|`.
    expected_rarest_label_count : float
        ``batch_size`` times the smallest prior probability: how many samples of the rarest label a batch holds.
    device : str
        Where the networks ran.
    epochs : dict of str to tuple of int
        Epochs trained (up to early stopping) by each network, one entry per seed; 0 for a caller's classifier.
    warnings : tuple of str
        Every warning issued by ``fit`` and ``estimate`` for this result.
    """

    sinkhorn_marginal_error: float
    sinkhorn_tol: float
    sinkhorn_converged: bool
    sinkhorn_n_iter: int
    label_marginal_mismatch: float
    prior_entropy: float
    prior_cross_entropy: float
    cross_entropy: dict[str, float]
    worse_than_prior: dict[str, bool]
    mean_entropy: dict[str, float]
    cross_entropy_source: str
    batch_size: int
    n_batches: int
    n_classes: int
    expected_rarest_label_count: float
    device: str
    epochs: dict[str, tuple[int, ...]]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class BatchPIDResult(Decomposition):
    """PID estimated by the BATCH estimator, in bits: the parts and the total (:class:`~pidengine.parts.Decomposition`,
    each the mean over held-out batches and seeds), with their spread and diagnostics.

    Attributes
    ----------
    std : dict of str to float
        Standard deviation of each part and of the total over held-out batches and seeds (bits); the spread of
        single-batch estimates, not the standard error of the mean.
    intervals : dict of str to (float, float)
        2.5th and 97.5th percentiles of each part over held-out batches and seeds (bits).
    estimates : ndarray, shape (n_seeds * n_batches, 5)
        R, U1, U2, S and total of every (seed, batch), columns in the order of :data:`PARTS`.
    n_samples : int
        Held-out samples the estimate was computed on.
    n_seeds : int
        Independently trained models (classifiers and alignment networks).
    diagnostics : BatchDiagnostics
        Sinkhorn convergence, classifier quality and batch size.
    """

    std: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    estimates: NDArray[np.float64] = field(repr=False)
    n_samples: int = 0
    n_seeds: int = 1
    diagnostics: BatchDiagnostics | None = field(default=None, repr=False)
    estimator: str = field(default="batch", kw_only=True)
    # A mean over finite batches can dip slightly below zero where the truth is zero.
    negative_tol: ClassVar[float] = 0.02

    def to_dict(self) -> dict[str, float | int | str | bool | None]:
        """A flat, JSON-ready dict: the keys of :meth:`PIDResult.to_dict` that apply, spreads and diagnostics."""
        d = self.diagnostics
        flat: dict[str, float | int | str | bool | None] = {
            **self.atoms(),
            "total": self.total,
            "units": self.units,
            "estimator": self.estimator,
            "solver": "sinkhorn",
            "status": "converged" if d is None or d.sinkhorn_converged else "not converged",
            "converged": None if d is None else d.sinkhorn_converged,
            "marginal_violation": None if d is None else d.sinkhorn_marginal_error,
            "n_iter": None if d is None else d.sinkhorn_n_iter,
            "n_samples": self.n_samples,
            "n_seeds": self.n_seeds,
            "negative_parts": ",".join(self.negative_parts),
        }
        flat.update(flatten_parts({part: PartEstimate(getattr(self, part), *self.intervals[part], std=self.std[part])
                                   for part in PARTS}))
        if d is not None:
            flat.update(
                prior_entropy_bits=d.prior_entropy,
                prior_cross_entropy_bits=d.prior_cross_entropy,
                batch_size=d.batch_size,
                n_batches=d.n_batches,
                n_classes=d.n_classes,
                label_marginal_mismatch=d.label_marginal_mismatch,
                device=d.device,
            )
            for name in CLASSIFIERS:
                flat[f"cross_entropy_{name}_bits"] = d.cross_entropy[name]
                flat[f"mean_entropy_{name}_bits"] = d.mean_entropy[name]
                flat[f"worse_than_prior_{name}"] = d.worse_than_prior[name]
        return flat
