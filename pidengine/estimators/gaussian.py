r"""Gaussian PID: the BROJA decomposition restricted to jointly Gaussian couplings, from a covariance matrix.

For jointly Gaussian :math:`(X_1, X_2, Y)` (each a vector) the pairwise marginals fix every covariance block but
:math:`\Sigma_{12} = \mathrm{Cov}(X_1, X_2)`, and the union information is

.. math::

    v^* = \min_{\Sigma_{12}:\ \Sigma \succeq 0} I_\Sigma(X_1, X_2; Y), \qquad
    U_1 = v^* - I(X_2; Y), \quad U_2 = v^* - I(X_1; Y), \quad R = I(X_1; Y) + I(X_2; Y) - v^*, \quad
    S = I(X_1, X_2; Y) - v^*,

with :math:`I(A; Y) = \tfrac12 \log \det\Sigma_{AA} \det\Sigma_{YY} / \det\Sigma_{(A, Y)}`. Restricting to Gaussian
couplings loses nothing: for Gaussian pairwise marginals a jointly Gaussian coupling is optimal among all couplings
(Zhao et al. 2025, [1]_), so this is the BROJA PID of the Gaussian distribution.

**The program solved.** In the broadcast-channel view :math:`X_i = B_i \tilde Y + n_i` (:math:`\tilde Y` the
whitened target, :math:`n_i \sim N(0, N_i)` independent of it) the free part is the cross-covariance of the noises.
Whitening each noise, :math:`X_i \to N_i^{-1/2} X_i = G_i \tilde Y + z_i` with :math:`z_i` white, and keeping the
``rank(G_i)`` directions :math:`U_i^\top` of the column space of :math:`G_i` (the rest is pure noise independent of
everything, and :math:`G_i^\top N_i^{-1/2} X_i` is a sufficient statistic of :math:`X_i` for :math:`Y`, so the
union information is unchanged), the program is

.. math::

    2 v^* = \min_{\|\Gamma\|_2 \le 1} f(\Gamma), \qquad
    f(\Gamma) = \log\det(K + G G^\top) - \log\det K, \qquad
    K = \begin{pmatrix} I & \Gamma \\ \Gamma^\top & I \end{pmatrix}, \quad G = \begin{pmatrix} G_1 \\ G_2
    \end{pmatrix},

where :math:`\Gamma` (``r1 × r2``) is the noises' cross-covariance, a contraction. It is convex:
:math:`f = -\log\det(\Sigma_{YY} - \Sigma_{YX}\Sigma_{XX}^{-1}\Sigma_{XY}) + \text{const}`, the Schur complement is
matrix-concave in :math:`\Sigma_{XX}` (affine in :math:`\Gamma`) and ``log det`` is concave and monotone (the
same program as the Gaussian PID of Venkatesh et al. 2023, [2]_). It is solved by path following: damped Newton steps on
:math:`f - \mu \log\det K` (the barrier keeps the coupling positive definite; :math:`f` is finite on the boundary
only where two noise directions carry identical signal, two copies of one channel), :math:`\mu` tightened tenfold
once centred. A problem has ``r1 · r2 ≤ dy²`` unknowns: 49 for an 8-class label, a few milliseconds.

**Certificate.** For a convex :math:`f` on the unit ball :math:`\|\Gamma\|_2 \le 1` the Frank–Wolfe gap
:math:`\langle \nabla f, \Gamma \rangle + \|\nabla f\|_*` (nuclear norm) bounds :math:`f(\Gamma) - f^*` from above
(at a centred point it is at most :math:`\mu \min(r_1, r_2)`); halved and in bits, it is the reported
``duality_gap``, held to ``tol``.

Where the discrete solvers do not apply: a Gaussian distribution has no finite table, and its PID is not the PID
of a discretisation of it, so :class:`~pidengine.estimators.exact.ExactEstimator` is no reference here. The tests
check this solver against the closed form of a scalar target (:math:`R = \min(I_1, I_2)`, Barrett 2015 [3]_), a
brute-force optimiser in the original coordinates, invariance to invertible maps of each variable, and the value
of the returned coupling.

References
----------
.. [1] Zhao, Balachandran, Tian, Liang, Thin-PID and Flow-PID (Gaussian PID, and PID on encodings learned to make
   each pairwise marginal Gaussian), NeurIPS 2025, arXiv:2510.04417.
.. [2] Venkatesh et al., "Gaussian Partial Information Decomposition: Bias Correction and
   Application to High-dimensional Data", NeurIPS 2023.
.. [3] Barrett, "Exploration of synergistic and redundant information sharing in static and dynamical Gaussian
   systems", Phys. Rev. E 91, 052802 (2015).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.exceptions import ConvergenceWarning, InvalidJointError
from pidengine.parts import LN2, Decomposition

_BARRIER_FLOOR = 1e-18  # path following stops here: the central point is then the optimum to working precision
_SINGULAR = 1e-12  # a correlation matrix whose smallest eigenvalue is below this (per variable) is singular
_QUADRATIC = 1e-10  # Newton decrement (nats) below which full steps are taken and must keep shrinking
_RANK_FLOOR = 1e-10  # singular values of G_i below this share of the largest are no signal direction


@dataclass(frozen=True, eq=False)
class GaussianPIDResult(Decomposition):
    """Gaussian PID of a covariance matrix, in bits (:class:`~pidengine.parts.Decomposition`).

    Attributes
    ----------
    informations : dict of str to float
        ``"x1"``, ``"x2"``, ``"joint"``: :math:`I(X_1; Y)`, :math:`I(X_2; Y)`, :math:`I(X_1, X_2; Y)`, bits.
    union_information : float
        :math:`v^*`, bits.
    cross_covariance : ndarray, shape (d1, d2)
        :math:`\\Sigma_{12}` of the optimal coupling, in the caller's coordinates.
    duality_gap : float
        Upper bound (bits) on how far ``union_information`` is above the optimum; every part is within it.
    n_iter : int
    converged : bool
        Whether ``duality_gap`` reached the solver's ``tol``.
    """

    informations: dict[str, float]
    union_information: float
    cross_covariance: NDArray[np.float64] = field(repr=False)
    duality_gap: float
    n_iter: int
    converged: bool
    estimator: str = field(default="gaussian", kw_only=True)
    negative_tol: ClassVar[float | None] = 1e-6


def gaussian_pid(
    cov: ArrayLike, d1: int, d2: int, *, tol: float = 1e-7, max_iter: int = 500
) -> GaussianPIDResult:
    r"""The Gaussian PID of :math:`(X_1, X_2, Y)` with joint covariance ``cov``, in bits.

    .. math::

        v^* = \min_{\Sigma_{12}} I(X_1, X_2; Y), \quad R = I_1 + I_2 - v^*, \quad U_i = v^* - I_{3-i}, \quad
        S = I(X_1, X_2; Y) - v^*

    where ``cov`` is the ``(d1 + d2 + dy)``-square covariance of :math:`(X_1, X_2, Y)`, in that order (``dy`` the
    rest), and the minimum runs over the cross-covariances that keep it positive semi-definite.

    Parameters
    ----------
    cov : array_like, shape (d1 + d2 + dy, d1 + d2 + dy)
        Symmetric positive definite.
    d1, d2 : int
        Dimensions of :math:`X_1` and :math:`X_2` (at least 1 each); the target has the remaining ``dy ≥ 1``.
    tol : float, default=1e-7
        Duality gap (bits) the union information is held to.
    max_iter : int, default=500
        Newton steps.

    Returns
    -------
    GaussianPIDResult

    Raises
    ------
    InvalidJointError
        If ``cov`` is not a finite, symmetric, positive definite matrix of a size that leaves ``dy ≥ 1``.

    Warns
    -----
    ConvergenceWarning
        If the gap is still above ``tol`` after ``max_iter`` iterations (raise ``max_iter``).

    Examples
    --------
    A scalar target seen by two noisy copies: the redundancy is the smaller information (Barrett 2015).

    >>> cov = np.array([[2.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]])   # X1 = Y + N(0,1), X2 = Y + N(0,4)
    >>> result = gaussian_pid(cov, 1, 1)
    >>> print(f"{result.redundancy:.4f} {0.5 * np.log2(5 / 4):.4f} {result.unique1:.4f}")
    0.1610 0.1610 0.3390
    """
    cov = _check_covariance(cov, d1, d2)
    x1, x2, y = slice(0, d1), slice(d1, d1 + d2), slice(d1 + d2, None)
    info = {name: _information(cov, block, y) for name, block in
            (("x1", (x1,)), ("x2", (x2,)), ("joint", (x1, x2)))}
    gains, frames = [], []
    # Whiten the target, then each modality's noise; keep the directions that carry signal.
    target = np.linalg.cholesky(cov[y, y])
    for block in (x1, x2):
        broadcast = np.linalg.solve(target, cov[y, block]).T  # B_i: X_i = B_i Ỹ + n_i
        noise = np.linalg.cholesky(cov[block, block] - broadcast @ broadcast.T)
        left, singular, right = np.linalg.svd(np.linalg.solve(noise, broadcast), full_matrices=False)
        keep = singular > _RANK_FLOOR * max(singular.max(initial=0.0), 1e-300)
        gains.append(singular[keep, None] * right[keep])
        frames.append((noise, left[:, keep]))
    contraction, value, gap, n_iter = _union(gains[0], gains[1], tol * 2 * LN2, max_iter)
    gap_bits = gap / (2 * LN2)
    converged = gap_bits <= tol
    if not converged:
        warnings.warn(f"Gaussian union information: duality gap {gap_bits:.2g} bits after {n_iter} iterations "
                      f"(tol {tol:g}); raise max_iter", ConvergenceWarning, stacklevel=2)
    (noise1, frame1), (noise2, frame2) = frames
    broadcast1 = np.linalg.solve(target, cov[y, x1]).T
    broadcast2 = np.linalg.solve(target, cov[y, x2]).T
    cross = broadcast1 @ broadcast2.T + noise1 @ frame1 @ contraction @ frame2.T @ noise2.T
    union = value / (2 * LN2)
    i1, i2, joint = info["x1"], info["x2"], info["joint"]
    return GaussianPIDResult(
        redundancy=i1 + i2 - union, unique1=union - i2, unique2=union - i1, synergy=joint - union, total=joint,
        informations=info, union_information=union, cross_covariance=cross, duality_gap=gap_bits, n_iter=n_iter,
        converged=converged,
    )


def _union(gains1: NDArray, gains2: NDArray, tol: float, max_iter: int) -> tuple[NDArray, float, float, int]:
    r"""The minimising contraction, :math:`f` there, its certified gap and the Newton steps, in units of :math:`f`:
    Newton on :math:`F_\mu = f - \mu \log\det K`, :math:`\mu` divided by 10 once centred, until the Frank–Wolfe
    gap of :math:`f` is within ``tol`` (see the module docstring)."""
    r1, r2 = len(gains1), len(gains2)
    stacked = np.vstack([gains1, gains2])
    current = np.zeros((r1, r2))
    if r1 == 0 or r2 == 0:  # one modality carries nothing: the coupling cannot matter
        return current, _objective(current, stacked, r1, 0.0)[0], 0.0, 0
    barrier, gap, steps, previous = 1.0, math.inf, 0, math.inf
    value, grad, hessian, fw_grad = _objective(current, stacked, r1, barrier, derivatives=True)
    while steps < max_iter and barrier > _BARRIER_FLOOR:
        gap = float(np.sum(fw_grad * current) + np.linalg.svd(fw_grad, compute_uv=False).sum())
        if gap <= tol:
            break
        direction = -np.linalg.solve(hessian + 1e-14 * np.eye(len(hessian)), grad.ravel()).reshape(r1, r2)
        decrement = -float(np.sum(grad * direction))
        # Centred enough for this barrier weight (the gap is then O(μ)), or Newton no longer converges quadratically
        # (rounding near the boundary): tighten the barrier.
        if decrement < barrier**2 or _QUADRATIC > decrement > 0.5 * previous:
            barrier, previous = barrier / 10, math.inf
            value, grad, hessian, fw_grad = _objective(current, stacked, r1, barrier, derivatives=True)
            continue
        step = 1.0
        while step > 1e-12:  # backtracking (Armijo) inside the feasible set
            candidate = current + step * direction
            cand_value = _objective(candidate, stacked, r1, barrier)[0]
            # In Newton's quadratic region the decrease is below the value's rounding: a feasible full step is taken.
            if cand_value <= value - 0.25 * step * decrement or (decrement < _QUADRATIC and math.isfinite(cand_value)):
                break
            step /= 2
        else:
            barrier, previous = barrier / 10, math.inf  # no descent at working precision: the centre is reached
            value, grad, hessian, fw_grad = _objective(current, stacked, r1, barrier, derivatives=True)
            continue
        steps, previous, current = steps + 1, decrement, candidate
        value, grad, hessian, fw_grad = _objective(current, stacked, r1, barrier, derivatives=True)
    return current, _objective(current, stacked, r1, 0.0)[0], max(gap, 0.0), steps


def _objective(
    contraction: NDArray, stacked: NDArray, r1: int, barrier: float, derivatives: bool = False
) -> tuple[float, NDArray, NDArray, NDArray]:
    r""":math:`F_\mu`, its gradient and Hessian (on row-major vec(Γ)) and the gradient of :math:`f` alone;
    infinite outside :math:`K \succ 0`. Without ``derivatives`` only the value is computed."""
    r2 = stacked.shape[0] - r1
    coupling = np.eye(r1 + r2)
    coupling[:r1, r1:] = contraction
    coupling[r1:, :r1] = contraction.T
    with_signal = coupling + stacked @ stacked.T
    try:
        factor_k, factor_m = np.linalg.cholesky(coupling), np.linalg.cholesky(with_signal)
    except np.linalg.LinAlgError:
        return math.inf, contraction, contraction, contraction
    logdet_k = 2 * float(np.log(np.diag(factor_k)).sum())
    value = 2 * float(np.log(np.diag(factor_m)).sum()) - (1 + barrier) * logdet_k
    if not derivatives:
        return value, contraction, contraction, contraction
    inv_k, inv_m = np.linalg.inv(coupling), np.linalg.inv(with_signal)
    # d log det A / dΓ = 2 [A⁻¹]₁₂; d² log det A [Δ, Δ] = −2 tr(P₁₁ Δ P₂₂ Δᵀ) − 2 tr(P₁₂ Δᵀ P₁₂ Δᵀ), P = A⁻¹.
    fw_grad = 2 * (inv_m - inv_k)[:r1, r1:]
    grad = fw_grad - 2 * barrier * inv_k[:r1, r1:]
    hessian = _logdet_hessian(inv_k, r1) * (1 + barrier) - _logdet_hessian(inv_m, r1)
    return value, grad, hessian, fw_grad


def _logdet_hessian(inverse: NDArray, r1: int) -> NDArray:
    r"""Minus the Hessian of :math:`\log\det A(\Gamma)` on row-major vec(Γ), from :math:`P = A^{-1}`:
    entry ((i, j), (k, l)) is :math:`2 (P_{11, ik} P_{22, jl} + P_{12, il} P_{12, kj})`."""
    block11, block12, block22 = inverse[:r1, :r1], inverse[:r1, r1:], inverse[r1:, r1:]
    size = block12.size
    return 2 * (np.kron(block11, block22) + np.einsum("il,kj->ijkl", block12, block12).reshape(size, size))


def _information(cov: NDArray, blocks: tuple[slice, ...], target: slice) -> float:
    """:math:`I(A; Y)` in bits for the variables ``blocks`` (together A) and ``target``."""
    rows = np.concatenate([np.arange(cov.shape[0])[b] for b in blocks])
    ys = np.arange(cov.shape[0])[target]
    both = np.concatenate([rows, ys])
    return (_logdet(cov[np.ix_(rows, rows)]) + _logdet(cov[np.ix_(ys, ys)])
            - _logdet(cov[np.ix_(both, both)])) / (2 * LN2)


def _logdet(matrix: NDArray) -> float:
    return 2 * float(np.log(np.diag(np.linalg.cholesky(matrix))).sum())


def _check_covariance(cov: ArrayLike, d1: int, d2: int) -> NDArray[np.float64]:
    cov = np.asarray(cov, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise InvalidJointError(f"cov must be a square matrix, got shape {cov.shape}")
    if not (isinstance(d1, int | np.integer) and isinstance(d2, int | np.integer)) or d1 < 1 or d2 < 1:
        raise InvalidJointError(f"d1 and d2 must be positive integers, got {d1!r} and {d2!r}")
    if d1 + d2 >= cov.shape[0]:
        raise InvalidJointError(f"cov of size {cov.shape[0]} leaves no target after d1 = {d1} and d2 = {d2}")
    if not np.isfinite(cov).all():
        raise InvalidJointError("cov has non-finite entries")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * np.abs(cov).max()):
        raise InvalidJointError("cov is not symmetric")
    cov = (cov + cov.T) / 2
    # Scaled to unit variances, so that the test does not depend on the units of each variable. Cholesky alone
    # passes matrices that are singular up to rounding, whose informations are then rounding noise.
    scale = 1 / np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    smallest = np.linalg.eigvalsh(cov * scale[:, None] * scale[None, :])[0]
    if smallest <= _SINGULAR * cov.shape[0]:
        raise InvalidJointError(
            f"cov is not positive definite (smallest eigenvalue of the correlation matrix {smallest:.2g}): some "
            "variable is a linear function of the others (its information is infinite); drop collinear columns or "
            "add a small ridge to the diagonal")
    return cov

