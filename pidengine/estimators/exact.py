r"""The exact estimator: a specialised primal-dual interior-point method for the BROJA program.

The optimum :math:`q^*` of :math:`\min_{q \in \Delta_p} -H_q(Y \mid X_1, X_2)` has the form

.. math::

    q^*(x_1, x_2, y) = w(x_1, x_2)\, e^{\lambda(x_1, y) + \mu(x_2, y)}, \qquad
    \sum_y e^{\lambda(x_1, y) + \mu(x_2, y)} \le 1 \ \text{(equality where } w > 0\text{)},

where :math:`(\lambda, \mu)` solve the Lagrange dual (:mod:`pidengine.estimators.base`) and :math:`w(x_1, x_2) \ge 0`
is the mass of each cell. The method works on exactly these variables: the dual :math:`(\lambda, \mu)` — only
:math:`(|X_1| + |X_2|)\,|Y|` of them — and, per cell :math:`c = (x_1, x_2)`, the weight :math:`w_c` and the slack
:math:`u_c = 1 - \sum_y e^{\lambda + \mu}` of its dual constraint. It follows the central path
:math:`w_c u_c = \tau \to 0` with Mehrotra's predictor-corrector, and solves the KKT conditions

.. math::

    \sum_{x_2} w_c e^{\theta_c} = p(x_1, \cdot), \quad \sum_{x_1} w_c e^{\theta_c} = p(x_2, \cdot), \quad
    \sum_y e^{\theta_{c,y}} + u_c = 1, \quad w_c u_c = \tau, \qquad \theta_c = \lambda(x_1, \cdot) + \mu(x_2, \cdot).

Eliminating :math:`w` and :math:`u` per cell leaves a Newton system in :math:`(\lambda, \mu)` alone, with matrix
:math:`\sum_c P_c^\top \big(\operatorname{diag}(q_c) + \tfrac{w_c}{u_c} e^{\theta_c} e^{\theta_c\top}\big) P_c`;
its :math:`\lambda` part is block diagonal, so each iteration factors blocks of size :math:`|Y|` and one dense
Schur complement of size :math:`|X_2|\,|Y|` (the smaller side is put second). The slack is a variable of its own,
so the complementarity is never computed as a difference :math:`1 - \sum_y e^{\theta}` of nearly equal numbers,
which keeps the iteration accurate down to gaps of :math:`10^{-12}` bits.

The iteration is written once, in torch, for a batch of joints of one shape (a single joint is a batch of one),
so it runs on the CPU or on a CUDA GPU. Where the path ends without meeting the certificate (degenerate problems,
where the dual optimum is not attained and the Newton systems become singular), an active-set Newton *polish*
solves the optimality conditions exactly on the support the path has revealed. Either way the result is then
certified by the base class: the duality gap of :math:`q` against the dual point made exactly feasible, and the
marginal violation.

References
----------
1. Bertschinger, Rauh, Olbrich, Jost, Ay (2014). Quantifying unique information. Entropy 16(4).
2. Mehrotra (1992). On the implementation of a primal-dual interior point method. SIAM J. Optim. 2(4).
3. Liang et al. (2023). Quantifying & modeling multimodal interactions: an information decomposition
   framework. NeurIPS.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from pidengine.estimators.base import BasePIDEstimator, OnFailure, Solution, certificate_figures
from pidengine.estimators.constraints import Interval
from pidengine.estimators.progress import Progress, ProgressFn, check_progress
from pidengine.exceptions import ConfigError
from pidengine.parts import LN2, nats_to_bits

# torch (and SciPy's sparse solver, for the polish) load where they compute: the pipeline's settings read this module.
if TYPE_CHECKING:
    import torch

# Fraction of the distance to the boundary of w > 0, u > 0 that a step may cover.
STEP_TO_BOUNDARY = 0.99
# Largest change of any dual variable in one step of the path (nats), a trust region for the linearised
# exponentials of the marginal and slack equations: e^d against 1 + d is 7.4 against 3 at 2 nats, 148 against 6 at
# 5. At 5 (before) an overshoot could multiply the residuals a hundredfold while the centring drove w u to zero,
# and about 1 random 2 x 2 x 2 joint in 130 ended on a wrong support, uncertified (benchmarks/exact_robustness.py).
MAX_DUAL_MOVE = 2.0
# Ridge always added to the X1 blocks of the Newton matrix (probability-mass units, far below any real entry).
STATIC_RIDGE = 1e-15
# Relative ridges tried, in order, when rounding breaks the positive definiteness of a Newton matrix; each is
# relative to that matrix's largest diagonal entry before any cancellation.
RIDGES = (1e-15, 1e-12, 1e-9, 1e-6)
# The path also ends when the total complementarity sum(w u) (nats) and every residual are below these floors:
# nothing more can be gained in floating point, and the polish takes over if the certificate is not met.
COMPLEMENTARITY_FLOOR = 1e-13
RESIDUAL_FLOOR = 1e-12
# The centring target never asks for a total complementarity below this fraction of the gap tolerance.
COMPLEMENTARITY_TARGET_FLOOR = 1e-3
# In a batch, once half the joints are done, a joint still running after this many times the median count of
# finished ones (and at least STRAGGLER_MIN iterations) leaves the batch and is solved alone.
STRAGGLER_FACTOR = 3
STRAGGLER_MIN = 40
# Elements of the Newton blocks formed at once while the Schur complement is accumulated (bounds the memory).
SCHUR_CHUNK_ELEMENTS = 2**22
# The Schur complement is updated in column blocks of about this size, on and below the diagonal only.
SCHUR_COLUMN_BLOCK = 800
# Active-set polish: support updates, Newton steps per update, target residual, quasi-definite ridge, largest
# change of a dual variable in one Newton step (nats; it starts next to the optimum).
POLISH_DUAL_MOVE = 5.0
POLISH_ROUNDS = 5
POLISH_NEWTON = 12
POLISH_RESIDUAL = 1e-14
POLISH_RIDGE = 1e-14


@dataclass(frozen=True)
class Iterate:
    """Where the path ended for one joint: duals, cell weights w and slacks u (NumPy), with how and when."""

    lam: NDArray[np.float64]
    mu: NDArray[np.float64]
    w: NDArray[np.float64]
    u: NDArray[np.float64]
    status: str
    n_iter: int
    accepted: bool = False  # the certificate accepted this iterate on the path

    def solution(self, solver: str = "pidengine-ipm") -> Solution:
        e = np.exp(self.lam[:, None, :] + self.mu[None, :, :])
        return Solution(self.w[..., None] * e, self.lam, self.mu, solver, self.status, self.n_iter)


def path_following(
    pmfs: NDArray[np.float64],
    *,
    max_iter: int,
    tol: float,
    marginal_tol: float,
    device: torch.device,
    certify: Callable[[int, Iterate], bool] | None = None,
    report: Callable[[int, float], None] | None = None,
) -> list[Iterate]:
    r"""Mehrotra predictor-corrector for a batch of normalised joints of one shape ``(n, |X1|, |X2|, |Y|)``.

    Zero-mass rows, columns and labels are handled by masks. A joint stops when ``certify(index, iterate)``
    accepts an iterate whose complementarity and marginal residuals are already within the tolerances, when its
    complementarity and residuals reach their floating-point floors, when its Newton system cannot be factored,
    or, in a batch, when it straggles far behind the others. ``report(iteration, complementarity)`` is called
    after every iteration with the largest total complementarity :math:`\sum_c w_c u_c` (bits) of the joints
    still running: the central path's measure of the distance to the optimum.
    """
    import torch

    t = dict(dtype=torch.float64, device=device)
    p = torch.as_tensor(pmfs, **t)
    n_batch, _n1, _n2, _ny = p.shape
    p1, p2 = p.sum(2), p.sum(1)
    m1, m2 = p1 > 0, p2 > 0
    allowed = m1[:, :, None, :] & m2[:, None, :, :]
    valid = allowed.any(-1)
    # The dual is invariant under lam(., y) + c_y, mu(., y) - c_y: pin one mu per label.
    pinned = torch.zeros_like(m2)
    pinned.scatter_(1, p2.argmax(dim=1, keepdim=True), True)
    free2 = m2 & ~pinned
    vf = valid.to(p.dtype)

    # Start at the product q = p(x1, y) p(x2 | y), scaled so that every slack is at least 1/2.
    neg_inf = torch.tensor(-torch.inf, **t)
    lam = torch.where(m1, torch.log(p1), neg_inf)
    mu = torch.where(m2, torch.log(p2 / p2.sum(1, keepdim=True).clamp_min(1e-300)), neg_inf)
    e = torch.exp(lam[:, :, None, :] + mu[:, None, :, :])
    shift = torch.log(torch.where(valid, e.sum(-1), 0.0).amax(dim=(1, 2))) + np.log(2.0)
    lam = lam - shift[:, None, None]
    e = torch.exp(lam[:, :, None, :] + mu[:, None, :, :])
    u = torch.where(valid, 1.0 - e.sum(-1), 1.0)
    w = vf * torch.exp(shift)[:, None, None]

    tolerances = (tol * LN2, marginal_tol)
    static = (p1, p2, m1, m2, allowed, valid, free2, vf)
    done = torch.zeros(n_batch, dtype=torch.bool, device=device)
    broken = torch.zeros_like(done)
    accepted = torch.zeros_like(done)
    n_iter = torch.zeros(n_batch, dtype=torch.long, device=device)
    for iteration in range(1, max_iter + 1):
        # Only the joints still running are computed, so the cost follows the stragglers.
        idx = torch.nonzero(~done).flatten()
        if idx.numel() == 0:
            break
        finished = n_iter[done & ~broken]
        if (
            2 * idx.numel() < n_batch
            and finished.numel()
            and iteration > max(STRAGGLER_MIN, STRAGGLER_FACTOR * int(finished.median()))
        ):
            break
        state = (lam[idx], mu[idx], w[idx], u[idx], e[idx])
        ok, converged, near, new = _iteration(*(x[idx] for x in static), state, *tolerances)
        if certify is not None:
            # The certificate itself decides for iterates already close: stop at the first one it accepts.
            for position in torch.nonzero(near & ~converged).flatten().tolist():
                before = [x[position].cpu().numpy() for x in state[:4]]
                if certify(int(idx[position]), Iterate(*before, "certified on the path", int(n_iter[idx[position]]))):
                    converged[position] = True
                    accepted[idx[position]] = True
                    new = tuple(torch.where(_at(position, x), old, x) for x, old in zip(new, state))
        n_iter[idx] += (~converged).long()
        broken[idx] |= ~ok
        done[idx] |= converged | ~ok
        lam[idx], mu[idx], w[idx], u[idx], e[idx] = new
        if report is not None and bool((~converged).any()):
            running = idx[~converged]
            report(iteration, nats_to_bits((w[running] * u[running] * vf[running]).sum(dim=(1, 2)).amax()))

    arrays = [x.cpu().numpy() for x in (lam, mu, w, u, done, broken, accepted, n_iter)]
    iterates = []
    for lam_b, mu_b, w_b, u_b, done_b, broken_b, accepted_b, n_b in zip(*arrays):
        if broken_b:
            status = "singular Newton system"
        elif accepted_b:
            status = "optimal"
        elif done_b:
            status = "central path converged"
        else:
            status = f"stopped after {int(n_b)} iterations"
        iterates.append(Iterate(lam_b, mu_b, w_b, u_b, status, int(n_b), accepted=bool(accepted_b)))
    return iterates


def _at(position: int, like: torch.Tensor) -> torch.Tensor:
    """A mask selecting one joint (leading axis) of a batched tensor, broadcastable against it."""
    import torch

    mask = torch.zeros(like.shape[0], dtype=torch.bool, device=like.device)
    mask[position] = True
    return mask.reshape(-1, *([1] * (like.dim() - 1)))


def _batched_cholesky(matrix: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower Cholesky factors of matrices that are positive definite in exact arithmetic, batched.

    Forming Schur complements cancels terms up to ``scale`` (per joint: the largest diagonal entry before the
    cancellation), so rounding can break definiteness near the optimum; failed factorisations are retried with
    a growing ridge relative to ``scale`` (primal-dual regularisation: the step becomes inexact, not wrong).
    Returns the factors and, per joint (leading axis), whether all of its factorisations succeeded; failed
    ones get identity factors so the batch can go on.
    """
    import torch

    scale = scale.reshape(scale.shape + (1,) * (matrix.dim() - 1 - scale.dim())).clamp_min(1e-300)
    scale = scale.expand(matrix.shape[:-1])
    factor, info = torch.linalg.cholesky_ex(matrix)
    for ridge in RIDGES:
        failed = info > 0
        if not failed.any():
            break
        fixed = matrix[failed].clone()
        torch.diagonal(fixed, dim1=-2, dim2=-1).add_(ridge * scale[failed])
        factor[failed], info[failed] = torch.linalg.cholesky_ex(fixed)
    failed = info > 0
    factor[failed] = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    return factor, ~failed.reshape(failed.shape[0], -1).any(dim=1)


def _subtract_lower_gram(matrix: torch.Tensor, c: torch.Tensor) -> None:
    """``matrix -= c^T c`` on and below the block diagonal only, in place, batched.

    The Cholesky factorisation reads the lower triangle alone, so the blocks above the diagonal are never
    formed: for a Schur complement of size 10,000 this is about half the flops of the full product, which
    dominates an iteration at large alphabets.
    """
    size = matrix.shape[-1]
    blocks = max(1, round(size / SCHUR_COLUMN_BLOCK))
    edges = [size * k // blocks for k in range(blocks + 1)]
    for lo, hi in itertools.pairwise(edges):
        matrix[:, lo:hi, :hi].baddbmm_(c[:, :, lo:hi].transpose(1, 2), c[:, :, :hi], alpha=-1.0)


def _iteration(
    p1: torch.Tensor,
    p2: torch.Tensor,
    m1: torch.Tensor,
    m2: torch.Tensor,
    allowed: torch.Tensor,
    valid: torch.Tensor,
    free2: torch.Tensor,
    vf: torch.Tensor,
    state: tuple[torch.Tensor, ...],
    tol_nats: float,
    marginal_tol: float,
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    """One predictor-corrector step for a batch; returns, per joint, whether its Newton system could be factored,
    whether it had already converged (then it does not move), whether it was close enough for the certificate
    to be worth computing, and the new state."""
    import torch

    lam, mu, w, u, e = state
    n_batch, n1, n2, ny = e.shape
    q = w[..., None] * e
    res_slack = vf * (e.sum(-1) + u - 1.0)
    res1 = torch.where(m1, q.sum(2) - p1, 0.0)
    res2 = torch.where(m2, q.sum(1) - p2, 0.0)
    comp = w * u * vf
    feasibility = torch.maximum(res1.abs().amax(dim=(1, 2)), res2.abs().amax(dim=(1, 2)))
    near = (comp.sum(dim=(1, 2)) < 0.1 * tol_nats) & (feasibility < 0.1 * marginal_tol)
    converged = (comp.sum(dim=(1, 2)) < 0.05 * tol_nats) & (feasibility < 0.1 * marginal_tol)
    # A slack residual r makes the dual point infeasible by about r, which costs about r nats in the bound.
    slack = res_slack.abs().amax(dim=(1, 2))
    converged &= slack < 0.01 * tol_nats
    converged |= (comp.sum(dim=(1, 2)) < COMPLEMENTARITY_FLOOR) & (torch.maximum(slack, feasibility) < RESIDUAL_FLOOR)

    k = torch.where(valid, w / torch.where(valid, u, 1.0), 0.0)
    # Newton matrix blocks W_c = diag(q_c) + k_c e_c e_c^T, never formed for all cells at once: lam blocks factored,
    # Schur complement on mu (lower triangle) accumulated over chunks of X1 rows, couplings applied through structure.
    ke = k[..., None] * e
    # Rows of X1 without label y carry no variable lam(x1, y) (identity there); the static ridge keeps blocks whose
    # mass vanishes at the optimum (degenerate problems) positive definite.
    a = torch.einsum("bijy,bijz->biyz", ke, e) + torch.diag_embed(q.sum(2) + (~m1).to(q.dtype) + STATIC_RIDGE)
    l_a, ok_a = _batched_cholesky(a, torch.diagonal(a, dim1=-2, dim2=-1).amax(-1))
    d = torch.einsum("bijy,bijz->bjyz", ke, e) + torch.diag_embed(q.sum(1))
    schur = torch.zeros(n_batch, n2 * ny, n2 * ny, dtype=q.dtype, device=q.device)
    rows = max(1, SCHUR_CHUNK_ELEMENTS // max(1, n_batch * n2 * ny * ny))
    for start in range(0, n1, rows):
        part = slice(start, start + rows)
        blocks = ke[:, part, :, :, None] * e[:, part, :, None, :] + torch.diag_embed(q[:, part])
        coupling = blocks.permute(0, 1, 3, 2, 4).reshape(n_batch, -1, ny, n2 * ny)
        c = torch.linalg.solve_triangular(l_a[:, part], coupling, upper=False).reshape(n_batch, -1, n2 * ny)
        _subtract_lower_gram(schur, c)
        del blocks, coupling, c
    schur.view(n_batch, n2, ny, n2, ny).diagonal(dim1=1, dim2=3).add_(d.permute(0, 2, 3, 1))
    fixed = ~free2.reshape(n_batch, n2 * ny)
    # Pinned and absent mu variables: identity rows and columns, zero right-hand side.
    schur.masked_fill_(fixed[:, :, None] | fixed[:, None, :], 0.0)
    torch.diagonal(schur, dim1=-2, dim2=-1).add_(fixed.to(q.dtype))
    l_s, ok_s = _batched_cholesky(schur, torch.diagonal(d, dim1=-2, dim2=-1).amax(dim=(1, 2)))
    del schur

    def solve(rhs1: torch.Tensor, rhs2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.linalg.solve_triangular(l_a, rhs1[..., None], upper=False)
        t = torch.linalg.solve_triangular(l_a.transpose(-1, -2), z, upper=True)[..., 0]  # a^-1 rhs1
        # C^T t, per (x2, y): sum over x1 of W_c t(x1).
        transposed = torch.einsum("bij,bijy->bjy", torch.einsum("bijy,biy->bij", e, t), ke)
        transposed = transposed + torch.einsum("bijy,biy->bjy", q, t)
        reduced = torch.where(fixed, 0.0, rhs2.reshape(n_batch, -1) - transposed.reshape(n_batch, -1))
        dmu = torch.where(fixed, 0.0, torch.cholesky_solve(reduced[..., None], l_s)[..., 0])
        dmu = dmu.reshape(n_batch, n2, ny)
        cv = torch.einsum("bij,bijy->biy", torch.einsum("bijz,bjz->bij", e, dmu), ke)
        cv = cv + torch.einsum("bijy,bjy->biy", q, dmu)
        back = z - torch.linalg.solve_triangular(l_a, cv[..., None], upper=False)
        dlam = torch.linalg.solve_triangular(l_a.transpose(-1, -2), back, upper=True)[..., 0]
        return torch.where(m1, dlam, 0.0), dmu

    def direction(target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # Per cell: dw = k (e^T dtheta + res_slack + target / w), du = (target - u dw) / w.
        base = torch.where(valid, k * (res_slack + target / torch.where(valid, w, 1.0)), 0.0)
        dlam, dmu = solve(
            -res1 - torch.einsum("bij,bijy->biy", base, e), -res2 - torch.einsum("bij,bijy->bjy", base, e)
        )
        dtheta = dlam[:, :, None, :] + dmu[:, None, :, :]
        dw = torch.where(valid, k * torch.where(allowed, e * dtheta, 0.0).sum(-1) + base, 0.0)
        du = torch.where(valid, (target - u * dw) / torch.where(valid, w, 1.0), 0.0)
        return dlam, dmu, dw, du

    def max_step(dw: torch.Tensor, du: torch.Tensor) -> torch.Tensor:
        step = torch.ones(n_batch, dtype=q.dtype, device=q.device)
        for value, change in ((w, dw), (u, du)):
            ratio = torch.where(valid & (change < 0), -value / change, torch.inf)
            step = torch.minimum(step, ratio.amin(dim=(1, 2)))
        return step

    count = vf.sum(dim=(1, 2))
    mean_comp = comp.sum(dim=(1, 2)) / count
    _, _, dw_aff, du_aff = direction(-w * u * vf)
    step_aff = max_step(dw_aff, du_aff)[:, None, None]
    comp_aff = ((w + step_aff * dw_aff) * (u + step_aff * du_aff) * vf).sum(dim=(1, 2)) / count
    centring = torch.clamp(comp_aff / mean_comp, max=1.0) ** 3
    # Complementarity far below what the tolerance needs only inflates w/u and the Newton matrix's conditioning.
    floor = COMPLEMENTARITY_TARGET_FLOOR * tol_nats / count
    centre = torch.maximum(centring * mean_comp, floor)
    target = vf * (centre[:, None, None] - w * u - dw_aff * du_aff)
    dlam, dmu, dw, du = direction(target)
    step = torch.clamp(STEP_TO_BOUNDARY * max_step(dw, du), max=1.0)
    # The slack equation is only linearised: a long move of the dual variables can overflow exp.
    largest = torch.maximum(dlam.abs().amax(dim=(1, 2)), dmu.abs().amax(dim=(1, 2)))
    step = torch.where(largest > 0, torch.minimum(step, MAX_DUAL_MOVE / largest), step)
    ok = ok_a & ok_s
    step = torch.where(converged | ~ok, 0.0, step)[:, None, None]
    lam = lam + step * dlam
    mu = mu + step * dmu
    w = torch.where(valid, w + step * dw, 0.0)
    u = torch.where(valid, u + step * du, 1.0)
    return ok, converged, near, (lam, mu, w, u, torch.exp(lam[:, :, None, :] + mu[:, None, :, :]))


class ExactEstimator(BasePIDEstimator):
    r"""Exact discrete PID by a specialised primal-dual interior-point method (the default estimator).

    Same problem, same certificate as :class:`~pidengine.estimators.cvx.CVXEstimator`, solved on the dual
    variables and cell weights directly instead of through a generic conic solver, which makes it two orders of
    magnitude faster from 100 x 100 x 4 on (see ``benchmarks/discrete_scaling.py``). Each iteration factors a
    dense matrix of size ``min(|X1|, |X2|) * |Y|``; the per-cell Newton blocks are never held for all cells at once.

    Parameters
    ----------
    max_iter : int, default=100
        Interior-point iterations before giving up (typically 15–40 are needed).
    device : str or torch.device, default="cpu"
        Where the iteration runs; ``"cuda"`` pays off for large alphabets.
    progress : bool or callable, default=False
        ``True`` shows a tqdm bar of the iterations when tqdm is installed (log lines at INFO level otherwise),
        worth it from a few hundred values per modality on (1000 x 1000 x 10 takes minutes on a CPU); a callable
        is called after every iteration as ``progress("exact", iteration, max_iter, complementarity)``, where the
        total complementarity :math:`\sum_c w_c u_c` (bits) measures the distance to the optimum and falls below
        about ``tol`` at the end.
    tol, marginal_tol, on_failure
        See :class:`~pidengine.estimators.base.BasePIDEstimator`.

    Examples
    --------
    >>> from pidengine.datasets import CANONICAL
    >>> round(ExactEstimator().estimate(CANONICAL["xor"].pmf).synergy, 6)
    1.0
    """

    name = "exact"

    def __init__(
        self,
        *,
        max_iter: int = 100,
        device: str | torch.device = "cpu",
        progress: bool | ProgressFn = False,
        tol: float = 1e-7,
        marginal_tol: float = 1e-8,
        on_failure: OnFailure = "raise",
    ) -> None:
        super().__init__(tol=tol, marginal_tol=marginal_tol, on_failure=on_failure)
        self.max_iter = max_iter
        self.device = device
        self.progress = progress

    parameter_constraints: ClassVar[dict[str, Interval]] = {
        **BasePIDEstimator.parameter_constraints, "max_iter": Interval(int, ge=1),
    }

    def _validate_params(self) -> None:
        import torch

        super()._validate_params()
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(f"device must name a torch device such as 'cpu' or 'cuda', got {self.device!r}") from exc
        check_progress(self.progress)

    def _path(self, pmfs: NDArray[np.float64], certify: Callable[[int, Iterate], bool]) -> list[Iterate]:
        import torch

        bar = Progress(self.progress, "exact", self.max_iter, "iteration", "complementarity (bits)", target=self.tol)
        try:
            return path_following(
                pmfs,
                max_iter=self.max_iter,
                tol=self.tol,
                marginal_tol=self.marginal_tol,
                device=torch.device(self.device),
                certify=certify,
                report=bar.update if bar.active else None,
            )
        finally:
            bar.close()

    def _solve(self, p: NDArray[np.float64]) -> Solution:
        if p.shape[1] > p.shape[0]:
            # The Schur complement is on X2: solve the transposed problem and swap the roles back.
            s = self._solve(p.transpose(1, 0, 2))
            return Solution(s.q.transpose(1, 0, 2), s.mu, s.lam, s.solver, s.status, s.n_iter)
        certify = lambda _, iterate: self._certified(p, iterate.solution())  # noqa: E731
        return self._finish(p, self._path(p[None], certify)[0])

    def _finish(self, p: NDArray[np.float64], iterate: Iterate) -> Solution:
        """The path's solution if the certificate accepted it, else the better of it and its polished version."""
        candidate = iterate.solution()
        if iterate.accepted or self._certified(p, candidate):
            return candidate
        polished = _polish(_Problem.from_joint(p), iterate)
        if polished is None:
            return candidate
        return min(candidate, polished.solution(), key=lambda solution: self._shortfall(p, solution))

    def _shortfall(self, p: NDArray[np.float64], solution: Solution) -> float:
        """How far a solution's certificate is from half the tolerances (0 when it meets them)."""
        gap, violation = certificate_figures(p, solution)
        if not (np.isfinite(gap) and np.isfinite(violation)):
            return np.inf
        return max(abs(gap) / (0.5 * self.tol), violation / (0.5 * self.marginal_tol), 1.0) - 1.0

    def _certified(self, p: NDArray[np.float64], solution: Solution) -> bool:
        return self._shortfall(p, solution) == 0.0


@dataclass
class _Problem:
    """Masks and marginals of a reduced joint, for the polish."""

    p: NDArray[np.float64]
    p1: NDArray[np.float64]
    p2: NDArray[np.float64]
    m1: NDArray[np.bool_]
    m2: NDArray[np.bool_]
    allowed: NDArray[np.bool_]
    valid: NDArray[np.bool_]
    free2: NDArray[np.bool_]

    @classmethod
    def from_joint(cls, p: NDArray[np.float64]) -> _Problem:
        p1, p2 = p.sum(1), p.sum(0)
        m1, m2 = p1 > 0, p2 > 0
        allowed = m1[:, None, :] & m2[None, :, :]
        free2 = m2.copy()
        free2[np.argmax(p2, axis=0), np.arange(p.shape[2])] = False
        return cls(p, p1, p2, m1, m2, allowed, allowed.any(2), free2)


def _polish(prob: _Problem, state: Iterate) -> Iterate | None:
    r"""Solve the optimality conditions exactly on the support the path has revealed (an active-set Newton).

    On the cells C with ``w > u`` the conditions are equations: :math:`\sum_y e^{\theta_{c,y}} = 1` and the two
    marginal constraints with :math:`q_c = w_c e^{\theta_c}`. Newton's method on them, with the quasi-definite
    regularisation of the saddle-point matrix, converges quadratically from the path's last iterate. Cells whose
    weight turns negative leave C; cells whose dual constraint is violated join it.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    n1, n2, ny = prob.p.shape
    active = prob.valid & (state.w > state.u)
    if not active.any():
        return None
    lam, mu = state.lam.copy(), state.mu.copy()
    w = np.where(active, state.w, 0.0)
    free1 = prob.m1.ravel()
    free2 = prob.free2.ravel()
    idx1 = np.full(n1 * ny, -1)
    idx1[free1] = np.arange(free1.sum())
    idx2 = np.full(n2 * ny, -1)
    idx2[free2] = free1.sum() + np.arange(free2.sum())
    n_dual = int(free1.sum() + free2.sum())
    iterations = 0
    for _round in range(POLISH_ROUNDS):
        cells = np.argwhere(active)
        for _ in range(POLISH_NEWTON):
            iterations += 1
            a, b = cells[:, 0], cells[:, 1]
            e = np.exp(lam[a] + mu[b])  # (n_cells, ny); zero where a label is not allowed
            q = w[a, b][:, None] * e
            n_cells = len(cells)
            # Residuals: marginals (rows of the free dual variables) and the tight dual constraints.
            r1 = np.zeros(n1 * ny)
            np.add.at(r1, (a[:, None] * ny + np.arange(ny)).ravel(), q.ravel())
            r1 = (r1 - prob.p1.ravel())[free1]
            r2 = np.zeros(n2 * ny)
            np.add.at(r2, (b[:, None] * ny + np.arange(ny)).ravel(), q.ravel())
            r2 = (r2 - prob.p2.ravel())[free2]
            r_cell = e.sum(1) - 1.0
            residual = np.concatenate([r1, r2, r_cell])
            if np.abs(residual).max() < POLISH_RESIDUAL:
                break
            rows, cols, vals = [], [], []
            cell_ids = n_dual + np.arange(n_cells)
            for y in range(ny):
                i1 = idx1[a * ny + y]
                i2 = idx2[b * ny + y]
                qy, ey = q[:, y], e[:, y]
                for ia, ib in ((i1, i1), (i1, i2), (i2, i1), (i2, i2)):
                    keep = (ia >= 0) & (ib >= 0) & (ey > 0)
                    rows.append(ia[keep]), cols.append(ib[keep]), vals.append(qy[keep])
                for i_dual in (i1, i2):
                    keep = (i_dual >= 0) & (ey > 0)
                    rows += [i_dual[keep], cell_ids[keep]]
                    cols += [cell_ids[keep], i_dual[keep]]
                    vals += [ey[keep], ey[keep]]
            size = n_dual + n_cells
            ridge = np.concatenate([np.full(n_dual, POLISH_RIDGE), np.full(n_cells, -POLISH_RIDGE)])
            matrix = sp.csc_matrix(
                (
                    np.concatenate([*vals, ridge]),
                    (np.concatenate([*rows, np.arange(size)]), np.concatenate([*cols, np.arange(size)])),
                ),
                shape=(size, size),
            )
            try:
                delta = spla.spsolve(matrix, -residual)
            except RuntimeError:
                return None
            if not np.isfinite(delta).all():
                return None
            largest_move = np.abs(delta[:n_dual]).max(initial=0.0)
            if largest_move > POLISH_DUAL_MOVE:
                delta *= POLISH_DUAL_MOVE / largest_move
            dlam = np.zeros(n1 * ny)
            dlam[free1] = delta[: free1.sum()]
            dmu = np.zeros(n2 * ny)
            dmu[free2] = delta[free1.sum() : n_dual]
            lam = lam + np.where(prob.m1, dlam.reshape(n1, ny), 0.0)
            mu = mu + np.where(prob.m2, dmu.reshape(n2, ny), 0.0)
            w[a, b] += delta[n_dual:]
        leaving = active & (w < 0)
        s_all = np.where(prob.allowed, np.exp(lam[:, None, :] + mu[None, :, :]), 0.0).sum(2)
        joining = prob.valid & ~active & (s_all > 1.0 + POLISH_RESIDUAL)
        if not leaving.any() and not joining.any():
            break
        active = (active & ~leaving) | joining
        w = np.where(active, np.maximum(w, 0.0), 0.0)
    status = f"{state.status}; polished on {int(active.sum())} support cells"
    return Iterate(lam, mu, np.maximum(w, 0.0), np.where(active, 0.0, 1.0), status, state.n_iter + iterations)
