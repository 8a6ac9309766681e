r"""How the BATCH networks are trained: each classifier on cross-entropy, then calibrated by a temperature; the
alignment networks to minimise :math:`I_q(X_1, X_2; Y)` through the Sinkhorn projection of each training batch.
Both stop early on the validation split and keep the best epoch's weights."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from pidengine.estimators.batch.networks import MLP, Alignment, forward_in_chunks
from pidengine.estimators.batch.objective import batch_marginals, conditional_entropy_of_plan
from pidengine.estimators.progress import Progress
from pidengine.estimators.sinkhorn import sinkhorn_log, sinkhorn_unrolled

if TYPE_CHECKING:  # the estimator holds the settings and calls these functions
    from pidengine.estimators.batch.estimator import BatchEstimator

# Early stopping: a validation loss must improve by this much (nats per sample) to count as progress.
_MIN_IMPROVEMENT = 1e-4
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
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    val_inputs = tuple(x[val] for x in inputs)
    best, best_state, best_epoch, wait = math.inf, copy.deepcopy(net.state_dict()), 0, 0
    bar = Progress(settings.progress, stage, settings.max_epochs, "epoch", "validation loss")
    try:
        for epoch in range(1, settings.max_epochs + 1):
            net.train()
            for idx in tr[torch.randperm(len(tr), generator=generator).to(tr.device)].split(settings.batch_size):
                loss = F.cross_entropy(net(*(x[idx] for x in inputs)), ty[idx])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
            net.eval()
            with torch.no_grad():
                value = float(F.cross_entropy(forward_in_chunks(net, val_inputs), ty[val]))
            bar.update(epoch, value)
            if value < best - _MIN_IMPROVEMENT:
                best, best_state, best_epoch, wait = value, copy.deepcopy(net.state_dict()), epoch, 0
            else:
                wait += 1
                if wait >= settings.patience:
                    break
    finally:
        bar.close()
    net.load_state_dict(best_state)
    net.eval()
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
    """Minimise :math:`I_q` on training batches; early stopping on fixed validation batches."""
    m = min(settings.batch_size, len(tr))
    val_batches = [b for b in val.split(m) if len(b) >= 2]

    def validation_loss() -> float:
        alignment.eval()
        with torch.no_grad():
            total = 0.0
            for b in val_batches:
                lk = alignment.log_kernel(t1[b], t2[b]).double()
                log_r, log_c, _ = batch_marginals(lp1[b].double(), lp2[b].double())
                tol = max(settings.sinkhorn_tol, _VALIDATION_SINKHORN_TOL)
                res = sinkhorn_log(lk, log_r, log_c, max_iter=settings.sinkhorn_max_iter, tol=tol)
                total += float(-conditional_entropy_of_plan(res.log_plan(lk))) * len(b)
        return total / max(1, sum(len(b) for b in val_batches))

    optimiser = torch.optim.Adam(alignment.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    best, best_state, best_epoch, wait = validation_loss(), copy.deepcopy(alignment.state_dict()), 0, 0
    bar = Progress(settings.progress, f"alignment{suffix}", settings.align_max_epochs, "epoch", "validation loss")
    try:
        for epoch in range(1, settings.align_max_epochs + 1):
            alignment.train()
            for idx in tr[torch.randperm(len(tr), generator=generator).to(tr.device)].split(m):
                if len(idx) < max(2, m // 2):
                    continue
                loss = _alignment_loss(settings, alignment, t1[idx], t2[idx], lp1[idx], lp2[idx])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
            value = validation_loss()
            bar.update(epoch, value)
            if value < best - _MIN_IMPROVEMENT:
                best, best_state, best_epoch, wait = value, copy.deepcopy(alignment.state_dict()), epoch, 0
            else:
                wait += 1
                if wait >= settings.align_patience:
                    break
    finally:
        bar.close()
    alignment.load_state_dict(best_state)
    alignment.eval()
    return best_epoch


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
