"""Discrete PID estimators and their result types.

Importing this package loads no solver: the estimator classes load on first use (PEP 562), so that asking for the
exact estimator does not import cvxpy, nor the BATCH estimator's torch networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pidengine._lazy import lazy_exports
from pidengine.estimators.registry import AUTO, DISCRETE, REGISTRY, spec

if TYPE_CHECKING:
    from pidengine.estimators.base import BasePIDEstimator, Certificate, PIDResult
    from pidengine.estimators.batch import BatchDiagnostics, BatchEstimator, BatchPIDResult
    from pidengine.estimators.cvx import CVXEstimator
    from pidengine.estimators.exact import ExactEstimator

_EXPORTS = {
    "BasePIDEstimator": "pidengine.estimators.base",
    "Certificate": "pidengine.estimators.base",
    "PIDResult": "pidengine.estimators.base",
    "BatchDiagnostics": "pidengine.estimators.batch",
    "BatchEstimator": "pidengine.estimators.batch",
    "BatchPIDResult": "pidengine.estimators.batch",
    "CVXEstimator": "pidengine.estimators.cvx",
    "ExactEstimator": "pidengine.estimators.exact",
}


def estimator_class(name: str) -> type[BasePIDEstimator]:
    """The class of a discrete estimator by name (``"auto"`` or one of :data:`~registry.DISCRETE`)."""
    return spec(name, DISCRETE).load()


def get_estimator(name: str = "auto", **options: Any) -> BasePIDEstimator:
    """A discrete estimator by name (``"auto"`` or one of :data:`~registry.DISCRETE`), constructed with
    ``options``."""
    return estimator_class(name)(**options)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = ["AUTO", "DISCRETE", "REGISTRY", "estimator_class", "get_estimator", *_EXPORTS]
