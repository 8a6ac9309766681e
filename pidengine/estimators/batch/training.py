r"""How the BATCH networks are trained: each classifier on cross-entropy, then calibrated by a temperature; the
alignment networks to minimise :math:`I_q(X_1, X_2; Y)` through the Sinkhorn projection of each training batch.
Both run the shared early-stopping loop (:func:`pidengine.optim.train_early_stopping`) on the validation split and
keep the best epoch's weights."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from pidengine.estimators.batch.networks import MLP, Alignment, forward_in_chunks
from pidengine.estimators.batch.objective import batch_marginals, conditional_entropy_of_plan
from pidengine.estimators.progress import Progress
from pidengine.estimators.sinkhorn import sinkhorn_log, sinkhorn_unrolled
from pidengine.optim import train_early_stopping

if TYPE_CHECKING:  # the estimator holds the settings and calls these functions
    from pidengine.estimators.batch.estimator import BatchEstimator

# Training batches need only a rough projection (float32; the unrolled updates refine it): looser settings.
_TRAIN_SINKHORN_TOL = 1e-3
_TRAIN_SINKHORN_MAX_ITER = 50
_VALIDATION_SINKHORN_TOL = 1e-4


def train_classifier(
    net: MLP,
    inputs: tuple[torch.Tensor, ...],
    ty: torch.Tensor,
    tr: torch.Tensor,
    val: torch.Tensor,
    generator: torch.Generator,
    stage: str,
    settings: BatchEstimator,
) -> int:
    """Cross-entropy training with early stopping on the validation split; keeps the best epoch's weights."""
    val_inputs = tuple(x[val] for x in inputs)

    def batch_loss(rows: torch.Tensor) -> torch.Tensor:
        idx = tr[rows]
        return F.cross_entropy(net(*(x[idx] for x in inputs)), ty[idx])

    def validation_loss() -> float:
        return float(F.cross_entropy(forward_in_chunks(net, val_inputs), ty[val]))

    bar = Progress(settings.progress, stage, settings.max_epochs, "epoch", "validation loss")
    try:
        best_epoch = train_early_stopping(
            net,
            batch_loss,
            validation_loss,
            len(tr),
            _adam(net, settings),
            batch_size=settings.batch_size,
            max_epochs=settings.max_epochs,
            patience=settings.patience,
            generator=generator,
            device=tr.device,
            after_epoch=bar.update,
        )
    finally:
        bar.close()
    if settings.calibrate:
        fit_temperature(net, val_inputs, ty[val])
    return best_epoch


def fit_temperature(net: MLP, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor) -> None:
    """Set ``net.log_temperature`` to minimise the cross-entropy of ``net`` on ``(inputs, labels)``."""
    with torch.no_grad():
        logits = forward_in_chunks(net, inputs)  # at temperature 1
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


def train_alignment(
    alignment: Alignment,
    t1: torch.Tensor,
    t2: torch.Tensor,
    lp1: torch.Tensor,
    lp2: torch.Tensor,
    tr: torch.Tensor,
    val: torch.Tensor,
    generator: torch.Generator,
    suffix: str,
    settings: BatchEstimator,
) -> int:
    """Minimise :math:`I_q` on training batches; early stopping on fixed validation batches, which the initial
    coupling is measured on too (an epoch is kept only if it beats it)."""
    m = min(settings.batch_size, len(tr))
    val_batches = [b for b in val.split(m) if len(b) >= 2]

    def batch_loss(rows: torch.Tensor) -> torch.Tensor:
        idx = tr[rows]
        return _alignment_loss(settings, alignment, t1[idx], t2[idx], lp1[idx], lp2[idx])

    def validation_loss() -> float:
        total = 0.0
        for b in val_batches:
            lk = alignment.log_kernel(t1[b], t2[b]).double()
            log_r, log_c, _ = batch_marginals(lp1[b].double(), lp2[b].double())
            tol = max(settings.sinkhorn_tol, _VALIDATION_SINKHORN_TOL)
            res = sinkhorn_log(lk, log_r, log_c, max_iter=settings.sinkhorn_max_iter, tol=tol)
            total += float(-conditional_entropy_of_plan(res.log_plan(lk))) * len(b)
        return total / max(1, sum(len(b) for b in val_batches))

    bar = Progress(settings.progress, f"alignment{suffix}", settings.align_max_epochs, "epoch", "validation loss")
    try:
        return train_early_stopping(
            alignment,
            batch_loss,
            validation_loss,
            len(tr),
            _adam(alignment, settings),
            batch_size=m,
            max_epochs=settings.align_max_epochs,
            patience=settings.align_patience,
            generator=generator,
            device=tr.device,
            min_batch_rows=max(2, m // 2),  # a short last batch would couple too few pairs
            validate_initial=True,
            after_epoch=bar.update,
        )
    finally:
        bar.close()


def _adam(module: torch.nn.Module, settings: BatchEstimator) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)


def _alignment_loss(
    settings: BatchEstimator,
    alignment: Alignment,
    t1: torch.Tensor,
    t2: torch.Tensor,
    lp1: torch.Tensor,
    lp2: torch.Tensor,
) -> torch.Tensor:
    r""":math:`-H_q(Y \mid X_1, X_2)` (nats, differentiable) of one training batch."""
    log_kernel = alignment.log_kernel(t1, t2)
    log_r, log_c, _ = batch_marginals(lp1, lp2)
    result = sinkhorn_log(
        log_kernel.detach(),
        log_r,
        log_c,
        max_iter=min(settings.sinkhorn_max_iter, _TRAIN_SINKHORN_MAX_ITER),
        tol=max(settings.sinkhorn_tol, _TRAIN_SINKHORN_TOL),
    )
    log_q = sinkhorn_unrolled(log_kernel, log_r, log_c, result.beta, settings.sinkhorn_unroll)
    return -conditional_entropy_of_plan(log_q)
