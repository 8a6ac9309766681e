r"""Many joints of one shape at once: the exact estimator's interior-point method, vectorised in torch.

Bootstrap resamples and sweeps over models and datasets produce hundreds or thousands of joints of the same shape.
Solving them one by one repeats the per-iteration overhead; here they go through
:func:`pidengine.estimators.exact.path_following` together, each iteration a handful of batched tensor operations
(batched Cholesky factorisations included), on a CUDA GPU when one is present. Zero-mass rows, columns and labels
are handled by masks rather than by reducing each joint, so the batch keeps one shape.

A joint of the batch whose certificate misses its tolerance after the vectorised path (for example one that needs
the exact estimator's active-set polish) is solved again on its own by :class:`ExactEstimator`; its status says
so. Every result is certified exactly as a single estimate is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from pidengine.estimators.base import OnFailure, PIDResult, ReducedJoint, Solution
from pidengine.estimators.exact import ExactEstimator, Iterate
from pidengine.estimators.progress import ProgressFn
from pidengine.exceptions import InvalidJointError
from pidengine.joint import as_pmf

if TYPE_CHECKING:  # torch loads on use, as in pidengine.estimators.exact
    import torch


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ExactManyEstimator(ExactEstimator):
    """The exact estimator for a batch of joints of one shape, vectorised in torch (CPU or CUDA).

    Parameters
    ----------
    device : str or torch.device, optional
        Where the batch is computed; by default CUDA when present, else the CPU. A joint solved alone after
        leaving the batch is solved on the CPU.
    max_iter, progress, tol, marginal_tol, on_failure
        As for :class:`~pidengine.estimators.exact.ExactEstimator`, applied to every joint (``progress`` reports
        the largest complementarity of the joints still in the batch).

    Examples
    --------
    >>> import numpy as np
    >>> joints = np.random.default_rng(0).dirichlet(np.ones(32), size=5).reshape(5, 4, 2, 4)
    >>> results = ExactManyEstimator(device="cpu").estimate_many(joints)
    >>> len(results), all(r.certificate.certified for r in results)
    (5, True)
    """

    def __init__(
        self,
        *,
        device: str | torch.device | None = None,
        max_iter: int = 100,
        progress: bool | ProgressFn = False,
        tol: float = 1e-7,
        marginal_tol: float = 1e-8,
        on_failure: OnFailure = "raise",
    ) -> None:
        resolved = default_device() if device is None else device
        super().__init__(
            max_iter=max_iter,
            device=resolved,
            progress=progress,
            tol=tol,
            marginal_tol=marginal_tol,
            on_failure=on_failure,
        )

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
        # The Schur complement is on X2: keep the smaller side second for the whole batch.
        swap = stack.shape[2] > stack.shape[1]
        batch = pmfs[todo].transpose(0, 2, 1, 3) if swap else pmfs[todo]

        def certify(index: int, iterate: Iterate) -> bool:
            r = reduced[todo[index]]
            return self._certified(r.p, _restrict(iterate, r, swap))

        iterates = dict(zip(todo, self._path(batch, certify) if todo else []))
        results = []
        for i, r in enumerate(reduced):
            solution = None
            if i in iterates:
                solution = _restrict(iterates[i], r, swap)
                if not (iterates[i].accepted or self._certified(r.p, solution)):
                    alone = ExactEstimator(
                        max_iter=self.max_iter, progress=self.progress, tol=self.tol, marginal_tol=self.marginal_tol
                    )
                    again = alone._solve(r.p)
                    status = f"left the batch ({solution.status}), solved alone: {again.status}"
                    solution = Solution(again.q, again.lam, again.mu, again.solver, status, again.n_iter)
            results.append(self._result(r, solution, n_samples))
        return results


def _restrict(iterate: Iterate, reduced: ReducedJoint, swapped: bool) -> Solution:
    """A batch iterate (full grid) as a solution on the reduced joint's rows, columns and labels."""
    s = iterate.solution(solver="pidengine-ipm-batched")
    q, lam, mu = (s.q.transpose(1, 0, 2), s.mu, s.lam) if swapped else (s.q, s.lam, s.mu)
    k1, k2, ky = reduced.keep1, reduced.keep2, reduced.keep_y
    q = q[np.ix_(k1, k2, ky)]
    return Solution(q, lam[np.ix_(k1, ky)], mu[np.ix_(k2, ky)], s.solver, s.status, s.n_iter)
