r"""The CVX estimator: the BROJA program as an exponential-cone problem in cvxpy (Liang et al., 2023).

.. math::

    \min_{q \ge 0} \sum_{x_1, x_2, y} q(x_1, x_2, y) \ln \frac{q(x_1, x_2, y)}{\sum_{y'} q(x_1, x_2, y')}
    \quad \text{s.t.} \quad q(x_1, y) = p(x_1, y),\ q(x_2, y) = p(x_2, y)

(``rel_entr`` terms; the objective is :math:`-H_q(Y \mid X_1, X_2)` in nats). Only the entries that can carry
mass — :math:`p(x_1, y) > 0` and :math:`p(x_2, y) > 0` — are variables. The duals of the two marginal constraints
are the :math:`\lambda, \mu` of the certificate (:mod:`pidengine.estimators.base`).
"""

from __future__ import annotations

from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from pidengine.estimators.base import BasePIDEstimator, OnFailure, Solution, certificate_figures
from pidengine.exceptions import ConfigError, EstimationError

# Tighter than Clarabel's defaults (1e-8), so small problems are solved to ~1e-10 bits.
DEFAULT_SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11, "max_iter": 500},
    "ECOS": {"abstol": 1e-10, "reltol": 1e-10, "feastol": 1e-10, "max_iters": 500},
}


class CVXEstimator(BasePIDEstimator):
    """Exact discrete PID by the generic convex program (cvxpy + an exponential-cone interior-point solver).

    The reference implementation: simple and trusted, but its cost grows quickly with the alphabet sizes
    (about 2 s at 50×50×4).

    Parameters
    ----------
    solver : str, default="CLARABEL"
        cvxpy solver name; it must support exponential cones (CLARABEL, ECOS, SCS, ...).
    fallback_solver : str or None, default=None
        A second solver tried only when the first one fails or its result is not certified. The result's
        certificate names the solver that produced it and lists every attempt. Never used unless given.
    solver_options : dict of str to dict, optional
        Keyword arguments per solver name, e.g. ``{"CLARABEL": {"max_iter": 100}}``; they update pidengine's
        tightened defaults (:data:`DEFAULT_SOLVER_OPTIONS`) for that solver.
    tol : float, default=1e-6
        Largest accepted duality gap in bits. Looser than the exact estimator's default: interior-point conic
        solvers reach gaps of about 1e-7 to 1e-6 bits on this problem from 50 x 50 x 4 up.
    marginal_tol, on_failure
        See :class:`~pidengine.estimators.base.BasePIDEstimator`.

    Examples
    --------
    >>> from pidengine.datasets import CANONICAL
    >>> round(CVXEstimator().estimate(CANONICAL["xor"].pmf).synergy, 6)
    1.0
    """

    name = "cvxpy"

    def __init__(
        self,
        solver: str = "CLARABEL",
        *,
        fallback_solver: str | None = None,
        solver_options: dict[str, dict[str, Any]] | None = None,
        tol: float = 1e-6,
        marginal_tol: float = 1e-8,
        on_failure: OnFailure = "raise",
    ) -> None:
        super().__init__(tol=tol, marginal_tol=marginal_tol, on_failure=on_failure)
        self.solver = solver
        self.fallback_solver = fallback_solver
        self.solver_options = solver_options

    def _validate_params(self) -> None:
        super()._validate_params()
        installed = cp.installed_solvers()
        for param in ("solver", "fallback_solver"):
            value = getattr(self, param)
            if value is not None and value.upper() not in installed:
                raise ConfigError(f"{param}={value!r} is not an installed cvxpy solver; installed: {installed}")

    def _solve(self, p: NDArray[np.float64]) -> Solution:
        solvers = [self.solver] + ([self.fallback_solver] if self.fallback_solver else [])
        attempts: list[str] = []
        for i, name in enumerate(solvers):
            last = i == len(solvers) - 1
            try:
                solution = self._solve_with(p, name.upper())
            except (cp.error.SolverError, EstimationError) as exc:
                attempts.append(f"{name.upper()}: failed ({exc})")
                if last:
                    raise EstimationError(f"cvxpy could not solve the PID program: {'; '.join(attempts)}") from exc
                continue
            if not last and not self._within_tolerance(*certificate_figures(p, solution)):
                attempts.append(f"{name.upper()}: {solution.status}, not certified")
                continue
            attempts.append(f"{name.upper()}: {solution.status}")
            return Solution(**{**solution.__dict__, "attempts": tuple(attempts)})
        raise AssertionError("unreachable: the last solver either returns or raises")

    def _solve_with(self, p: NDArray[np.float64], solver: str) -> Solution:
        n1, n2, ny = p.shape
        p1, p2 = p.sum(1), p.sum(0)
        allowed = (p1[:, None, :] > 0) & (p2[None, :, :] > 0)
        i1, i2, iy = np.nonzero(allowed)
        k = len(i1)
        cells, cell_of_entry = np.unique(i1 * n2 + i2, return_inverse=True)
        ones = np.ones(k)
        cell_sum = sp.csr_matrix((ones, (cell_of_entry, np.arange(k))), shape=(len(cells), k))
        rows1 = np.flatnonzero(p1.ravel() > 0)
        rows2 = np.flatnonzero(p2.ravel() > 0)
        a1 = sp.csr_matrix((ones, (i1 * ny + iy, np.arange(k))), shape=(n1 * ny, k))[rows1]
        a2 = sp.csr_matrix((ones, (i2 * ny + iy, np.arange(k))), shape=(n2 * ny, k))[rows2]

        q = cp.Variable(k, nonneg=True)
        constraints = [a1 @ q == p1.ravel()[rows1], a2 @ q == p2.ravel()[rows2]]
        problem = cp.Problem(cp.Minimize(cp.sum(cp.rel_entr(q, cell_sum.T @ (cell_sum @ q)))), constraints)
        options = {**DEFAULT_SOLVER_OPTIONS.get(solver, {}), **(self.solver_options or {}).get(solver, {})}
        problem.solve(solver=solver, **options)
        if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or q.value is None:
            raise EstimationError(f"solver {solver} returned status {problem.status!r}")

        values = np.zeros(n1 * n2 * ny)
        # Interior-point iterates can sit a hair below zero; the certificate measures the result after this.
        values[(i1 * n2 + i2) * ny + iy] = np.maximum(q.value, 0.0)
        # cvxpy's Lagrangian is f + nu^T (A q - b); the certificate's lambda is -nu.
        lam = np.zeros(n1 * ny)
        mu = np.zeros(n2 * ny)
        lam[rows1] = -np.asarray(constraints[0].dual_value)
        mu[rows2] = -np.asarray(constraints[1].dual_value)
        stats = problem.solver_stats
        return Solution(
            q=values.reshape(n1, n2, ny),
            lam=lam.reshape(n1, ny),
            mu=mu.reshape(n2, ny),
            solver=solver,
            status=problem.status,
            n_iter=getattr(stats, "num_iters", None),
        )
