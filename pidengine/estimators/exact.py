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
Schur complement of size :math:`\min(|X_1|, |X_2|)\,|Y|`. The slack is a variable of its own, so the complementarity is never
computed as a difference :math:`1 - \sum_y e^{\theta}` of nearly equal numbers, which keeps the iteration accurate
down to gaps of :math:`10^{-12}` bits.

The iteration stops when the certificate of the base class — the duality gap of :math:`q` against the dual
point made exactly feasible, and the marginal violation — meets half its tolerance.

References
----------
1. Bertschinger, Rauh, Olbrich, Jost, Ay (2014). Quantifying unique information. Entropy 16(4).
2. Mehrotra (1992). On the implementation of a primal-dual interior point method. SIAM J. Optim. 2(4).
3. Liang et al. (2023). Quantifying & modeling multimodal interactions: an information decomposition
   framework. NeurIPS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from pidengine.estimators.base import BasePIDEstimator, OnFailure, Solution, certificate_figures
from pidengine.exceptions import ConfigError

# Fraction of the distance to the boundary of w > 0, u > 0 that a step may cover.
STEP_TO_BOUNDARY = 0.99
# Ridge on the Newton matrix's diagonal (probability-mass units, far below any real entry), and the largest
# ridge relative to the matrix's scale that may be added when rounding breaks positive definiteness.
STATIC_RIDGE = 1e-15
MAX_RELATIVE_RIDGE = 1e-6
# Schur complements up to this size are factored on a single BLAS thread.
SINGLE_THREAD_BELOW = 2048
# Largest change of any dual variable in one step (nats), a trust region for the linearised slack equation.
MAX_DUAL_MOVE = 5.0
# The path stops when the total complementarity sum(w u) falls below this (nats); the polish takes over.
COMPLEMENTARITY_FLOOR = 1e-13
RESIDUAL_FLOOR = 1e-12
# Active-set polish: support updates, Newton steps per update, target residual, quasi-definite ridge.
POLISH_ROUNDS = 5
POLISH_NEWTON = 12
POLISH_RESIDUAL = 1e-14
POLISH_RIDGE = 1e-14

@dataclass
class _Problem:
    """Masks and marginals of a reduced joint."""

    p: NDArray[np.float64]
    p1: NDArray[np.float64]
    p2: NDArray[np.float64]
    m1: NDArray[np.bool_]
    m2: NDArray[np.bool_]
    allowed: NDArray[np.bool_]
    valid: NDArray[np.bool_]
    free2: NDArray[np.bool_]

    @classmethod
    def from_joint(cls, p: NDArray[np.float64]) -> "_Problem":
        p1, p2 = p.sum(1), p.sum(0)
        m1, m2 = p1 > 0, p2 > 0
        allowed = m1[:, None, :] & m2[None, :, :]
        # The dual is invariant under lam(., y) + c_y, mu(., y) - c_y: pin one mu per label.
        free2 = m2.copy()
        free2[np.argmax(p2, axis=0), np.arange(p.shape[2])] = False
        return cls(p, p1, p2, m1, m2, allowed, allowed.any(2), free2)


class _NewtonSystem:
    r"""The reduced Newton matrix of one iteration in (lam, mu), Cholesky-factored, with its solver.

    Assembled from per-cell blocks :math:`W_c = \operatorname{diag}(q_c) + k_c e_c e_c^\top`: the lam-lam part is
    block diagonal (sums of W_c over a row of cells), the lam-mu part holds W_c itself. The Cholesky factorisation
    runs lam first, block by block, so only the Schur complement on mu — of size ``|X2| |Y|`` — is factored densely;
    being a Cholesky factorisation in a symmetric order, it is as stable as factoring the whole matrix.
    """

    def __init__(self, prob: _Problem, q: NDArray[np.float64], k: NDArray[np.float64], e: NDArray[np.float64]):
        n1, n2, ny = q.shape
        diag = np.arange(ny)
        w = k[..., None, None] * (e[..., :, None] * e[..., None, :])
        w[..., diag, diag] += q
        a = w.sum(1)
        a[..., diag, diag] += ~prob.m1  # rows of X1 without label y carry no variable lam(x1, y)
        self.l_inv = np.linalg.inv(_batched_cholesky(a))
        # Rows (x1, y), columns (x2, y'): the lam-mu block, then L^-1 times it, block row by block row.
        coupling = np.ascontiguousarray(w.transpose(0, 2, 1, 3)).reshape(n1, ny, n2 * ny)
        self.c = np.matmul(self.l_inv, coupling).reshape(n1 * ny, n2 * ny)
        schur = -(self.c.T @ self.c)
        schur4 = schur.reshape(n2, ny, n2, ny)
        d = w.sum(0)
        schur4[np.arange(n2), :, np.arange(n2), :] += d
        self.free = prob.free2.ravel()
        self.shape = (n1, n2, ny)
        self.factor = _robust_cholesky(schur[np.ix_(self.free, self.free)], float(d[..., diag, diag].max()))

    def solve(self, rhs1: NDArray[np.float64], rhs2: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        n1, n2, ny = self.shape
        z = np.einsum("aij,aj->ai", self.l_inv, rhs1).ravel()
        reduced = rhs2.ravel() - self.c.T @ z
        dmu = np.zeros(n2 * ny)
        dmu[self.free] = sla.cho_solve(self.factor, reduced[self.free], check_finite=False)
        back = (z - self.c @ dmu).reshape(n1, ny)
        dlam = np.einsum("aji,aj->ai", self.l_inv, back)
        return dlam, dmu.reshape(n2, ny)


def _batched_cholesky(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower Cholesky factors of a stack of small symmetric positive definite blocks, with a ridge if needed."""
    diag = np.arange(a.shape[-1])
    ridge = 0.0
    while True:
        blocks = a.copy()
        blocks[..., diag, diag] = a[..., diag, diag] * (1.0 + ridge) + STATIC_RIDGE
        try:
            return np.linalg.cholesky(blocks)
        except np.linalg.LinAlgError:
            ridge = 1e-14 if ridge == 0.0 else ridge * 100.0
            if ridge > 1e-4:
                raise


def _robust_cholesky(s: NDArray[np.float64], scale: float) -> tuple[NDArray[np.float64], bool]:
    """Cholesky factor (scipy's ``cho_factor`` form) of a Schur complement, positive definite in exact arithmetic.

    Forming the complement cancels terms up to ``scale`` (the largest diagonal entry before the cancellation),
    so rounding can break definiteness near the optimum; a ridge relative to ``scale`` is then added and grown
    until the factorisation succeeds (primal-dual regularisation: the step becomes inexact, not wrong).
    """
    diag = np.diag(s).copy()
    ridge = STATIC_RIDGE
    while True:
        matrix = s.copy()
        matrix[np.diag_indices_from(matrix)] = diag + ridge
        try:
            return sla.cho_factor(matrix, check_finite=False)
        except np.linalg.LinAlgError:
            ridge = max(ridge * 100.0, 1e-16 * scale)
            if ridge > MAX_RELATIVE_RIDGE * scale:
                raise


class ExactEstimator(BasePIDEstimator):
    """Exact discrete PID by a specialised primal-dual interior-point method (the default estimator).

    Same problem, same certificate as :class:`~pidengine.estimators.cvx.CVXEstimator`, solved on the dual
    variables and cell weights directly instead of through a generic conic solver, which makes it one to two
    orders of magnitude faster (see ``benchmarks/discrete_scaling.py``). Each iteration factors a dense matrix of
    size ``min(|X1|, |X2|) * |Y|``.

    Parameters
    ----------
    max_iter : int, default=100
        Interior-point iterations before giving up (typically 20–40 are needed).
    tol, marginal_tol, on_failure
        See :class:`~pidengine.estimators.base.BasePIDEstimator`. The iteration stops as soon as the certificate
        meets half of each tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> xor = np.zeros((2, 2, 2))
    >>> for a in (0, 1):
    ...     for b in (0, 1):
    ...         xor[a, b, a ^ b] = 0.25
    >>> round(ExactEstimator().estimate(xor).synergy, 6)
    1.0
    """

    name = "exact"

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-7,
        marginal_tol: float = 1e-8,
        on_failure: OnFailure = "raise",
    ) -> None:
        super().__init__(tol=tol, marginal_tol=marginal_tol, on_failure=on_failure)
        self.max_iter = max_iter

    def _validate_params(self) -> None:
        super()._validate_params()
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ConfigError(f"max_iter must be a positive integer, got {self.max_iter!r}")

    def _solve(self, p: NDArray[np.float64]) -> Solution:
        if min(p.shape[:2]) * p.shape[2] <= SINGLE_THREAD_BELOW:
            # Small dense factorisations run faster on one BLAS thread than on several competing for cores.
            with threadpool_limits(limits=1, user_api="blas"):
                return self._solve_oriented(p)
        return self._solve_oriented(p)

    def _solve_oriented(self, p: NDArray[np.float64]) -> Solution:
        if p.shape[1] > p.shape[0]:
            # Factor the smaller side: solve the transposed problem and swap the roles back.
            s = self._solve_oriented(p.transpose(1, 0, 2))
            return Solution(s.q.transpose(1, 0, 2), s.mu, s.lam, s.solver, s.status, s.n_iter)
        prob = _Problem.from_joint(p)
        state, status, n_iter = self._path_following(prob)
        candidate = state.solution(status, n_iter)
        if self._certified(p, candidate):
            return candidate
        polished = _polish(prob, state)
        if polished is None:
            return candidate
        state, polish_status, polish_iter = polished
        return state.solution(f"{status}; {polish_status}", n_iter + polish_iter)

    def _certified(self, p: NDArray[np.float64], solution: Solution) -> bool:
        gap, violation = certificate_figures(p, solution)
        return abs(gap) <= 0.5 * self.tol and violation <= 0.5 * self.marginal_tol

    def _path_following(self, prob: _Problem) -> tuple["_State", str, int]:
        """Mehrotra predictor-corrector iterations; returns the last finite iterate, a status and the count."""
        state = _State.initial(prob)
        valid, m1, m2 = prob.valid, prob.m1, prob.m2
        for iteration in range(1, self.max_iter + 1):
            lam, mu, w, u, e = state.lam, state.mu, state.w, state.u, state.e
            q = w[..., None] * e
            res_slack = np.where(valid, e.sum(2) + u - 1.0, 0.0)
            res1 = np.where(m1, q.sum(1) - prob.p1, 0.0)
            res2 = np.where(m2, q.sum(0) - prob.p2, 0.0)
            complementarity = (w * u)[valid]
            feasibility = max(np.abs(res1).max(), np.abs(res2).max())
            if complementarity.sum() < 0.1 * self.tol and feasibility < 0.1 * self.marginal_tol:
                if self._certified(prob.p, state.solution("optimal", iteration)):
                    return state, "optimal", iteration
            converged = max(feasibility, np.abs(res_slack).max()) < RESIDUAL_FLOOR
            if complementarity.sum() < COMPLEMENTARITY_FLOOR and converged:
                return state, "central path followed to its numerical floor", iteration
            k = np.where(valid, w / u, 0.0)
            try:
                system = _NewtonSystem(prob, q, k, e)
            except np.linalg.LinAlgError:
                return state, "singular Newton system", iteration

            def direction(target: NDArray[np.float64]) -> tuple[NDArray, ...]:
                # Per cell: dw = k (e^T dtheta + res_slack + target / w), du = (target - u dw) / w.
                base = np.where(valid, k * (res_slack + target / np.where(valid, w, 1.0)), 0.0)
                dlam, dmu = system.solve(
                    -res1 - np.einsum("ab,aby->ay", base, e), -res2 - np.einsum("ab,aby->by", base, e)
                )
                dtheta = dlam[:, None, :] + dmu[None, :, :]
                dw = np.where(valid, k * np.where(prob.allowed, e * dtheta, 0.0).sum(2) + base, 0.0)
                du = np.where(valid, (target - u * dw) / np.where(valid, w, 1.0), 0.0)
                return dlam, dmu, dw, du

            def max_step(dw: NDArray, du: NDArray) -> float:
                step = 1.0
                for value, change in ((w, dw), (u, du)):
                    shrinking = valid & (change < 0)
                    if shrinking.any():
                        step = min(step, float((-value[shrinking] / change[shrinking]).min()))
                return step

            mean_comp = complementarity.mean()
            _, _, dw_aff, du_aff = direction(np.where(valid, -w * u, 0.0))
            step_aff = max_step(dw_aff, du_aff)
            comp_aff = ((w + step_aff * dw_aff) * (u + step_aff * du_aff))[valid].mean()
            centring = min(1.0, (comp_aff / mean_comp) ** 3)
            dlam, dmu, dw, du = direction(np.where(valid, centring * mean_comp - w * u - dw_aff * du_aff, 0.0))
            step = min(1.0, STEP_TO_BOUNDARY * max_step(dw, du))
            # The slack equation is only linearised: a long move of the dual variables can overflow exp.
            largest_move = max(np.abs(dlam[m1]).max(initial=0.0), np.abs(dmu[m2]).max(initial=0.0))
            step = min(step, MAX_DUAL_MOVE / largest_move) if largest_move > 0 else step
            new = state.moved(prob, step, dlam, dmu, dw, du)
            if not new.finite():
                return state, "non-finite iterate", iteration
            state = new
        return state, f"max_iter ({self.max_iter}) reached", self.max_iter


@dataclass(frozen=True)
class _State:
    """An iterate: dual variables, cell weights w, slacks u, and e = exp(lam + mu) per (x1, x2, y)."""

    lam: NDArray[np.float64]
    mu: NDArray[np.float64]
    w: NDArray[np.float64]
    u: NDArray[np.float64]
    e: NDArray[np.float64]

    @classmethod
    def initial(cls, prob: _Problem) -> "_State":
        """The product q(x1, x2, y) = p(x1, y) p(x2 | y), scaled so that every slack is at least 1/2."""
        with np.errstate(divide="ignore"):
            lam = np.where(prob.m1, np.log(prob.p1), -np.inf)
            mu = np.where(prob.m2, np.log(prob.p2 / prob.p2.sum(0)), -np.inf)
        e = np.exp(lam[:, None, :] + mu[None, :, :])
        shift = np.log(e.sum(2)[prob.valid].max()) + np.log(2.0)
        lam = lam - shift
        e = np.exp(lam[:, None, :] + mu[None, :, :])
        u = np.where(prob.valid, 1.0 - e.sum(2), 1.0)
        w = np.where(prob.valid, np.exp(shift), 0.0)
        return cls(lam, mu, w, u, e)

    def moved(self, prob: _Problem, step: float, dlam: NDArray, dmu: NDArray, dw: NDArray, du: NDArray) -> "_State":
        lam = self.lam + step * np.where(prob.m1, dlam, 0.0)
        mu = self.mu + step * np.where(prob.m2, dmu, 0.0)
        w = np.where(prob.valid, self.w + step * dw, 0.0)
        u = np.where(prob.valid, self.u + step * du, 1.0)
        return _State(lam, mu, w, u, np.exp(lam[:, None, :] + mu[None, :, :]))

    def finite(self) -> bool:
        return bool(np.isfinite(self.w).all() and np.isfinite(self.u).all() and np.isfinite(self.e).all())

    def solution(self, status: str, n_iter: int) -> Solution:
        q = self.w[..., None] * self.e
        return Solution(q=q, lam=self.lam, mu=self.mu, solver="pidengine-ipm", status=status, n_iter=n_iter)


def _polish(prob: _Problem, state: _State) -> tuple[_State, str, int] | None:
    r"""Solve the optimality conditions exactly on the support the path has revealed (an active-set Newton).

    On the cells C with ``w > u`` the conditions are equations: :math:`\sum_y e^{\theta_{c,y}} = 1` and the two
    marginal constraints with :math:`q_c = w_c e^{\theta_c}`. Newton's method on them, with the quasi-definite
    regularisation of the saddle-point matrix, converges quadratically from the path's last iterate. Cells whose
    weight turns negative leave C; cells whose dual constraint is violated join it.
    """
    n1, n2, ny = prob.p.shape
    active = prob.valid & (state.w > state.u)
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
                (np.concatenate(vals + [ridge]), (np.concatenate(rows + [np.arange(size)]), np.concatenate(cols + [np.arange(size)]))),
                shape=(size, size),
            )
            try:
                delta = spla.spsolve(matrix, -residual)
            except RuntimeError:
                return None
            if not np.isfinite(delta).all():
                return None
            largest_move = np.abs(delta[:n_dual]).max(initial=0.0)
            if largest_move > MAX_DUAL_MOVE:
                delta *= MAX_DUAL_MOVE / largest_move
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
    e_full = np.exp(lam[:, None, :] + mu[None, :, :])
    polished = _State(lam, mu, np.maximum(w, 0.0), np.where(active, 0.0, 1.0), e_full)
    return polished, f"polished on {int(active.sum())} support cells", iterations
