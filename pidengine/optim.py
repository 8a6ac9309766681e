"""The one minibatch training loop with early stopping that pidengine's networks share."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch


def train_early_stopping(
    module: torch.nn.Module,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    validation_loss: Callable[[], float],
    n_rows: int,
    optimizer: torch.optim.Optimizer,
    *,
    batch_size: int,
    max_epochs: int,
    patience: int,
    generator: torch.Generator,
    device: str | torch.device = "cpu",
    min_batch_rows: int = 1,
    validate_initial: bool = False,
    after_epoch: Callable[[int, float], None] | None = None,
) -> int:
    """Train ``module`` on shuffled minibatches of ``n_rows`` rows; keep the weights of the best validation epoch.

    ``batch_loss(rows)`` is the training loss of a minibatch of row indices; ``validation_loss()`` is evaluated after
    every epoch with the module in eval mode. Training stops when it has not improved by 1e-4 for ``patience``
    epochs. Returns the best epoch (0: the initial weights were never beaten); the module is left in eval mode.

    A minibatch of fewer than ``min_batch_rows`` rows (the last of an epoch) is skipped. With ``validate_initial`` the
    initial weights are validated too and the first epoch must beat them (by default it is always kept).
    ``after_epoch(epoch, loss)`` is called with every epoch's validation loss.
    """
    best_loss, best_state, best_epoch, stale = float("inf"), copy.deepcopy(module.state_dict()), 0, 0
    if validate_initial:
        module.eval()
        with torch.no_grad():
            best_loss = validation_loss()
    for epoch in range(1, max_epochs + 1):
        module.train()
        for rows in torch.randperm(n_rows, generator=generator).split(batch_size):
            if len(rows) < min_batch_rows:
                continue
            loss = batch_loss(rows.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        module.eval()
        with torch.no_grad():
            loss_now = validation_loss()
        if after_epoch is not None:
            after_epoch(epoch, loss_now)
        if loss_now < best_loss - 1e-4:
            best_loss, best_state, best_epoch, stale = loss_now, copy.deepcopy(module.state_dict()), epoch, 0
        else:
            stale += 1
            if stale >= patience:
                break
    module.load_state_dict(best_state)
    module.eval()
    return best_epoch
