r"""Shared parts of every discrete PID estimator: the result and certificate types, the PID algebra, and
the duality certificate that checks a solver's answer independently of the solver.

The decomposition is the one of Bertschinger et al. (2014). With
:math:`\Delta_p = \{q : q(x_1, y) = p(x_1, y),\ q(x_2, y) = p(x_2, y)\}` and

.. math::

    v^* = \min_{q \in \Delta_p} I_q(X_1, X_2; Y),

all four parts follow from :math:`v^*` and mutual informations of :math:`p` (every :math:`q \in \Delta_p`
shares :math:`p`'s pairwise marginals, so :math:`I_q(X_i; Y) = I_p(X_i; Y)`):

.. math::

    U_1 = v^* - I(X_2; Y), \quad U_2 = v^* - I(X_1; Y), \quad
    R = I(X_1; Y) + I(X_2; Y) - v^*, \quad S = I_p(X_1, X_2; Y) - v^*.

The minimisation is equivalent to minimising :math:`f(q) = \sum q \ln q(y \mid x_1, x_2) = -H_q(Y \mid X_1, X_2)`
(nats). Its Lagrange dual (over the variables :math:`\lambda(x_1, y)`, :math:`\mu(x_2, y)`) is

.. math::

    \max_{\lambda, \mu} \sum_{x_1, y} \lambda(x_1, y) p(x_1, y) + \sum_{x_2, y} \mu(x_2, y) p(x_2, y)
    \quad \text{s.t.} \quad \sum_y e^{\lambda(x_1, y) + \mu(x_2, y)} \le 1 \ \ \forall (x_1, x_2),

where the sum over :math:`y` runs over the labels with :math:`p(x_1, y) > 0` and :math:`p(x_2, y) > 0`.
Any dual-feasible point bounds :math:`f^*` from below, any :math:`q \in \Delta_p` from above; their difference is
the duality gap that every result carries (:class:`Certificate`).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from pidengine.estimators.constraints import Interval, check_params
from pidengine.exceptions import ConfigError, ConvergenceWarning, EstimationError
from pidengine.info import entropy, mutual_information
from pidengine.joint import as_pmf, joint_from_samples
from pidengine.parts import Decomposition, nats_to_bits

MAX_TOL = 1e-3  # bits: the loosest duality gap or marginal violation a certificate may accept


@dataclass(frozen=True)
class Certificate:
    """Evidence that an estimate is the optimum it claims to be.

    Attributes
    ----------
    solver : str
        The solver that produced the estimate (e.g. ``"CLARABEL"``); ``"closed-form"`` for problems with a
        single feasible point (one label, or a constant modality).
    status : str
        The solver's own status string.
    marginal_violation : float
        Largest absolute difference between a pairwise marginal of the optimal ``q`` and that of ``p``
        (probability mass, on the normalised joint).
    duality_gap : float
        Primal objective minus a dual lower bound, in bits. It bounds how far the reported
        :math:`\\min I_q(X_1,X_2;Y)` — and therefore each of R, U1, U2, S — is from the true optimum (up to the
        marginal violation).
    tol : float
        The tolerance, in bits, that ``duality_gap`` was held to; ``marginal_violation`` is held to the
        estimator's ``marginal_tol``.
    certified : bool
        Whether both checks passed.
    n_iter : int or None
        Solver iterations, when the solver reports them.
    attempts : tuple of str
        Every solver tried, in order, with its outcome (more than one only when a fallback was allowed).
    """

    solver: str
    status: str
    marginal_violation: float
    duality_gap: float
    tol: float
    certified: bool
    n_iter: int | None = None
    attempts: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class PIDResult(Decomposition):
    """Partial information decomposition of one joint distribution, in bits: the parts and the total
    (:class:`~pidengine.parts.Decomposition`), certified to the estimator's tolerance.

    Attributes
    ----------
    certificate : Certificate
        Solver, status, marginal violation and duality gap; tiny negative parts within its tolerance are numerical
        noise.
    q : ndarray, shape (|X1|, |X2|, |Y|)
        The optimal distribution :math:`q^*` in :math:`\\Delta_p`, on the caller's (normalised) index grid.
    n_samples : int or None
        Number of samples behind the joint, when it was built from samples.
    """

    certificate: Certificate
    q: NDArray[np.float64] = field(repr=False)
    n_samples: int | None = None

    def to_dict(self) -> dict[str, float | int | str | bool | None]:
        """A flat, JSON-ready dict of the parts, the total and the certificate."""
        c = self.certificate
        return {
            **self.atoms(),
            "total": self.total,
            "units": self.units,
            "estimator": self.estimator,
            "solver": c.solver,
            "status": c.status,
            "certified": c.certified,
            "marginal_violation": c.marginal_violation,
            "duality_gap_bits": c.duality_gap,
            "n_iter": c.n_iter,
            "n_samples": self.n_samples,
        }


@dataclass(frozen=True)
class ReducedJoint:
    """A normalised joint restricted to the values that carry mass, with the map back to the full grid.

    Rows of X1 or X2 and labels of Y with zero marginal mass play no part in the optimisation; dropping them
    keeps every solver's problem small and free of degenerate variables.
    """

    p: NDArray[np.float64]
    keep1: NDArray[np.intp]
    keep2: NDArray[np.intp]
    keep_y: NDArray[np.intp]
    full_shape: tuple[int, int, int]

    @classmethod
    def from_pmf(cls, pmf: NDArray[np.float64]) -> ReducedJoint:
        keep1 = np.flatnonzero(pmf.sum((1, 2)) > 0)
        keep2 = np.flatnonzero(pmf.sum((0, 2)) > 0)
        keep_y = np.flatnonzero(pmf.sum((0, 1)) > 0)
        p = pmf[np.ix_(keep1, keep2, keep_y)]
        return cls(p=p / p.sum(), keep1=keep1, keep2=keep2, keep_y=keep_y, full_shape=pmf.shape)

    @property
    def trivial(self) -> bool:
        """One label or a constant modality: :math:`\\Delta_p = \\{p\\}` and nothing needs solving."""
        return min(self.p.shape) == 1

    def expand(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """Place a distribution on the reduced grid back onto the full grid (zeros elsewhere)."""
        full = np.zeros(self.full_shape)
        full[np.ix_(self.keep1, self.keep2, self.keep_y)] = q
        return full


@dataclass(frozen=True)
class Solution:
    """What a solver returns on a reduced joint: the optimal q and the dual variables (nats)."""

    q: NDArray[np.float64]
    lam: NDArray[np.float64]
    mu: NDArray[np.float64]
    solver: str
    status: str
    n_iter: int | None = None
    attempts: tuple[str, ...] = ()


def neg_conditional_entropy(q: NDArray[np.float64]) -> float:
    r""":math:`f(q) = \sum q \ln q(y \mid x_1, x_2) = -H_q(Y \mid X_1, X_2)` in nats, for ``q[x1, x2, y]``."""
    cell = q.sum(axis=2, keepdims=True)
    mask = q > 0
    return float(np.sum(q[mask] * np.log(q[mask] / np.broadcast_to(cell, q.shape)[mask])))


def marginal_violation(q: NDArray[np.float64], p: NDArray[np.float64]) -> float:
    """Largest absolute difference between the (x1, y) and (x2, y) marginals of ``q`` and ``p``."""
    return float(max(np.abs(q.sum(1) - p.sum(1)).max(), np.abs(q.sum(0) - p.sum(0)).max()))


def dual_bound(p: NDArray[np.float64], lam: ArrayLike, mu: ArrayLike, chunk_elems: int = 2**22) -> float:
    r"""A lower bound on :math:`\min_{q \in \Delta_p} f(q)` (nats) from any dual point ``(lam, mu)``.

    The point is first made feasible, either by shifting each row :math:`\lambda(x_1, \cdot)` down by
    :math:`\max_{x_2} \log \sum_y e^{\lambda(x_1, y) + \mu(x_2, y)}` or each :math:`\mu(x_2, \cdot)` down by the
    maximum over :math:`x_1`; both give valid bounds for *any* input, however inaccurate, and the larger is
    returned. The bound is tight when ``(lam, mu)`` is dual optimal.

    Parameters
    ----------
    p : ndarray, shape (|X1|, |X2|, |Y|)
        Normalised joint with no all-zero row, column or label (see :class:`ReducedJoint`).
    lam, mu : array_like, shapes (|X1|, |Y|) and (|X2|, |Y|)
        Dual variables in nats. Entries where the matching marginal of ``p`` is zero are ignored.
    chunk_elems : int, default=2**22
        Bound on the temporary array size, so memory stays flat for large alphabets.

    Returns
    -------
    float
        :math:`\sum \lambda' p(x_1, y) + \sum \mu' p(x_2, y)` in nats, a lower bound on :math:`f^*`.
    """
    p1, p2 = p.sum(1), p.sum(0)
    lam = np.where(p1 > 0, np.asarray(lam, dtype=np.float64), -np.inf)
    mu = np.where(p2 > 0, np.asarray(mu, dtype=np.float64), -np.inf)
    if not (np.isfinite(lam[p1 > 0]).all() and np.isfinite(mu[p2 > 0]).all()):
        return -np.inf
    n1, n2, ny = p.shape
    rows = max(1, chunk_elems // (n2 * ny))
    worst_per_row = np.empty(n1)
    worst_per_col = np.full(n2, -np.inf)
    for start in range(0, n1, rows):
        with np.errstate(invalid="ignore"):
            s = logsumexp(lam[start : start + rows, None, :] + mu[None, :, :], axis=2)
        worst_per_row[start : start + rows] = s.max(axis=1)
        worst_per_col = np.maximum(worst_per_col, s.max(axis=0))
    value = float(np.sum(lam[p1 > 0] * p1[p1 > 0]) + np.sum(mu[p2 > 0] * p2[p2 > 0]))
    return value - min(float(worst_per_row @ p1.sum(1)), float(worst_per_col @ p2.sum(1)))


def certificate_figures(p: NDArray[np.float64], solution: Solution) -> tuple[float, float]:
    """The duality gap (bits) and the marginal violation of a solution on the reduced joint ``p``."""
    gap = nats_to_bits(neg_conditional_entropy(solution.q) - dual_bound(p, solution.lam, solution.mu))
    return gap, marginal_violation(solution.q, p)


def pid_from_optimum(p: NDArray[np.float64], v_star: float) -> dict[str, float]:
    """The four parts and the total, in bits, from :math:`v^* = \\min I_q(X_1,X_2;Y)` (bits)."""
    n1, n2, ny = p.shape
    i1 = mutual_information(p.sum(1))
    i2 = mutual_information(p.sum(0))
    total = mutual_information(p.reshape(n1 * n2, ny))
    parts = {
        "redundancy": i1 + i2 - v_star,
        "unique1": v_star - i2,
        "unique2": v_star - i1,
        "synergy": total - v_star,
        "total": total,
    }
    return {name: float(value) for name, value in parts.items()}


OnFailure = Literal["raise", "warn"]


class BasePIDEstimator(ABC):
    """Base class of discrete PID estimators.

    Subclasses set :attr:`name` and implement :meth:`_solve`, which receives a reduced, normalised joint (no
    zero-mass row, column or label; at least two labels) and returns a :class:`Solution`. The base class
    validates input, handles the problems with a single feasible point, computes the parts and issues the
    certificate; a solution that misses the tolerance raises (or warns, when ``on_failure="warn"``).

    Parameters
    ----------
    tol : float, default=1e-7
        Largest accepted duality gap, in bits.
    marginal_tol : float, default=1e-8
        Largest accepted violation of a pairwise marginal (probability mass).
    on_failure : {"raise", "warn"}, default="raise"
        What to do with an uncertified estimate: raise :class:`EstimationError`, or return it with
        ``certificate.certified == False`` after a :class:`ConvergenceWarning`.
    """

    name: ClassVar[str]
    parameter_constraints: ClassVar[dict[str, Interval]] = {
        "tol": Interval(float, gt=0, le=MAX_TOL, unit="bits", reason="a looser certificate does not pin the parts"),
        "marginal_tol": Interval(float, gt=0, le=MAX_TOL, reason="a looser certificate does not pin the parts"),
    }

    def __init__(self, *, tol: float = 1e-7, marginal_tol: float = 1e-8, on_failure: OnFailure = "raise") -> None:
        self.tol = tol
        self.marginal_tol = marginal_tol
        self.on_failure = on_failure

    def _validate_params(self) -> None:
        check_params(vars(self), self.parameter_constraints)
        if self.on_failure not in ("raise", "warn"):
            raise ConfigError(f"on_failure must be 'raise' or 'warn', got {self.on_failure!r}")

    def _within_tolerance(self, gap: float, violation: float) -> bool:
        return bool(abs(gap) <= self.tol and violation <= self.marginal_tol)

    @abstractmethod
    def _solve(self, p: NDArray[np.float64]) -> Solution:
        """Minimise :math:`f(q)` over :math:`\\Delta_p` for a reduced joint ``p``."""

    def estimate(self, joint: ArrayLike, n_samples: int | None = None) -> PIDResult:
        """PID of a joint distribution ``joint[x1, x2, y]`` (any positive total mass), in bits.

        Raises
        ------
        InvalidJointError
            If the joint is not a 3-D array of finite, non-negative masses with positive total.
        EstimationError
            If the solver fails or its certificate misses the tolerance (unless ``on_failure="warn"``).
        """
        self._validate_params()
        reduced = ReducedJoint.from_pmf(as_pmf(joint, ndim=3))
        solution = None if reduced.trivial else self._solve(reduced.p)
        return self._result(reduced, solution, n_samples)

    def _result(self, reduced: ReducedJoint, solution: Solution | None, n_samples: int | None) -> PIDResult:
        """Certify a solution of a reduced joint (None: a single feasible point) and compute its PID."""
        p = reduced.p
        if solution is None:
            # One label, or a constant modality: Delta_p = {p}, so q* = p and the PID is exact.
            q, gap, violation, solver, status, n_iter = p, 0.0, 0.0, "closed-form", "single feasible point", 0
        else:
            q = solution.q
            gap, violation = certificate_figures(p, solution)
            solver, status, n_iter = solution.solver, solution.status, solution.n_iter
        certified = self._within_tolerance(gap, violation)
        certificate = Certificate(
            solver=solver,
            status=status,
            marginal_violation=violation,
            duality_gap=gap,
            tol=self.tol,
            certified=certified,
            n_iter=n_iter,
            attempts=solution.attempts if solution is not None else (),
        )
        if not certified:
            message = (
                f"{self.name} estimate not certified: duality gap {gap:.3g} bits (tol {self.tol:g}), "
                f"marginal violation {violation:.3g} (marginal_tol {self.marginal_tol:g}), "
                f"solver {solver} status {status!r}"
            )
            if self.on_failure == "raise":
                raise EstimationError(message + "; pass on_failure='warn' to get the uncertified estimate")
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        v_star = entropy(p.sum((0, 1))) + nats_to_bits(neg_conditional_entropy(q))
        return PIDResult(
            **pid_from_optimum(p, v_star),
            estimator=self.name,
            certificate=certificate,
            q=reduced.expand(q),
            n_samples=n_samples,
        )

    def estimate_samples(self, x1: ArrayLike, x2: ArrayLike, y: ArrayLike) -> PIDResult:
        """PID of the empirical joint of discrete samples (see :func:`pidengine.joint_from_samples`)."""
        table = joint_from_samples(x1, x2, y)
        return self.estimate(table.pmf, n_samples=table.n_samples)
