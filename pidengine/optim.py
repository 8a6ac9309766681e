"""The one minibatch training loop with early stopping that pidengine's classifiers share."""

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
) -> int:
    """Train ``module`` on shuffled minibatches of ``n_rows`` rows; keep the weights of the best validation epoch.

    ``batch_loss(rows)`` is the training loss of a minibatch of row indices; ``validation_loss()`` is evaluated after
    every epoch with the module in eval mode. Training stops when it has not improved by 1e-4 for ``patience``
    epochs. Returns the best epoch (0: the initial weights were never beaten); the module is left in eval mode.
    """
    best_loss, best_state, best_epoch, stale = float("inf"), copy.deepcopy(module.state_dict()), 0, 0
    for epoch in range(1, max_epochs + 1):
        module.train()
        for rows in torch.randperm(n_rows, generator=generator).split(batch_size):
            loss = batch_loss(rows.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        module.eval()
        with torch.no_grad():
            loss_now = validation_loss()
        if loss_now < best_loss - 1e-4:
            best_loss, best_state, best_epoch, stale = loss_now, copy.deepcopy(module.state_dict()), epoch, 0
        else:
            stale += 1
            if stale >= patience:
                break
    module.load_state_dict(best_state)
    module.eval()
    return best_epoch
