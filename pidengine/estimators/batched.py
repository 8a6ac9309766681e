r"""Many joints of one shape at once: the exact estimator's interior-point method, vectorised in torch.

Bootstrap resamples and sweeps over models and datasets produce hundreds or thousands of joints of the same shape.
Solving them one by one repeats Python overhead per iteration; here every array carries a leading batch axis and
each iteration is a handful of batched tensor operations (batched Cholesky factorisations included), on the CPU
or on a CUDA GPU when one is present. The mathematics is that of :mod:`pidengine.estimators.exact`: the same
variables, the same Mehrotra predictor-corrector, the same certificate per joint. Zero-mass rows, columns and
labels are handled by masks rather than by reducing each joint, so the batch keeps one shape.

A joint of the batch whose certificate misses its tolerance after the vectorised path (for example one that needs
the exact estimator's active-set polish) is solved again on its own by :class:`ExactEstimator`; its status says
so. Every result is certified exactly as a single estimate is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from pidengine.estimators.base import PIDResult, ReducedJoint, Solution
from pidengine.estimators.exact import MAX_DUAL_MOVE, STEP_TO_BOUNDARY, ExactEstimator
from pidengine.exceptions import InvalidJointError
from pidengine.joint import as_pmf

# Relative ridges tried, in order, when a batched Cholesky factorisation fails for some joints.
RIDGES = (1e-15, 1e-12, 1e-9, 1e-6)


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class BatchedExactEstimator(ExactEstimator):
    """The exact estimator for a batch of joints of one shape, vectorised in torch (CPU or CUDA).

    Parameters
    ----------
    device : str or torch.device, optional
        Where to compute; by default CUDA when present, else the CPU.
    max_iter, tol, marginal_tol, on_failure
        As for :class:`~pidengine.estimators.exact.ExactEstimator`, applied to every joint.

    Examples
    --------
    >>> import numpy as np
    >>> joints = np.random.default_rng(0).dirichlet(np.ones(32), size=5).reshape(5, 4, 2, 4)
    >>> results = BatchedExactEstimator(device="cpu").estimate_many(joints)
    >>> len(results), all(r.certificate.certified for r in results)
    (5, True)
    """

    name = "exact"

    def __init__(
        self,
        *,
        device: str | torch.device | None = None,
        max_iter: int = 100,
        tol: float = 1e-7,
        marginal_tol: float = 1e-8,
        on_failure: str = "raise",
    ) -> None:
        super().__init__(max_iter=max_iter, tol=tol, marginal_tol=marginal_tol, on_failure=on_failure)
        self.device = device

    def estimate_many(self, joints: ArrayLike | Sequence[ArrayLike], n_samples: int | None = None) -> list[PIDResult]:
        """PID of every joint in a stack of shape ``(n_joints, |X1|, |X2|, |Y|)``, in bits.

        Raises
        ------
        InvalidJointError
            If the stack is not 4-D or any joint is invalid (the message names its index).
        EstimationError
            If a joint cannot be certified (unless ``on_failure="warn"``).
        """
        self._validate_params()
        stack = np.asarray(joints, dtype=np.float64)
        if stack.ndim != 4 or stack.shape[0] == 0:
            raise InvalidJointError(f"expected a stack of joints of shape (n, |X1|, |X2|, |Y|), got {stack.shape}")
        pmfs = np.empty_like(stack)
        for index, joint in enumerate(stack):
            try:
                pmfs[index] = as_pmf(joint, ndim=3)
            except InvalidJointError as exc:
                raise InvalidJointError(f"joint {index}: {exc}") from exc
        reduced = [ReducedJoint.from_pmf(pmf) for pmf in pmfs]
        todo = [i for i, r in enumerate(reduced) if not r.trivial]
        solutions: dict[int, Solution] = {}
        if todo:
            device = torch.device(self.device) if self.device is not None else default_device()
            batch = _batched_path(pmfs[todo], self, device)
            for i, full in zip(todo, batch):
                solutions[i] = _restrict(full, reduced[i])
        results = []
        for i, r in enumerate(reduced):
            solution = solutions.get(i)
            if solution is not None and not self._certified(r.p, solution):
                single = ExactEstimator(max_iter=self.max_iter, tol=self.tol, marginal_tol=self.marginal_tol)
                again = single._solve(r.p)
                solution = Solution(
                    again.q, again.lam, again.mu, again.solver, f"batch uncertified, solved alone: {again.status}",
                    (solution.n_iter or 0) + (again.n_iter or 0),
                )
            results.append(self._result(r, solution, n_samples))
        return results


def _restrict(solution: Solution, reduced: ReducedJoint) -> Solution:
    """A solution on the full grid, restricted to the reduced joint's rows, columns and labels."""
    k1, k2, ky = reduced.keep1, reduced.keep2, reduced.keep_y
    q = solution.q[np.ix_(k1, k2, ky)]
    return Solution(
        q / q.sum() if q.sum() > 0 else q,
        solution.lam[np.ix_(k1, ky)],
        solution.mu[np.ix_(k2, ky)],
        solution.solver,
        solution.status,
        solution.n_iter,
    )


def _batched_cholesky(matrix: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower Cholesky factors of a batch of matrices that are positive definite in exact arithmetic.

    Joints whose factorisation fails get a growing ridge relative to ``scale`` (per matrix: the largest diagonal
    entry before any cancellation), like the single estimator's regularisation. Returns the factors and, per
    joint (the leading axis), whether every factorisation succeeded; failed ones get identity factors.
    """
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


def _batched_path(pmfs: NDArray[np.float64], settings: ExactEstimator, device: torch.device) -> list[Solution]:
    """Mehrotra predictor-corrector on every joint of the batch (see ExactEstimator._path_following)."""
    t = dict(dtype=torch.float64, device=device)
    p = torch.as_tensor(pmfs, **t)
    n_batch, n1, n2, ny = p.shape
    p1, p2 = p.sum(2), p.sum(1)
    m1, m2 = p1 > 0, p2 > 0
    allowed = m1[:, :, None, :] & m2[:, None, :, :]
    valid = allowed.any(-1)
    pinned = torch.zeros_like(m2)
    pinned.scatter_(1, p2.argmax(dim=1, keepdim=True), True)
    free2 = m2 & ~pinned
    vf = valid.to(p.dtype)

    # Start at the product q = p(x1, y) p(x2 | y), scaled so that every slack is at least 1/2.
    neg_inf = torch.tensor(-torch.inf, **t)
    lam = torch.where(m1, torch.log(p1), neg_inf)
    mu = torch.where(m2, torch.log(p2 / p2.sum(1, keepdim=True).clamp_min(1e-300)), neg_inf)
    e = torch.exp(lam[:, :, None, :] + mu[:, None, :, :])
    shift = torch.log(torch.where(valid, e.sum(-1), torch.zeros_like(vf)).amax(dim=(1, 2))) + np.log(2.0)
    lam = lam - shift[:, None, None]
    e = torch.exp(lam[:, :, None, :] + mu[:, None, :, :])
    u = torch.where(valid, 1.0 - e.sum(-1), torch.ones_like(vf))
    w = vf * torch.exp(shift)[:, None, None]

    tol_nats, marginal_tol = settings.tol * np.log(2.0), settings.marginal_tol
    done = torch.zeros(n_batch, dtype=torch.bool, device=device)
    broken = torch.zeros_like(done)
    n_iter = torch.zeros(n_batch, dtype=torch.long, device=device)
    static_all = (p1, p2, m1, m2, allowed, valid, free2, vf)
    for iteration in range(1, settings.max_iter + 1):
        # Work only on the joints still running: finished ones leave the batch, so the cost follows the stragglers.
        idx = torch.nonzero(~done).flatten()
        if idx.numel() == 0:
            break
        finished = n_iter[done & ~broken]
        if idx.numel() < n_batch // 2 and finished.numel() and iteration > max(40, 3 * int(finished.median())):
            break  # stragglers are solved alone, with the single estimator's polish
        b1, b2, mm1, mm2, alw, vld, fr2, v = (x[idx] for x in static_all)
        st = (lam[idx], mu[idx], w[idx], u[idx], e[idx])
        ok, conv, new = _iteration(b1, b2, mm1, mm2, alw, vld, fr2, v, st, tol_nats, marginal_tol)
        n_iter[idx] += 1
        broken[idx] |= ~ok
        done[idx] |= conv | ~ok
        lam[idx], mu[idx], w[idx], u[idx], e[idx] = new
    q = (w[..., None] * e).cpu().numpy()
    lam_np, mu_np, iters = lam.cpu().numpy(), mu.cpu().numpy(), n_iter.cpu().numpy()
    status = [
        "singular Newton system" if bad else "optimal" if flag else "batched path did not converge"
        for flag, bad in zip(done.cpu().numpy(), broken.cpu().numpy())
    ]
    return [
        Solution(q[b], lam_np[b], mu_np[b], f"pidengine-ipm-batched ({device.type})", status[b], int(iters[b]))
        for b in range(n_batch)
    ]


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
    """One predictor-corrector step for a batch; returns (factored, converged, new state) per joint."""
    lam, mu, w, u, e = state
    n_batch, n1, n2, ny = e.shape
    q = w[..., None] * e
    res_slack = vf * (e.sum(-1) + u - 1.0)
    res1 = torch.where(m1, q.sum(2) - p1, 0.0)
    res2 = torch.where(m2, q.sum(1) - p2, 0.0)
    comp = w * u * vf
    feasibility = torch.maximum(res1.abs().amax(dim=(1, 2)), res2.abs().amax(dim=(1, 2)))
    converged = (comp.sum(dim=(1, 2)) < 0.05 * tol_nats) & (feasibility < 0.1 * marginal_tol)
    converged &= res_slack.abs().amax(dim=(1, 2)) < 1e-12

    k = torch.where(valid, w / torch.where(valid, u, 1.0), 0.0)
    # Newton matrix blocks W_c = diag(q_c) + k_c e_c e_c^T; lam blocks factored, Schur complement on mu.
    blocks = k[..., None, None] * e[..., :, None] * e[..., None, :] + torch.diag_embed(q)
    a = blocks.sum(2) + torch.diag_embed((~m1).to(q.dtype))
    l_a, ok_a = _batched_cholesky(a, torch.diagonal(a, dim1=-2, dim2=-1).amax(-1))
    coupling = blocks.permute(0, 1, 3, 2, 4).reshape(n_batch, n1, ny, n2 * ny)
    c = torch.linalg.solve_triangular(l_a, coupling, upper=False).reshape(n_batch, n1 * ny, n2 * ny)
    schur = -(c.transpose(1, 2) @ c)
    d = blocks.sum(1)
    schur.view(n_batch, n2, ny, n2, ny).diagonal(dim1=1, dim2=3).add_(d.permute(0, 2, 3, 1))
    fixed = ~free2.reshape(n_batch, n2 * ny)
    # Pinned and absent mu variables: identity rows and columns, zero right-hand side.
    schur = torch.where(fixed[:, :, None] | fixed[:, None, :], 0.0, schur) + torch.diag_embed(fixed.to(q.dtype))
    l_s, ok_s = _batched_cholesky(schur, torch.diagonal(d, dim1=-2, dim2=-1).amax(dim=(1, 2)))

    def solve(rhs1: torch.Tensor, rhs2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.linalg.solve_triangular(l_a, rhs1[..., None], upper=False)[..., 0].reshape(n_batch, -1)
        reduced = torch.where(fixed, 0.0, rhs2.reshape(n_batch, -1) - (c.transpose(1, 2) @ z[..., None])[..., 0])
        dmu = torch.where(fixed, 0.0, torch.cholesky_solve(reduced[..., None], l_s)[..., 0])
        back = (z - (c @ dmu[..., None])[..., 0]).reshape(n_batch, n1, ny, 1)
        dlam = torch.linalg.solve_triangular(l_a.transpose(-1, -2), back, upper=True)[..., 0]
        return torch.where(m1, dlam, 0.0), dmu.reshape(n_batch, n2, ny)

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
    target = vf * (centring[:, None, None] * mean_comp[:, None, None] - w * u - dw_aff * du_aff)
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
    return ok, converged, (lam, mu, w, u, torch.exp(lam[:, :, None, :] + mu[:, None, :, :]))
