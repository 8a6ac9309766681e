"""The BATCH estimator itself: settings, fitting (classifiers, then alignment networks, per seed) and estimating on
held-out batches; the method is described in :mod:`pidengine.estimators.batch`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.estimators.batch.inputs import (
    PROB_FLOOR,
    ProbaFn,
    as_features,
    as_labels,
    check_lengths,
    checked_log_proba,
    resolve_device,
)
from pidengine.estimators.batch.quality import OVERCONFIDENCE_BITS, ClassifierQuality, classifier_quality
from pidengine.estimators.batch.results import CLASSIFIERS, BatchDiagnostics, BatchPIDResult
from pidengine.estimators.constraints import Interval, check_params
from pidengine.estimators.progress import ProgressFn, check_progress
from pidengine.exceptions import ConfigError, ConvergenceWarning, EstimationError, InvalidJointError
from pidengine.parts import PARTS, nats_to_bits

# torch and the modules built on it (networks, objective, training, Sinkhorn) load where the estimator fits and
# estimates: the pipeline's settings read its parameters and their bounds without them.
if TYPE_CHECKING:
    import torch

    from pidengine.estimators.batch.networks import Alignment

# Fewest samples `fit` accepts, and the fewest per label a batch should expect before a warning.
MIN_FIT_SAMPLES = 20
MIN_LABEL_COUNT_PER_BATCH = 4


@dataclass
class _Fitted:
    """Everything one seed learned: the three log-probability functions and the alignment networks."""

    log_proba: dict[str, Callable[..., torch.Tensor]]
    alignment: Alignment
    epochs: dict[str, int]
    validation: dict[str, ClassifierQuality]  # classifier -> its quality on the validation split


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
    :math:`\alpha, \beta` that enforce the batch's :math:`\Delta_p` constraints (package docstring). All results
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
        Width of every hidden layer (classifiers and alignment networks), at most 4096.
    n_layers : int, default=2
        Hidden layers per network, at most 16.
    embed_dim : int, default=32
        Embedding size :math:`d` per label of the alignment networks, at most 1024.
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
        Independently trained models (seeds ``random_state``, ``random_state + 1``, ...), at most 100; the spread of
        the result covers them.
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

    # align_max_epochs may be 0: the alignment networks keep their initial coupling. The networks' sizes are capped:
    # at the caps each of the five networks has about 250 million weights, 1 GiB in float32 and twice that in Adam's
    # moments while it trains.
    parameter_constraints: ClassVar[dict[str, Interval]] = {
        "hidden_dim": Interval(int, ge=1, le=4096, reason="the networks must fit in memory"),
        "n_layers": Interval(int, ge=0, le=16, reason="the networks must fit in memory"),
        "embed_dim": Interval(int, ge=1, le=1024, reason="the networks must fit in memory"),
        "batch_size": Interval(int, ge=2),
        "max_epochs": Interval(int, ge=1),
        "align_max_epochs": Interval(int, ge=0),
        "patience": Interval(int, ge=1),
        "align_patience": Interval(int, ge=1),
        "learning_rate": Interval(float, gt=0),
        "weight_decay": Interval(float, ge=0),
        "validation_fraction": Interval(float, gt=0, lt=1),
        "sinkhorn_max_iter": Interval(int, ge=1),
        "sinkhorn_tol": Interval(float, gt=0),
        "sinkhorn_unroll": Interval(int, ge=1),
        "score_bound": Interval(float, gt=0),
        "n_seeds": Interval(int, ge=1, le=100, reason="each seed trains every network again"),
        "random_state": Interval(int),
    }

    # ---------------------------------------------------------------------------------------------- settings
    def _validate_params(self) -> None:
        check_params(vars(self), self.parameter_constraints)
        if self.eval_batch_size is not None and not (
            isinstance(self.eval_batch_size, (int, np.integer)) and self.eval_batch_size >= 2
        ):
            raise ConfigError(f"eval_batch_size must be None or an integer >= 2, got {self.eval_batch_size!r}")
        for param in ("classifier1", "classifier2", "classifier12"):
            value = getattr(self, param)
            if value is not None and not callable(value):
                raise ConfigError(f"{param} must be None or a callable returning class probabilities, got {value!r}")
        if not isinstance(self.calibrate, bool):
            raise ConfigError(f"calibrate must be True or False, got {self.calibrate!r}")
        check_progress(self.progress)
        resolve_device(self.device)

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
        import torch

        self._validate_params()
        x1_np, x2_np, y_np = as_features(x1, "x1"), as_features(x2, "x2"), as_labels(y)
        n = check_lengths(x1=x1_np, x2=x2_np, y=y_np)
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
        self.device_ = resolve_device(self.device)
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
        import torch

        from pidengine.estimators.batch.networks import MLP, Alignment, log_proba_of, standardiser
        from pidengine.estimators.batch.training import train_alignment, train_classifier

        n_classes = len(self.classes_)
        suffix = f" (seed {seed_index})" if self.n_seeds > 1 else ""
        log_proba: dict[str, Callable[..., torch.Tensor]] = {}
        epochs: dict[str, int] = {}
        validation: dict[str, ClassifierQuality] = {}
        log_prior = torch.as_tensor(np.log(np.maximum(self.prior_, PROB_FLOOR)), device=self.device_)
        specs = (
            ("x1", "classifier1", (t1,), (x1_np,)),
            ("x2", "classifier2", (t2,), (x2_np,)),
            ("x1x2", "classifier12", (t1, t2), (x1_np, x2_np)),
        )
        for name, param, inputs, inputs_np in specs:
            user = getattr(self, param)
            if user is not None:
                fn = checked_log_proba(user, param, self.classes_, self.device_)
                epochs[name] = 0
            else:
                cat = torch.cat([x[tr] for x in inputs], dim=1)
                net = MLP(*standardiser(cat), self.hidden_dim, self.n_layers, n_classes).to(self.device_)
                stage = f"classifier {name}{suffix}"
                epochs[name] = train_classifier(net, inputs, ty, tr, val, generator, stage, self)
                fn = log_proba_of(net)
            log_proba[name] = fn
            lp = fn(*(x[val] for x in inputs)) if user is None else fn(*(x[val.cpu().numpy()] for x in inputs_np))
            validation[name] = classifier_quality(lp.to(log_prior), ty[val], log_prior)

        lp1 = self._log_proba_on(log_proba["x1"], self.classifier1, (t1,), (x1_np,))
        lp2 = self._log_proba_on(log_proba["x2"], self.classifier2, (t2,), (x2_np,))
        f1 = MLP(*standardiser(t1[tr]), self.hidden_dim, self.n_layers, n_classes * self.embed_dim)
        f2 = MLP(*standardiser(t2[tr]), self.hidden_dim, self.n_layers, n_classes * self.embed_dim)
        alignment = Alignment(f1, f2, n_classes, self.embed_dim, float(self.score_bound)).to(self.device_)
        epochs["alignment"] = train_alignment(alignment, t1, t2, lp1, lp2, tr, val, generator, suffix, self)
        return _Fitted(log_proba=log_proba, alignment=alignment, epochs=epochs, validation=validation)

    def _log_proba_on(
        self,
        fn: Callable[..., torch.Tensor],
        user: ProbaFn | None,
        inputs: tuple[torch.Tensor, ...],
        inputs_np: tuple[NDArray[np.float64], ...],
    ) -> torch.Tensor:
        import torch

        out = fn(*inputs_np) if user is not None else fn(*inputs)
        return out.to(device=self.device_, dtype=torch.float32)

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
        import torch

        from pidengine.estimators.batch.objective import (
            batch_marginals,
            conditional_entropy_of_marginal,
            conditional_entropy_of_plan,
            mean_entropy,
        )
        from pidengine.estimators.sinkhorn import sinkhorn_log

        if not hasattr(self, "fitted_"):
            raise EstimationError("this BatchEstimator is not fitted yet; call fit(x1, x2, y) first")
        self._validate_params()
        self._warnings = list(getattr(self, "_warnings", []))
        x1_np, x2_np = as_features(x1, "x1"), as_features(x2, "x2")
        arrays = {"x1": x1_np, "x2": x2_np}
        codes = None
        if y is not None:
            y_np = as_labels(y)
            arrays["y"] = y_np
        n = check_lengths(**arrays)
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
        quality: dict[str, list[ClassifierQuality]] = {name: [] for name in CLASSIFIERS}
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
                    labels = torch.as_tensor(codes, device=dev)
                    quality[name].append(classifier_quality(lp[name], labels, log_prior.double()))
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
                    h_12 = float(mean_entropy(lp["x1x2"][idx]))
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
        x1_np, x2_np, y_np = as_features(x1, "x1"), as_features(x2, "x2"), as_labels(y)
        n = check_lengths(x1=x1_np, x2=x2_np, y=y_np)
        order = np.random.default_rng(self.random_state if isinstance(self.random_state, int) else None).permutation(n)
        n_test = max(2, round(test_size * n))
        test, train = order[:n_test], order[n_test:]
        self.fit(x1_np[train], x2_np[train], y_np[train])
        return self.estimate(x1_np[test], x2_np[test], y_np[test])
