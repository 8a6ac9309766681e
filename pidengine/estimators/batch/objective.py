r"""The quantities of one batch, in nats: the :math:`\Delta_p` constraints of the batch (the common label marginal of
:mod:`pidengine.estimators.batch`) and the conditional entropies the parts are read from."""

from __future__ import annotations

import torch


def batch_marginals(log_p1: torch.Tensor, log_p2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Log targets :math:`\log r` (|Y|, m) and :math:`\log c` (|Y|, n) of a batch, and the L1 label mismatch.

    ``log_p1[a, y] = log p̂(y | x1_a)`` and ``log_p2[b, y] = log p̂(y | x2_b)``. Both targets carry the common label
    marginal :math:`\pi_B = (\pi_1 + \pi_2)/2` (see :mod:`pidengine.estimators.batch`), so every label's two
    marginals have the same mass and the per-label Sinkhorn problem is feasible.
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


def mean_entropy(log_p: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the rows of ``log_p`` (n, |Y|)."""
    return -(torch.exp(log_p) * log_p).sum(1).mean()
