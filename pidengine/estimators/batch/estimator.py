r"""The BATCH estimator: PID of continuous, high-dimensional modalities from classifiers and learned couplings.

Discrete estimators need the joint table :math:`p(x_1, x_2, y)`; for images, embeddings or sensor windows there is
none. Following Liang et al. (2023, "BATCH"), the pairwise marginals are represented by classifiers and the
optimisation over :math:`\Delta_p` by alignment networks whose couplings are projected onto the constraints of each
minibatch:

1. Fit :math:`\hat p(y \mid x_1)`, :math:`\hat p(y \mid x_2)` and :math:`\hat p(y \mid x_1, x_2)` (small MLPs trained
   with cross-entropy and early stopping, or the caller's own models).
2. Two alignment networks map :math:`x_1` and :math:`x_2` to one :math:`d`-dimensional embedding per label,
   :math:`f_1(x_1)_y, f_2(x_2)_y \in \mathbb{R}^d`. For a minibatch of :math:`m` pairs,

   .. math:: A[a, b, y] = \exp\big(\langle f_1(x_{1,a})_y, f_2(x_{2,b})_y \rangle / \sqrt{d}\big).

3. For each :math:`y`, Sinkhorn-scale :math:`A[:, :, y]` (:func:`~pidengine.estimators.sinkhorn.sinkhorn_log`) so that

   .. math:: \sum_b q(a, b, y) = r(a, y), \qquad \sum_a q(a, b, y) = c(b, y),

   the constraints of :math:`\Delta_p` restricted to the batch (defined below).
4. Train the alignment networks to minimise :math:`I_q(X_1, X_2; Y)`, i.e. to maximise
   :math:`H_q(Y \mid X_1, X_2)` (:math:`H_q(Y)` is fixed by the constraints), on training batches; on held-out
   batches read

   .. math::

       U_1 = H(Y \mid X_2) - H_q(Y \mid X_1, X_2), \qquad U_2 = H(Y \mid X_1) - H_q(Y \mid X_1, X_2),

       R = H(Y) - H(Y \mid X_1) - H(Y \mid X_2) + H_q(Y \mid X_1, X_2), \qquad
       S = H_q(Y \mid X_1, X_2) - H_p(Y \mid X_1, X_2),

   which is :math:`U_1 = I_q - I(X_2;Y)`, :math:`U_2 = I_q - I(X_1;Y)`, :math:`R = I(X_1;Y) + I(X_2;Y) - I_q`,
   :math:`S = I_p - I_q` written with conditional entropies; they sum to :math:`I_p(X_1,X_2;Y) = H(Y) - H_p(Y \mid
   X_1, X_2)` exactly.

**The batch marginals.** On a batch, the empirical distribution of :math:`x_1` is uniform over its :math:`m` points,
so the natural constraint is :math:`q(x_{1,a}, y) = \hat p(y \mid x_{1,a}) / m`; its label marginal
:math:`\pi_1(y) = \frac1m \sum_a \hat p(y \mid x_{1,a})` generally differs from :math:`\pi_2(y)` (sampling noise and
classifier error), and then no :math:`q` satisfies both constraints. We keep each classifier's class-conditional
batch distribution, :math:`\hat p_B(x_{1,a} \mid y) = \hat p(y \mid x_{1,a}) / \sum_{a'} \hat p(y \mid x_{1,a'})`,
and give both modalities the common label marginal :math:`\pi_B = (\pi_1 + \pi_2) / 2`:

.. math::

    r(a, y) = \pi_B(y)\, \hat p_B(x_{1,a} \mid y), \qquad c(b, y) = \pi_B(y)\, \hat p_B(x_{2,b} \mid y).

This is the label-shift (prior) correction of each classifier to :math:`\pi_B` (Saerens et al., 2002); it moves
the posteriors as little as any common marginal can, and every quantity of the batch is computed from the same
:math:`r`, :math:`c` and :math:`q`, so :math:`U_1, U_2 \ge 0` hold on every batch (up to the Sinkhorn tolerance).
:math:`H(Y \mid X_i)` is the :math:`r`- (:math:`c`-) weighted mean entropy of the corrected posteriors,
:math:`H_p(Y \mid X_1, X_2)` the mean entropy of :math:`\hat p(y \mid x_1, x_2)` over the batch's pairs, and
:math:`H(Y)` the entropy of the training label prior (the plug-in entropy of a batch's :math:`\pi_B` would be biased
low by about :math:`(|Y| - 1) / (2 m \ln 2)` bits).

Every figure is reported in bits; the torch code works in nats and converts once (:func:`_bits`). Parts are
reported as computed, never clipped: a negative part (possible for R and S, e.g. when the joint classifier is worse
than the coupling) is flagged in :attr:`BatchPIDResult.negative_parts`.

References
----------
1. P. P. Liang et al. (2023). Quantifying & modeling multimodal interactions: an information decomposition
   framework. *NeurIPS*. arXiv:2302.12247.
2. N. Bertschinger, J. Rauh, E. Olbrich, J. Jost, N. Ay (2014). Quantifying unique information. *Entropy* 16(4).
3. M. Saerens, P. Latinne, C. Decaestecker (2002). Adjusting the outputs of a classifier to new a priori
   probabilities. *Neural Computation* 14(1).
4. C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger (2017). On calibration of modern neural networks. *ICML*.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike, NDArray
from torch import nn

from pidengine.estimators.progress import Progress, ProgressFn, check_progress
from pidengine.estimators.sinkhorn import sinkhorn_log, sinkhorn_unrolled
from pidengine.exceptions import ConfigError, ConvergenceWarning, EstimationError, InvalidJointError
from pidengine.parts import ATOMS, PARTS, nats_to_bits

CLASSIFIERS = ("x1", "x2", "x1x2")
# Probabilities from a user's classifier are floored here (then renormalised), so every log is finite.
PROB_FLOOR = 1e-12
# Fewest samples `fit` accepts, and the fewest per label a batch should expect before a warning.
MIN_FIT_SAMPLES = 20
MIN_LABEL_COUNT_PER_BATCH = 4
# A classifier whose held-out cross-entropy exceeds its mean predictive entropy by more is called overconfident.
OVERCONFIDENCE_BITS = 0.05
# A classifier is "worse than the prior" when its cross-entropy exceeds the prior's by more than this (and by more
# than two standard errors); smaller excesses are the noise of a classifier that rightly learned nothing.
PRIOR_MARGIN_BITS = 0.01
_CHUNK = 8192  # rows per forward pass at inference
# Early stopping: a validation loss must improve by this much (nats per sample) to count as progress.
_MIN_IMPROVEMENT = 1e-4
# Training batches need only a rough projection (float32; the unrolled updates refine it): looser settings.
_TRAIN_SINKHORN_TOL = 1e-3
_TRAIN_SINKHORN_MAX_ITER = 50
_VALIDATION_SINKHORN_TOL = 1e-4

ProbaFn = Callable[..., Any]


# --------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------


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
        :data:`PRIOR_MARGIN_BITS` and by more than two standard errors (paired over samples): the classifier is
        then worse than predicting the label prior, and a warning is issued.
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
class BatchPIDResult:
    """PID estimated by the BATCH estimator, in bits, with its spread and diagnostics.

    Attributes
    ----------
    redundancy, unique1, unique2, synergy : float
        Mean of R, U1, U2, S over held-out batches and seeds, in bits; never clipped (see ``negative_parts``).
    total : float
        :math:`I_p(X_1, X_2; Y)` in bits; equals the sum of the four parts.
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
    estimator : str
        ``"batch"``.
    units : str
        Always ``"bits"``.
    """

    redundancy: float
    unique1: float
    unique2: float
    synergy: float
    total: float
    std: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    estimates: NDArray[np.float64] = field(repr=False)
    n_samples: int = 0
    n_seeds: int = 1
    diagnostics: BatchDiagnostics | None = field(default=None, repr=False)
    estimator: str = "batch"
    units: str = "bits"

    def atoms(self) -> dict[str, float]:
        """The four parts as a dict ``{"redundancy": R, "unique1": U1, "unique2": U2, "synergy": S}``."""
        return {name: getattr(self, name) for name in ATOMS}

    @property
    def negative_parts(self) -> tuple[str, ...]:
        """Names of the parts whose estimate is below zero (reported, not clipped)."""
        return tuple(name for name, value in self.atoms().items() if value < 0)

    def check(self, atol: float = 1e-6, negative_tol: float = 0.02) -> None:
        """Raise :class:`EstimationError` unless R + U1 + U2 + S = total within ``atol`` and every part is at least
        ``-negative_tol`` bits (an estimate from finite batches can dip slightly below zero)."""
        problems = []
        residual = sum(self.atoms().values()) - self.total
        if abs(residual) > atol:
            problems.append(f"R + U1 + U2 + S - total = {residual:.3g} bits")
        problems += [
            f"{name} = {value:.3g} bits < -{negative_tol:g}"
            for name, value in self.atoms().items()
            if value < -negative_tol
        ]
        if problems:
            raise EstimationError(f"inconsistent PID from {self.estimator}: " + "; ".join(problems))

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
        for part in PARTS:
            flat[f"{part}_std"] = self.std[part]
            flat[f"{part}_low"], flat[f"{part}_high"] = self.intervals[part]
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


# --------------------------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------------------------


class _MLP(nn.Module):
    """Standardised inputs (concatenated when several), ``n_layers`` ReLU layers of ``width``, a linear output."""

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor, width: int, n_layers: int, n_out: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        layers: list[nn.Module] = []
        n_in = mean.numel()
        for _ in range(n_layers):
            layers += [nn.Linear(n_in, width), nn.ReLU()]
            n_in = width
        layers.append(nn.Linear(n_in, n_out))
        self.net = nn.Sequential(*layers)
        # Temperature of the logits (classifiers only): fitted on the validation split after training.
        self.register_buffer("log_temperature", torch.zeros(()))

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        x = xs[0] if len(xs) == 1 else torch.cat(xs, dim=1)
        return self.net((x - self.mean) / self.scale) * torch.exp(-self.log_temperature)


class _Alignment(nn.Module):
    r"""The two alignment networks; :meth:`log_kernel` gives :math:`\log A` with shape (|Y|, m, n)."""

    def __init__(self, f1: _MLP, f2: _MLP, n_classes: int, embed_dim: int, bound: float) -> None:
        super().__init__()
        self.f1, self.f2 = f1, f2
        self.n_classes, self.embed_dim, self.bound = n_classes, embed_dim, bound

    def log_kernel(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """:math:`\\log A[y, a, b]`, double-centred per label and softly bounded to ``(-bound, bound)``.

        The Sinkhorn projection absorbs any factor :math:`g(a, y) h(b, y)`, so subtracting the batch's row and
        column means leaves :math:`q` unchanged while removing directions in which the networks could drift freely.
        The bound :math:`B \\tanh(s / B)` caps the contrast between two cells at :math:`e^{2B}`: unbounded, the
        networks learn contrasts of hundreds of nats that buy nothing on held-out batches (they fit the classifiers'
        residual errors) and slow Sinkhorn down by orders of magnitude.
        """
        e1 = self.f1(x1).view(len(x1), self.n_classes, self.embed_dim)
        e2 = self.f2(x2).view(len(x2), self.n_classes, self.embed_dim)
        scores = torch.einsum("ake,bke->kab", e1, e2) / math.sqrt(self.embed_dim)
        row_mean = scores.mean(dim=2, keepdim=True)
        col_mean = scores.mean(dim=1, keepdim=True)
        centred = scores - row_mean - col_mean + row_mean.mean(dim=1, keepdim=True)
        return self.bound * torch.tanh(centred / self.bound)


def _standardiser(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = x.mean(0)
    scale = x.std(0) if len(x) > 1 else torch.ones_like(mean)
    return mean, torch.where(scale > 1e-8, scale, torch.ones_like(scale))


@dataclass(frozen=True)
class _Quality:
    """A classifier's cross-entropy, mean predictive entropy, the prior's cross-entropy on the same labels, and
    the standard error of the paired difference (classifier minus prior), all in bits."""

    cross_entropy: float
    mean_entropy: float
    prior_cross_entropy: float
    difference_se: float

    @property
    def worse_than_prior(self) -> bool:
        excess = self.cross_entropy - self.prior_cross_entropy
        return excess > PRIOR_MARGIN_BITS and excess > 2 * self.difference_se


def _quality(log_p: torch.Tensor, codes: torch.Tensor, log_prior: torch.Tensor) -> _Quality:
    picked = log_p[torch.arange(len(codes), device=log_p.device), codes]
    prior_picked = log_prior[codes]
    difference = prior_picked - picked  # per-sample log-loss of the classifier minus that of the prior
    se = difference.std() / math.sqrt(len(codes)) if len(codes) > 1 else torch.tensor(0.0)
    return _Quality(
        nats_to_bits(-picked.mean()), nats_to_bits(_mean_entropy(log_p)), nats_to_bits(-prior_picked.mean()),
        nats_to_bits(se),
    )


@dataclass
class _Fitted:
    """Everything one seed learned: the three log-probability functions and the alignment networks."""

    log_proba: dict[str, Callable[..., torch.Tensor]]
    alignment: _Alignment
    epochs: dict[str, int]
    validation: dict[str, _Quality]  # classifier -> its quality on the validation split


# --------------------------------------------------------------------------------------------------------------
# Batch algebra (nats)
# --------------------------------------------------------------------------------------------------------------


def batch_marginals(log_p1: torch.Tensor, log_p2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Log targets :math:`\log r` (|Y|, m) and :math:`\log c` (|Y|, n) of a batch, and the L1 label mismatch.

    ``log_p1[a, y] = log p̂(y | x1_a)`` and ``log_p2[b, y] = log p̂(y | x2_b)``. Both targets carry the common label
    marginal :math:`\pi_B = (\pi_1 + \pi_2)/2` (see the module docstring), so every label's two marginals have the
    same mass and the per-label Sinkhorn problem is feasible.
    """
    log_s1 = torch.logsumexp(log_p1, dim=0)
    log_s2 = torch.logsumexp(log_p2, dim=0)
    pi1, pi2 = torch.exp(log_s1) / len(log_p1), torch.exp(log_s2) / len(log_p2)
    log_pi = torch.log((pi1 + pi2) / 2)
    log_r = (log_p1 - log_s1 + log_pi).T
    log_c = (log_p2 - log_s2 + log_pi).T
    return log_r, log_c, (pi1 - pi2).abs().sum()


def conditional_entropy_of_plan(log_q: torch.Tensor) -> torch.Tensor:
    r""":math:`H_q(Y \mid X_1, X_2) = -\sum q \log q(y \mid a, b)` in nats, for ``log_q`` of shape (|Y|, m, n)."""
    log_cell = torch.logsumexp(log_q, dim=0, keepdim=True)
    return -(torch.exp(log_q) * (log_q - log_cell)).sum()


def conditional_entropy_of_marginal(log_r: torch.Tensor) -> torch.Tensor:
    r""":math:`H(Y \mid X) = -\sum r(x, y) \log r(y \mid x)` in nats, for ``log_r`` of shape (|Y|, m)."""
    log_row = torch.logsumexp(log_r, dim=0, keepdim=True)
    return -(torch.exp(log_r) * (log_r - log_row)).sum()


def _mean_entropy(log_p: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the rows of ``log_p`` (n, |Y|)."""
    return -(torch.exp(log_p) * log_p).sum(1).mean()


# --------------------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------------------


def _as_features(x: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidJointError(f"{name} must be a numeric array of shape (n_samples, n_features): {exc}") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidJointError(
            f"{name} must be 2-D (n_samples, n_features) or 1-D (one feature), got shape {arr.shape}; "
            "flatten images or sequences first"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidJointError(f"{name} is empty: shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise InvalidJointError(f"{name} contains NaN or inf ({int(bad.sum())} entries, first in sample {row})")
    return arr


def _as_labels(y: ArrayLike) -> NDArray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InvalidJointError(f"y must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InvalidJointError(f"y contains NaN or inf ({int((~np.isfinite(arr)).sum())} entries)")
    if arr.dtype.kind == "O" and any(v is None for v in arr):
        raise InvalidJointError("y contains missing values (None)")
    return arr


def _check_lengths(**arrays: NDArray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise InvalidJointError(f"x1, x2 and y must have one row per sample; got lengths {lengths}")
    return next(iter(lengths.values()))


def _resolve_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(device, str) and device.split(":")[0] in ("cpu", "cuda"):
        resolved = torch.device(device)
    else:
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available here; use device='auto' or 'cpu'")
    return resolved


# --------------------------------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------------------------------


class BatchEstimator:
    r"""PID of continuous, high-dimensional modalities: classifiers plus Sinkhorn-projected learned couplings.

    Fit on training samples, estimate on held-out samples:

    .. math::

        q^* = \arg\min_{q \in \Delta_p} I_q(X_1, X_2; Y), \qquad
        U_1 = I_{q^*}(X_1,X_2;Y) - I(X_2;Y), \quad U_2 = I_{q^*} - I(X_1;Y),

        R = I(X_1;Y) + I(X_2;Y) - I_{q^*}, \qquad S = I_p(X_1,X_2;Y) - I_{q^*},

    where :math:`I(X_i;Y)` and :math:`I_p(X_1,X_2;Y)` come from the classifiers :math:`\hat p(y \mid x_i)`,
    :math:`\hat p(y \mid x_1, x_2)`, and :math:`q^*` is represented on each batch of :math:`m` held-out pairs by
    :math:`q(a, b, y) = e^{\alpha(a, y) + \beta(b, y)} A[a, b, y]` with the learned kernel
    :math:`A[a,b,y] = \exp(\langle f_1(x_{1,a})_y, f_2(x_{2,b})_y\rangle / \sqrt{d})` and Sinkhorn potentials
    :math:`\alpha, \beta` that enforce the batch's :math:`\Delta_p` constraints (module docstring). All results
    are in bits.

    Parameters
    ----------
    classifier1, classifier2 : callable, optional
        The caller's :math:`\hat p(y \mid x_1)` and :math:`\hat p(y \mid x_2)`: called with a float64 NumPy array
        (n, d_i), returning class probabilities (n, |Y|) as an array or tensor, columns in the order of the sorted
        labels (:attr:`classes_`). By default a small MLP is trained for each.
    classifier12 : callable, optional
        The caller's :math:`\hat p(y \mid x_1, x_2)`, called as ``classifier12(x1, x2)``; by default an MLP on the
        concatenated features.
    hidden_dim : int, default=128
        Width of every hidden layer (classifiers and alignment networks).
    n_layers : int, default=2
        Hidden layers per network.
    embed_dim : int, default=32
        Embedding size :math:`d` per label of the alignment networks.
    batch_size : int, default=256
        Minibatch size for training the classifiers and the alignment networks (one alignment batch couples
        ``batch_size`` x ``batch_size`` pairs per label).
    eval_batch_size : int, optional
        Pairs per held-out batch at :meth:`estimate`; default ``2 * batch_size``. Larger batches reduce the
        finite-batch error and cost :math:`O(m^2 |Y|)` memory and time each.
    max_epochs : int, default=200
        Epochs per classifier, at most (early stopping on the validation split usually ends sooner).
    align_max_epochs : int, default=30
        Epochs for the alignment networks, at most.
    patience : int, default=10
        Epochs without improvement of a classifier's validation cross-entropy before its training stops; the best
        epoch is kept.
    align_patience : int, default=3
        The same for the alignment networks (each of their epochs costs more, and they gain less per epoch).
    calibrate : bool, default=True
        Fit a temperature to each trained classifier's logits on the validation split (Guo et al., 2017; reference 4):
        the informations are read from predictive entropies, so calibration matters as much as accuracy.
    learning_rate : float, default=1e-3
        Adam learning rate (all networks).
    weight_decay : float, default=0.0
        Adam weight decay (all networks).
    validation_fraction : float, default=0.2
        Share of the training samples held back for early stopping.
    sinkhorn_max_iter : int, default=1000
        Sinkhorn iterations per batch, at most.
    sinkhorn_tol : float, default=1e-5
        Largest accepted L1 violation of a batch marginal (probability mass).
    sinkhorn_unroll : int, default=5
        Differentiable Sinkhorn updates, after a converged no-gradient run, through which the alignment loss is
        back-propagated during training.
    score_bound : float, default=10.0
        Bound :math:`B` on the (centred) log-kernel, :math:`\\log A \\in (-B, B)`: two cells of one label differ by
        a factor of at most :math:`e^{2B}` before projection. Large enough for near-deterministic couplings (a
        contrast of :math:`e^{-20}` leaves an error far below 0.001 bits), small enough for Sinkhorn to converge fast.
    n_seeds : int, default=1
        Independently trained models (seeds ``random_state``, ``random_state + 1``, ...); the spread of the result
        covers them.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to train and evaluate; ``"auto"`` picks CUDA when present.
    random_state : int, default=0
        Seed of the splits, the initialisations and the batch order; results on the CPU are reproducible.
    progress : bool or callable, default=False
        ``True`` shows a tqdm bar per network when tqdm is installed (log lines at INFO level otherwise); a callable
        is called after every epoch as ``progress(stage, epoch, max_epochs, validation_loss)``.

    Attributes
    ----------
    classes_ : ndarray
        The sorted distinct labels seen by :meth:`fit`.
    prior_ : ndarray, shape (|Y|,)
        Training label frequencies; :math:`H(Y)` is their entropy.
    n_features_in_ : tuple of int
        Feature dimensions of ``x1`` and ``x2``.
    device_ : torch.device
        The resolved device.
    fitted_ : list
        Per seed, the fitted networks (internal).

    Raises
    ------
    ConfigError
        On entry to :meth:`fit`, for an invalid setting (the message names it and the allowed values).
    InvalidJointError
        For unusable samples: NaN or inf, mismatched lengths, wrong dimensions, a single class, too few samples.

    Notes
    -----
    Accuracy is limited first by the classifiers: :math:`I(X_i;Y)` is :math:`H(Y)` minus their mean predictive
    entropy, so an overconfident classifier inflates it. The result's :class:`BatchDiagnostics` reports each
    classifier's held-out cross-entropy next to its mean entropy and to :math:`H(Y)`, and warnings are issued for
    a classifier no better than the prior, an overconfident one, an unconverged Sinkhorn projection and batches too
    small for the number of labels.

    Examples
    --------
    >>> from pidengine.datasets import gate_samples
    >>> data = gate_samples("xor", 1200, random_state=0)
    >>> est = BatchEstimator(hidden_dim=16, max_epochs=30, align_max_epochs=1, batch_size=128, device="cpu")
    >>> result = est.fit_estimate(data.x1, data.x2, data.y)
    >>> round(result.synergy, 1), result.units
    (1.0, 'bits')
    """

    name: ClassVar[str] = "batch"

    def __init__(
        self,
        *,
        classifier1: ProbaFn | None = None,
        classifier2: ProbaFn | None = None,
        classifier12: ProbaFn | None = None,
        hidden_dim: int = 128,
        n_layers: int = 2,
        embed_dim: int = 32,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        max_epochs: int = 200,
        align_max_epochs: int = 30,
        patience: int = 10,
        align_patience: int = 3,
        calibrate: bool = True,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.2,
        sinkhorn_max_iter: int = 1000,
        sinkhorn_tol: float = 1e-5,
        sinkhorn_unroll: int = 5,
        score_bound: float = 10.0,
        n_seeds: int = 1,
        device: str | torch.device = "auto",
        random_state: int = 0,
        progress: bool | ProgressFn = False,
    ) -> None:
        self.classifier1 = classifier1
        self.classifier2 = classifier2
        self.classifier12 = classifier12
        self.hidden_dim = hidden_dim
        self.n_layers = n_layers
        self.embed_dim = embed_dim
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.max_epochs = max_epochs
        self.align_max_epochs = align_max_epochs
        self.patience = patience
        self.align_patience = align_patience
        self.calibrate = calibrate
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.sinkhorn_max_iter = sinkhorn_max_iter
        self.sinkhorn_tol = sinkhorn_tol
        self.sinkhorn_unroll = sinkhorn_unroll
        self.score_bound = score_bound
        self.n_seeds = n_seeds
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # Integer settings: (name, smallest allowed value); align_max_epochs may be 0 (the initial coupling).
    _int_constraints: ClassVar[tuple[tuple[str, int], ...]] = (
        ("hidden_dim", 1),
        ("n_layers", 0),
        ("embed_dim", 1),
        ("batch_size", 2),
        ("max_epochs", 1),
        ("align_max_epochs", 0),
        ("patience", 1),
        ("align_patience", 1),
        ("sinkhorn_max_iter", 1),
        ("sinkhorn_unroll", 1),
        ("n_seeds", 1),
    )

    # ---------------------------------------------------------------------------------------------- settings
    def _validate_params(self) -> None:
        for param, low in self._int_constraints:
            value = getattr(self, param)
            if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= low):
                raise ConfigError(f"{param} must be an integer >= {low}, got {value!r}")
        if self.eval_batch_size is not None and not (
            isinstance(self.eval_batch_size, (int, np.integer)) and self.eval_batch_size >= 2
        ):
            raise ConfigError(f"eval_batch_size must be None or an integer >= 2, got {self.eval_batch_size!r}")
        for param in ("learning_rate", "sinkhorn_tol", "score_bound"):
            value = getattr(self, param)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{param} must be a positive number, got {value!r}")
        if not (isinstance(self.weight_decay, (int, float)) and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if not (isinstance(self.validation_fraction, (int, float)) and 0 < self.validation_fraction < 1):
            raise ConfigError(
                f"validation_fraction must lie strictly between 0 and 1, got {self.validation_fraction!r}"
            )
        if not isinstance(self.random_state, (int, np.integer)) or isinstance(self.random_state, bool):
            raise ConfigError(f"random_state must be an integer, got {self.random_state!r}")
        for param in ("classifier1", "classifier2", "classifier12"):
            value = getattr(self, param)
            if value is not None and not callable(value):
                raise ConfigError(f"{param} must be None or a callable returning class probabilities, got {value!r}")
        if not isinstance(self.calibrate, bool):
            raise ConfigError(f"calibrate must be True or False, got {self.calibrate!r}")
        check_progress(self.progress)
        _resolve_device(self.device)

    @property
    def _eval_batch_size(self) -> int:
        return self.eval_batch_size if self.eval_batch_size is not None else 2 * self.batch_size

    # ---------------------------------------------------------------------------------------------- fitting
    def fit(self, x1: ArrayLike, x2: ArrayLike, y: ArrayLike) -> BatchEstimator:
        """Train the classifiers (unless given) and the alignment networks on training samples.

        Parameters
        ----------
        x1, x2 : array_like, shapes (n_samples, d1) and (n_samples, d2)
            The two modalities (a 1-D array is one feature).
        y : array_like, shape (n_samples,)
            Labels; any discrete values, at least two distinct.

        Returns
        -------
        BatchEstimator
            ``self``, fitted.

        Raises
        ------
        ConfigError
            For an invalid setting.
        InvalidJointError
            For NaN/inf, mismatched lengths, wrong dimensions, a single class or too few samples.
        """
        self._validate_params()
        x1_np, x2_np, y_np = _as_features(x1, "x1"), _as_features(x2, "x2"), _as_labels(y)
        n = _check_lengths(x1=x1_np, x2=x2_np, y=y_np)
        try:
            classes, codes = np.unique(y_np, return_inverse=True)
        except TypeError as exc:
            raise InvalidJointError(f"y mixes label types that cannot be ordered: {exc}") from exc
        n_classes = len(classes)
        if n_classes < 2:
            raise InvalidJointError(
                f"y has a single class ({classes[0]!r}); the BATCH estimator trains classifiers and needs at least "
                "two labels (with one label every part of the PID is 0 bits)"
            )
        needed = max(MIN_FIT_SAMPLES, 2 * n_classes)
        n_val = max(1, round(self.validation_fraction * n))
        if n < needed or n - n_val < 2:
            raise InvalidJointError(
                f"too few samples to fit: got {n}, need at least {needed} (and 2 outside the validation split) "
                f"for {n_classes} classes"
            )
        self._warnings: list[str] = []
        self.device_ = _resolve_device(self.device)
        self.classes_ = classes
        self.prior_ = np.bincount(codes.reshape(-1), minlength=n_classes) / n
        self.n_features_in_ = (x1_np.shape[1], x2_np.shape[1])
        self._check_batch_size(n_classes, "fit")

        dev = self.device_
        t1 = torch.as_tensor(x1_np, dtype=torch.float32, device=dev)
        t2 = torch.as_tensor(x2_np, dtype=torch.float32, device=dev)
        ty = torch.as_tensor(codes.reshape(-1), dtype=torch.long, device=dev)
        self.fitted_ = []
        for seed_index in range(self.n_seeds):
            seed = int(self.random_state) + seed_index
            order = np.random.default_rng(seed).permutation(n)
            val_idx = torch.as_tensor(order[:n_val], device=dev)
            tr_idx = torch.as_tensor(order[n_val:], device=dev)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                generator = torch.Generator().manual_seed(seed)
                self.fitted_.append(self._fit_one(t1, t2, ty, tr_idx, val_idx, x1_np, x2_np, generator, seed_index))
        return self

    def _check_batch_size(self, n_classes: int, where: str) -> None:
        for param, size in (("batch_size", self.batch_size), ("eval_batch_size", self._eval_batch_size)):
            expected = size * float(self.prior_.min())
            if expected < MIN_LABEL_COUNT_PER_BATCH:
                self._warn(
                    f"{param}={size} is too small for {n_classes} classes: a batch holds about {expected:.1f} "
                    f"samples of the rarest label (prior {self.prior_.min():.3g}); per-label Sinkhorn marginals are "
                    f"then noisy. Increase {param} to at least "
                    f"{math.ceil(MIN_LABEL_COUNT_PER_BATCH / self.prior_.min())}",
                    UserWarning,
                )

    def _warn(self, message: str, category: type[Warning]) -> None:
        self._warnings.append(message)
        warnings.warn(message, category, stacklevel=3)

    def _fit_one(
        self,
        t1: torch.Tensor,
        t2: torch.Tensor,
        ty: torch.Tensor,
        tr: torch.Tensor,
        val: torch.Tensor,
        x1_np: NDArray[np.float64],
        x2_np: NDArray[np.float64],
        generator: torch.Generator,
        seed_index: int,
    ) -> _Fitted:
        n_classes = len(self.classes_)
        suffix = f" (seed {seed_index})" if self.n_seeds > 1 else ""
        log_proba: dict[str, Callable[..., torch.Tensor]] = {}
        epochs: dict[str, int] = {}
        validation: dict[str, _Quality] = {}
        log_prior = torch.as_tensor(np.log(np.maximum(self.prior_, PROB_FLOOR)), device=self.device_)
        specs = (
            ("x1", self.classifier1, (t1,), (x1_np,)),
            ("x2", self.classifier2, (t2,), (x2_np,)),
            ("x1x2", self.classifier12, (t1, t2), (x1_np, x2_np)),
        )
        for name, user, inputs, inputs_np in specs:
            if user is not None:
                fn = self._wrap_user(user, name)
                epochs[name] = 0
            else:
                cat = torch.cat([x[tr] for x in inputs], dim=1)
                net = _MLP(*_standardiser(cat), self.hidden_dim, self.n_layers, n_classes).to(self.device_)
                epochs[name] = self._train_classifier(net, inputs, ty, tr, val, generator, f"classifier {name}{suffix}")
                fn = _net_log_proba(net)
            log_proba[name] = fn
            lp = fn(*(x[val] for x in inputs)) if user is None else fn(*(x[val.cpu().numpy()] for x in inputs_np))
            validation[name] = _quality(lp.to(log_prior), ty[val], log_prior)

        lp1 = self._log_proba_on(log_proba["x1"], self.classifier1, (t1,), (x1_np,))
        lp2 = self._log_proba_on(log_proba["x2"], self.classifier2, (t2,), (x2_np,))
        f1 = _MLP(*_standardiser(t1[tr]), self.hidden_dim, self.n_layers, n_classes * self.embed_dim)
        f2 = _MLP(*_standardiser(t2[tr]), self.hidden_dim, self.n_layers, n_classes * self.embed_dim)
        alignment = _Alignment(f1, f2, n_classes, self.embed_dim, float(self.score_bound)).to(self.device_)
        epochs["alignment"] = self._train_alignment(alignment, t1, t2, lp1, lp2, tr, val, generator, suffix)
        return _Fitted(log_proba=log_proba, alignment=alignment, epochs=epochs, validation=validation)

    def _log_proba_on(
        self,
        fn: Callable[..., torch.Tensor],
        user: ProbaFn | None,
        inputs: tuple[torch.Tensor, ...],
        inputs_np: tuple[NDArray[np.float64], ...],
    ) -> torch.Tensor:
        out = fn(*inputs_np) if user is not None else fn(*inputs)
        return out.to(device=self.device_, dtype=torch.float32)

    def _wrap_user(self, user: ProbaFn, name: str) -> Callable[..., torch.Tensor]:
        """A caller's probability function as a validated log-probability function (float64, on the device)."""
        param = {"x1": "classifier1", "x2": "classifier2", "x1x2": "classifier12"}[name]
        n_classes = len(self.classes_)
        device = self.device_

        def log_proba(*xs: NDArray[np.float64]) -> torch.Tensor:
            try:
                out = user(*xs)
            except Exception as exc:
                raise EstimationError(f"{param} failed on input of shape {[x.shape for x in xs]}: {exc}") from exc
            if isinstance(out, torch.Tensor):
                out = out.detach().cpu().numpy()
            try:
                p = np.asarray(out, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{param} must return numeric class probabilities: {exc}") from exc
            if p.shape != (len(xs[0]), n_classes):
                raise ConfigError(
                    f"{param} returned shape {p.shape}; expected (n_samples, n_classes) = ({len(xs[0])}, {n_classes}) "
                    f"with columns in the order of the sorted labels {self.classes_.tolist()[:10]}"
                )
            if not np.isfinite(p).all() or (p < 0).any():
                raise ConfigError(f"{param} returned negative, NaN or inf probabilities")
            sums = p.sum(1)
            if np.abs(sums - 1).max() > 1e-3:
                raise ConfigError(
                    f"{param} must return probabilities (rows summing to 1), got row sums from {sums.min():.4g} to "
                    f"{sums.max():.4g}; apply a softmax to logits"
                )
            p = np.maximum(p, PROB_FLOOR)
            return torch.as_tensor(np.log(p / p.sum(1, keepdims=True)), device=device)

        return log_proba

    def _train_classifier(
        self,
        net: _MLP,
        inputs: tuple[torch.Tensor, ...],
        ty: torch.Tensor,
        tr: torch.Tensor,
        val: torch.Tensor,
        generator: torch.Generator,
        stage: str,
    ) -> int:
        """Cross-entropy training with early stopping on the validation split; keeps the best epoch's weights."""
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        val_inputs = tuple(x[val] for x in inputs)
        best, best_state, best_epoch, wait = math.inf, copy.deepcopy(net.state_dict()), 0, 0
        bar = Progress(self.progress, stage, self.max_epochs, "epoch", "validation loss")
        try:
            for epoch in range(1, self.max_epochs + 1):
                net.train()
                for idx in tr[torch.randperm(len(tr), generator=generator).to(tr.device)].split(self.batch_size):
                    loss = F.cross_entropy(net(*(x[idx] for x in inputs)), ty[idx])
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                net.eval()
                with torch.no_grad():
                    value = float(F.cross_entropy(_chunked(net, val_inputs), ty[val]))
                bar.update(epoch, value)
                if value < best - _MIN_IMPROVEMENT:
                    best, best_state, best_epoch, wait = value, copy.deepcopy(net.state_dict()), epoch, 0
                else:
                    wait += 1
                    if wait >= self.patience:
                        break
        finally:
            bar.close()
        net.load_state_dict(best_state)
        net.eval()
        if self.calibrate:
            _fit_temperature(net, val_inputs, ty[val])
        return best_epoch

    def _alignment_loss(
        self, alignment: _Alignment, t1: torch.Tensor, t2: torch.Tensor, lp1: torch.Tensor, lp2: torch.Tensor
    ) -> torch.Tensor:
        r""":math:`-H_q(Y \mid X_1, X_2)` (nats, differentiable) of one training batch."""
        log_kernel = alignment.log_kernel(t1, t2)
        log_r, log_c, _ = batch_marginals(lp1, lp2)
        result = sinkhorn_log(
            log_kernel.detach(),
            log_r,
            log_c,
            max_iter=min(self.sinkhorn_max_iter, _TRAIN_SINKHORN_MAX_ITER),
            tol=max(self.sinkhorn_tol, _TRAIN_SINKHORN_TOL),
        )
        log_q = sinkhorn_unrolled(log_kernel, log_r, log_c, result.beta, self.sinkhorn_unroll)
        return -conditional_entropy_of_plan(log_q)

    def _train_alignment(
        self,
        alignment: _Alignment,
        t1: torch.Tensor,
        t2: torch.Tensor,
        lp1: torch.Tensor,
        lp2: torch.Tensor,
        tr: torch.Tensor,
        val: torch.Tensor,
        generator: torch.Generator,
        suffix: str,
    ) -> int:
        """Minimise :math:`I_q` on training batches; early stopping on fixed validation batches."""
        m = min(self.batch_size, len(tr))
        val_batches = [b for b in val.split(m) if len(b) >= 2]

        def validation_loss() -> float:
            alignment.eval()
            with torch.no_grad():
                total = 0.0
                for b in val_batches:
                    lk = alignment.log_kernel(t1[b], t2[b]).double()
                    log_r, log_c, _ = batch_marginals(lp1[b].double(), lp2[b].double())
                    tol = max(self.sinkhorn_tol, _VALIDATION_SINKHORN_TOL)
                    res = sinkhorn_log(lk, log_r, log_c, max_iter=self.sinkhorn_max_iter, tol=tol)
                    total += float(-conditional_entropy_of_plan(res.log_plan(lk))) * len(b)
            return total / max(1, sum(len(b) for b in val_batches))

        optimiser = torch.optim.Adam(alignment.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        best, best_state, best_epoch, wait = validation_loss(), copy.deepcopy(alignment.state_dict()), 0, 0
        bar = Progress(self.progress, f"alignment{suffix}", self.align_max_epochs, "epoch", "validation loss")
        try:
            for epoch in range(1, self.align_max_epochs + 1):
                alignment.train()
                for idx in tr[torch.randperm(len(tr), generator=generator).to(tr.device)].split(m):
                    if len(idx) < max(2, m // 2):
                        continue
                    loss = self._alignment_loss(alignment, t1[idx], t2[idx], lp1[idx], lp2[idx])
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                value = validation_loss()
                bar.update(epoch, value)
                if value < best - _MIN_IMPROVEMENT:
                    best, best_state, best_epoch, wait = value, copy.deepcopy(alignment.state_dict()), epoch, 0
                else:
                    wait += 1
                    if wait >= self.align_patience:
                        break
        finally:
            bar.close()
        alignment.load_state_dict(best_state)
        alignment.eval()
        return best_epoch

    # ---------------------------------------------------------------------------------------------- estimating
    def estimate(self, x1: ArrayLike, x2: ArrayLike, y: ArrayLike | None = None) -> BatchPIDResult:
        """PID (bits) of held-out samples, averaged over batches of ``eval_batch_size`` pairs and over seeds.

        Parameters
        ----------
        x1, x2 : array_like, shapes (n_samples, d1) and (n_samples, d2)
            Held-out samples, with the feature dimensions seen by :meth:`fit`.
        y : array_like, shape (n_samples,), optional
            Held-out labels. They do not enter the estimate (the classifiers stand for :math:`p(y \\mid \\cdot)`);
            they give the diagnostics' cross-entropies. Without them the validation split's are reported.

        Returns
        -------
        BatchPIDResult
            Parts, total, spread over batches and seeds, diagnostics.

        Raises
        ------
        EstimationError
            If the estimator is not fitted.
        InvalidJointError
            For NaN/inf, mismatched lengths, wrong dimensions, feature dimensions other than at fit, labels not
            seen at fit, or fewer than 2 samples.
        """
        if not hasattr(self, "fitted_"):
            raise EstimationError("this BatchEstimator is not fitted yet; call fit(x1, x2, y) first")
        self._validate_params()
        self._warnings = list(getattr(self, "_warnings", []))
        x1_np, x2_np = _as_features(x1, "x1"), _as_features(x2, "x2")
        arrays = {"x1": x1_np, "x2": x2_np}
        codes = None
        if y is not None:
            y_np = _as_labels(y)
            arrays["y"] = y_np
        n = _check_lengths(**arrays)
        for name, arr, dim in (("x1", x1_np, self.n_features_in_[0]), ("x2", x2_np, self.n_features_in_[1])):
            if arr.shape[1] != dim:
                raise InvalidJointError(f"{name} has {arr.shape[1]} features, but the estimator was fitted on {dim}")
        if n < 2:
            raise InvalidJointError(f"too few samples to estimate: got {n}, need at least 2 (better: several batches)")
        if y is not None:
            codes = np.searchsorted(self.classes_, y_np)
            unseen = (codes >= len(self.classes_)) | (self.classes_[np.minimum(codes, len(self.classes_) - 1)] != y_np)
            if unseen.any():
                raise InvalidJointError(
                    f"y has labels not seen by fit: {np.unique(y_np[unseen]).tolist()[:10]}; "
                    f"fitted labels are {self.classes_.tolist()[:10]}"
                )

        m = min(self._eval_batch_size, n)
        n_batches = max(1, n // m)
        dev = self.device_
        t1 = torch.as_tensor(x1_np, dtype=torch.float32, device=dev)
        t2 = torch.as_tensor(x2_np, dtype=torch.float32, device=dev)
        h_y = -float(np.sum(self.prior_[self.prior_ > 0] * np.log(self.prior_[self.prior_ > 0])))  # nats
        rows, errors, iters, mismatch = [], [], [], []
        quality: dict[str, list[_Quality]] = {name: [] for name in CLASSIFIERS}
        log_prior = torch.as_tensor(np.log(np.maximum(self.prior_, PROB_FLOOR)), device=dev)
        for seed_index, fitted in enumerate(self.fitted_):
            lp = {
                "x1": self._log_proba_on(fitted.log_proba["x1"], self.classifier1, (t1,), (x1_np,)).double(),
                "x2": self._log_proba_on(fitted.log_proba["x2"], self.classifier2, (t2,), (x2_np,)).double(),
                "x1x2": self._log_proba_on(
                    fitted.log_proba["x1x2"], self.classifier12, (t1, t2), (x1_np, x2_np)
                ).double(),
            }
            for name in CLASSIFIERS:
                if codes is not None:
                    quality[name].append(_quality(lp[name], torch.as_tensor(codes, device=dev), log_prior.double()))
                else:
                    quality[name].append(fitted.validation[name])
            order = np.random.default_rng(int(self.random_state) + seed_index).permutation(n)
            for chunk in np.array_split(order, n_batches):
                idx = torch.as_tensor(chunk, device=dev)
                with torch.no_grad():
                    log_kernel = fitted.alignment.log_kernel(t1[idx], t2[idx]).double()
                    log_r, log_c, l1 = batch_marginals(lp["x1"][idx], lp["x2"][idx])
                    res = sinkhorn_log(log_kernel, log_r, log_c, max_iter=self.sinkhorn_max_iter, tol=self.sinkhorn_tol)
                    h_q = float(conditional_entropy_of_plan(res.log_plan(log_kernel)))
                    h_1 = float(conditional_entropy_of_marginal(log_r))
                    h_2 = float(conditional_entropy_of_marginal(log_c))
                    h_12 = float(_mean_entropy(lp["x1x2"][idx]))
                errors.append(res.marginal_error)
                iters.append(res.n_iter)
                mismatch.append(float(l1))
                parts_nats = (h_y - h_1 - h_2 + h_q, h_2 - h_q, h_1 - h_q, h_q - h_12, h_y - h_12)
                rows.append([nats_to_bits(v) for v in parts_nats])

        estimates = np.asarray(rows, dtype=np.float64)
        converged = max(errors) <= self.sinkhorn_tol
        if not converged:
            self._warn(
                f"Sinkhorn did not reach sinkhorn_tol={self.sinkhorn_tol:g} on "
                f"{sum(e > self.sinkhorn_tol for e in errors)} of {len(errors)} held-out batches "
                f"(largest L1 marginal error {max(errors):.3g} after "
                f"{max(iters)} iterations); increase sinkhorn_max_iter (now {self.sinkhorn_max_iter}) or sinkhorn_tol",
                ConvergenceWarning,
            )
        prior_bits = nats_to_bits(h_y)
        mean_ce = {name: float(np.mean([q.cross_entropy for q in v])) for name, v in quality.items()}
        mean_ent = {name: float(np.mean([q.mean_entropy for q in v])) for name, v in quality.items()}
        worse = {name: any(q.worse_than_prior for q in v) for name, v in quality.items()}
        prior_ce = float(np.mean([q.prior_cross_entropy for q in quality["x1"]]))
        for name in CLASSIFIERS:
            if worse[name]:
                self._warn(
                    f"classifier {name} is worse than the label prior: cross-entropy {mean_ce[name]:.4f} bits, the "
                    f"prior's {prior_ce:.4f} bits on the same labels; its information estimate is unreliable (train "
                    "longer, change hidden_dim/learning_rate, or pass a better classifier)",
                    UserWarning,
                )
            elif mean_ce[name] - mean_ent[name] > OVERCONFIDENCE_BITS:
                self._warn(
                    f"classifier {name} is overconfident: cross-entropy {mean_ce[name]:.4f} bits exceeds its mean "
                    f"predictive entropy {mean_ent[name]:.4f} bits by more than {OVERCONFIDENCE_BITS} bits, so the "
                    "information it carries is overestimated (use early stopping, more data or a calibrated model)",
                    UserWarning,
                )
        diagnostics = BatchDiagnostics(
            sinkhorn_marginal_error=float(max(errors)),
            sinkhorn_tol=float(self.sinkhorn_tol),
            sinkhorn_converged=bool(converged),
            sinkhorn_n_iter=int(max(iters)),
            label_marginal_mismatch=float(max(mismatch)),
            prior_entropy=prior_bits,
            prior_cross_entropy=prior_ce,
            cross_entropy=mean_ce,
            worse_than_prior=worse,
            mean_entropy=mean_ent,
            cross_entropy_source="held-out labels" if codes is not None else "validation split",
            batch_size=len(np.array_split(np.arange(n), n_batches)[-1]),
            n_batches=int(n_batches),
            n_classes=len(self.classes_),
            expected_rarest_label_count=float(m * self.prior_.min()),
            device=str(self.device_),
            epochs={k: tuple(f.epochs[k] for f in self.fitted_) for k in (*CLASSIFIERS, "alignment")},
            warnings=tuple(self._warnings),
        )
        means = estimates.mean(axis=0)
        std = estimates.std(axis=0, ddof=1) if len(estimates) > 1 else np.zeros(len(PARTS))
        low, high = np.percentile(estimates, [2.5, 97.5], axis=0)
        return BatchPIDResult(
            **{part: float(v) for part, v in zip(PARTS, means)},
            std={part: float(v) for part, v in zip(PARTS, std)},
            intervals={part: (float(a), float(b)) for part, a, b in zip(PARTS, low, high)},
            estimates=estimates,
            n_samples=int(n),
            n_seeds=int(self.n_seeds),
            diagnostics=diagnostics,
        )

    def fit_estimate(self, x1: ArrayLike, x2: ArrayLike, y: ArrayLike, *, test_size: float = 0.2) -> BatchPIDResult:
        """Split the samples (seeded by ``random_state``), :meth:`fit` on one part and :meth:`estimate` on the other.

        Parameters
        ----------
        test_size : float, default=0.2
            Share of the samples held out for the estimate.
        """
        if not (isinstance(test_size, (int, float)) and 0 < test_size < 1):
            raise ConfigError(f"test_size must lie strictly between 0 and 1, got {test_size!r}")
        x1_np, x2_np, y_np = _as_features(x1, "x1"), _as_features(x2, "x2"), _as_labels(y)
        n = _check_lengths(x1=x1_np, x2=x2_np, y=y_np)
        order = np.random.default_rng(self.random_state if isinstance(self.random_state, int) else None).permutation(n)
        n_test = max(2, round(test_size * n))
        test, train = order[:n_test], order[n_test:]
        self.fit(x1_np[train], x2_np[train], y_np[train])
        return self.estimate(x1_np[test], x2_np[test], y_np[test])


def _chunked(net: nn.Module, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``net(*inputs)`` in row chunks (bounded memory at inference)."""
    n = len(inputs[0])
    return torch.cat([net(*(x[i : i + _CHUNK] for x in inputs)) for i in range(0, n, _CHUNK)], dim=0)


def _fit_temperature(net: _MLP, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor) -> None:
    """Set ``net.log_temperature`` to minimise the cross-entropy of ``net`` on ``(inputs, labels)``."""
    with torch.no_grad():
        logits = _chunked(net, inputs)  # at temperature 1
    log_t = torch.zeros((), device=logits.device, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.5, max_iter=50, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(logits * torch.exp(-log_t), labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    value = float(log_t.detach().clamp(-3.0, 3.0))
    if math.isfinite(value):
        net.log_temperature.fill_(value)


def _net_log_proba(net: _MLP) -> Callable[..., torch.Tensor]:
    def log_proba(*xs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.log_softmax(_chunked(net, xs), dim=1)

    return log_proba
