"""An independent second computation of the PID: the Lagrange dual of the BROJA program, solved by cvxpy.

The estimators minimise f(q) = -H_q(Y|X1,X2) over Delta_p (the primal). Here the dual

    max  sum lam(x1,y) p(x1,y) + sum mu(x2,y) p(x2,y)   s.t.  sum_y exp(lam(x1,y) + mu(x2,y)) <= 1  for all (x1, x2)

is solved as its own convex program (different variables, different cones), so agreement is evidence, not
a tautology. Its value is a certified lower bound on the optimum; the estimators' values are upper bounds
(feasible q), so agreement within a tolerance pins the optimum from both sides. Strong duality holds
(Slater: the product distribution is strictly feasible on the support).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from pidengine.estimators.base import pid_from_optimum
from pidengine.info import entropy


def reference_pid(joint: np.ndarray) -> dict[str, float]:
    """R, U1, U2, S, total in bits from the dual program."""
    p = np.asarray(joint, dtype=float)
    p = p / p.sum()
    p = p[p.sum((1, 2)) > 0][:, p.sum((0, 2)) > 0][:, :, p.sum((0, 1)) > 0]
    n1, n2, ny = p.shape
    p1, p2 = p.sum(1), p.sum(0)
    if ny == 1:
        return pid_from_optimum(p, 0.0)
    allowed = (p1[:, None, :] > 0) & (p2[None, :, :] > 0)
    i1, i2, iy = np.nonzero(allowed)
    cells, cell_of_entry = np.unique(i1 * n2 + i2, return_inverse=True)
    k = len(i1)
    incidence = sp.csr_matrix((np.ones(k), (cell_of_entry, np.arange(k))), shape=(len(cells), k))
    lam = cp.Variable(n1 * ny)
    mu = cp.Variable(n2 * ny)
    exponent = lam[i1 * ny + iy] + mu[i2 * ny + iy]
    objective = cp.Maximize(p1.ravel() @ lam + p2.ravel() @ mu)
    # Labels absent from a row have p(x, y) = 0, so their variables are free but appear in no constraint;
    # pin them to keep the program bounded.
    pins = [lam[np.flatnonzero(p1.ravel() == 0)] == 0] if (p1 == 0).any() else []
    pins += [mu[np.flatnonzero(p2.ravel() == 0)] == 0] if (p2 == 0).any() else []
    problem = cp.Problem(objective, [incidence @ cp.exp(exponent) <= 1, *pins])
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-8, tol_gap_rel=1e-8, tol_feas=1e-8, max_iter=500)
    assert problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE), problem.status
    # Whatever the solver's accuracy, shifting every lam by the largest constraint violation makes the point
    # feasible, so the value below is a valid lower bound on min f (sum p1 = 1, so the shift costs exactly c).
    exponents = lam.value[i1 * ny + iy] + mu.value[i2 * ny + iy]
    violation = np.log((incidence @ np.exp(exponents)).max())
    dual_value = p1.ravel() @ lam.value + p2.ravel() @ mu.value - violation
    v_star = entropy(p.sum((0, 1))) + dual_value / np.log(2)
    return pid_from_optimum(p, v_star)


def dirichlet_joint(
    rng: np.random.Generator, shape: tuple[int, int, int], alpha: float = 1.0, zero_fraction: float = 0.0
) -> np.ndarray:
    """A random joint: Dirichlet(alpha) masses, with a random fraction of the cells set to zero."""
    p = rng.dirichlet(np.full(int(np.prod(shape)), alpha)).reshape(shape)
    if zero_fraction:
        p[rng.random(shape) < zero_fraction] = 0.0
        if p.sum() == 0:
            p.flat[0] = 1.0
    return p
