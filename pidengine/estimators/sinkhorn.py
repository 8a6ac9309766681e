r"""Log-domain Sinkhorn scaling of a stack of kernels onto given row and column marginals (torch, CPU or CUDA).

For each slice :math:`k` (in pidengine: each label :math:`y`) of a log-kernel :math:`L_k \in \mathbb{R}^{m \times n}`
and target masses :math:`r_k \in \mathbb{R}_{>0}^m`, :math:`c_k \in \mathbb{R}_{>0}^n` with
:math:`\sum_a r_k(a) = \sum_b c_k(b)`, find potentials :math:`\alpha_k, \beta_k` such that

.. math::

    q_k(a, b) = \exp\big(L_k(a, b) + \alpha_k(a) + \beta_k(b)\big), \qquad
    \sum_b q_k(a, b) = r_k(a), \quad \sum_a q_k(a, b) = c_k(b).

:math:`q_k` is the KL (I-)projection of :math:`e^{L_k}` onto the set of non-negative matrices with those marginals
(Sinkhorn 1967; Cuturi 2013). The iteration alternates

.. math::

    \alpha_k(a) \leftarrow \log r_k(a) - \log \sum_b e^{L_k(a, b) + \beta_k(b)}, \qquad
    \beta_k(b) \leftarrow \log c_k(b) - \log \sum_a e^{L_k(a, b) + \alpha_k(a)},

so after each step the column marginals hold exactly and the row marginals carry the whole violation, which is
measured every iteration as :math:`\sum_{k,a} |\sum_b q_k(a, b) - r_k(a)|` (probability mass; L1).

The potentials stay in the log domain. Each log-sum-exp is evaluated as a batched matrix-vector product with a
kernel exponentiated once, shifted by its row (column) maxima, and with the potential shifted by its maximum, which
is exact unless a sum underflows; a sum that underflows (or is not finite) is recomputed with ``torch.logsumexp``.
A non-finite iterate is rolled back to the last finite one with a :class:`~pidengine.exceptions.ConvergenceWarning`.
Device and dtype follow the inputs.

References
----------
1. R. Sinkhorn (1967). Diagonal equivalence to matrices with prescribed row and column sums.
   *Amer. Math. Monthly* 74(4).
2. M. Cuturi (2013). Sinkhorn distances: lightspeed computation of optimal transport. *NeurIPS*.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from pidengine.exceptions import ConvergenceWarning


@dataclass(frozen=True)
class SinkhornResult:
    """Potentials of a Sinkhorn scaling and the evidence of its convergence.

    Attributes
    ----------
    alpha, beta : torch.Tensor, shapes (K, m) and (K, n)
        Row and column potentials (nats); ``log q = log_kernel + alpha[:, :, None] + beta[:, None, :]``.
    n_iter : int
        Iterations run.
    marginal_error : float
        L1 violation of the row marginals (probability mass) after the last iteration; the column marginals hold
        to rounding.
    converged : bool
        Whether ``marginal_error <= tol``.
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    n_iter: int
    marginal_error: float
    converged: bool

    def log_plan(self, log_kernel: torch.Tensor) -> torch.Tensor:
        """``log q`` of shape (K, m, n) for the kernel the potentials were computed on."""
        return log_kernel + self.alpha[:, :, None] + self.beta[:, None, :]


class _ShiftedExp:
    """Row and column log-sum-exp of ``L + potential`` through matrix-vector products with ``exp(L - max)``."""

    def __init__(self, log_kernel: torch.Tensor) -> None:
        self.log_kernel = log_kernel
        self.row_max = log_kernel.amax(dim=2, keepdim=True)  # (K, m, 1)
        self.col_max = log_kernel.amax(dim=1, keepdim=True)  # (K, 1, n)
        self.rows = torch.exp(log_kernel - self.row_max)  # each row's largest entry is 1
        # Stored transposed and contiguous: both updates are then plain batched matrix-vector products.
        self.cols = torch.exp(log_kernel - self.col_max).transpose(1, 2).contiguous()
        self.tiny = torch.finfo(log_kernel.dtype).tiny

    def _lse(self, scaled: torch.Tensor, shift: torch.Tensor, potential: torch.Tensor, dim: int) -> torch.Tensor:
        top = potential.amax(dim=1, keepdim=True)
        vec = torch.exp(potential - top)
        if scaled.is_cuda:
            sums = (scaled @ vec.unsqueeze(-1)).squeeze(-1)
        else:
            # On the CPU a batched matrix-vector product is several times slower than one gemv per slice.
            sums = torch.stack([torch.mv(s, v) for s, v in zip(scaled, vec)])
        out = torch.log(sums) + shift + top
        if bool((sums <= self.tiny * 1e3).any()) or not bool(torch.isfinite(out).all()):
            # The fast path under- or overflowed somewhere: recompute this update exactly.
            broadcast = potential[:, None, :] if dim == 2 else potential[:, :, None]
            out = torch.logsumexp(self.log_kernel + broadcast, dim=dim)
        return out

    def row_lse(self, beta: torch.Tensor) -> torch.Tensor:
        """:math:`\\log \\sum_b e^{L(a, b) + \\beta(b)}`, shape (K, m)."""
        return self._lse(self.rows, self.row_max.squeeze(2), beta, dim=2)

    def col_lse(self, alpha: torch.Tensor) -> torch.Tensor:
        """:math:`\\log \\sum_a e^{L(a, b) + \\alpha(a)}`, shape (K, n)."""
        return self._lse(self.cols, self.col_max.squeeze(1), alpha, dim=1)


def sinkhorn_log(
    log_kernel: torch.Tensor,
    log_row: torch.Tensor,
    log_col: torch.Tensor,
    *,
    max_iter: int = 1000,
    tol: float = 1e-6,
    beta: torch.Tensor | None = None,
) -> SinkhornResult:
    r"""Scale each slice of ``exp(log_kernel)`` to the marginals ``exp(log_row)``, ``exp(log_col)`` (no autograd).

    Parameters
    ----------
    log_kernel : torch.Tensor, shape (K, m, n)
        Log of the unnormalised kernels; finite.
    log_row, log_col : torch.Tensor, shapes (K, m) and (K, n)
        Log target masses; for each ``k`` both must have the same total mass (the problem is infeasible otherwise).
    max_iter : int, default=1000
        Largest number of row-and-column updates.
    tol : float, default=1e-6
        Stop once the L1 violation of the row marginals (probability mass) is at most ``tol``.
    beta : torch.Tensor, shape (K, n), optional
        Starting column potentials (warm start); zeros by default.

    Returns
    -------
    SinkhornResult
        Potentials, iterations, final marginal violation and whether it met ``tol``. Not converging is reported
        there, not raised; the caller decides how loudly to say so.

    Examples
    --------
    >>> import torch
    >>> kernel = torch.zeros(1, 2, 2, dtype=torch.float64)
    >>> row = torch.log(torch.tensor([[0.3, 0.2]], dtype=torch.float64))
    >>> col = torch.log(torch.tensor([[0.1, 0.4]], dtype=torch.float64))
    >>> result = sinkhorn_log(kernel, row, col)
    >>> result.converged, torch.exp(result.log_plan(kernel)).sum(2).numpy().round(6).tolist()
    (True, [[0.3, 0.2]])
    """
    with torch.no_grad():
        lse = _ShiftedExp(log_kernel)
        row_target = torch.exp(log_row)
        beta = torch.zeros_like(log_col) if beta is None else beta.detach().clone()
        alpha = log_row - lse.row_lse(beta)
        error, n_iter = float("inf"), 0
        last_good = (alpha, beta)
        for n_iter in range(1, max_iter + 1):
            beta = log_col - lse.col_lse(alpha)
            row_lse = lse.row_lse(beta)
            if not (bool(torch.isfinite(beta).all()) and bool(torch.isfinite(row_lse).all())):
                warnings.warn(
                    f"Sinkhorn produced a non-finite iterate at iteration {n_iter}; returning the last finite one "
                    "(check the kernel and the marginals for extreme values)",
                    ConvergenceWarning,
                    stacklevel=2,
                )
                alpha, beta = last_good
                break
            error = float((torch.exp(alpha + row_lse) - row_target).abs().sum())
            last_good = (alpha, beta)
            if error <= tol:
                break
            alpha = log_row - row_lse
    return SinkhornResult(alpha=alpha, beta=beta, n_iter=n_iter, marginal_error=error, converged=error <= tol)


def sinkhorn_unrolled(
    log_kernel: torch.Tensor, log_row: torch.Tensor, log_col: torch.Tensor, beta: torch.Tensor, n_iter: int
) -> torch.Tensor:
    """``log q`` after ``n_iter`` differentiable Sinkhorn updates started from (detached) column potentials ``beta``.

    Used for training: the potentials of a converged :func:`sinkhorn_log` run are refined by a few updates that
    autograd records, so the gradient with respect to ``log_kernel`` accounts for the re-projection onto the
    marginals (a truncated unrolled gradient).
    """
    beta = beta.detach()
    alpha = log_row - torch.logsumexp(log_kernel + beta[:, None, :], dim=2)
    for _ in range(max(0, n_iter - 1)):
        beta = log_col - torch.logsumexp(log_kernel + alpha[:, :, None], dim=1)
        alpha = log_row - torch.logsumexp(log_kernel + beta[:, None, :], dim=2)
    beta = log_col - torch.logsumexp(log_kernel + alpha[:, :, None], dim=1)
    return log_kernel + alpha[:, :, None] + beta[:, None, :]
