"""Discrete PID estimators and their result types.

Importing this package loads no solver: the estimator classes load on first use (PEP 562), so that asking for the
exact estimator does not import cvxpy, nor the BATCH estimator's torch networks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pidengine._lazy import lazy_exports
from pidengine.exceptions import ConfigError

if TYPE_CHECKING:
    from pidengine.estimators.base import BasePIDEstimator, Certificate, PIDResult
    from pidengine.estimators.batch import BatchDiagnostics, BatchEstimator, BatchPIDResult
    from pidengine.estimators.cvx import CVXEstimator
    from pidengine.estimators.exact import ExactEstimator

# The discrete estimators by name, as "module:class"; "auto" stands for the fastest certified one, and the cvxpy
# program stays the reference.
ESTIMATORS: dict[str, str] = {
    "exact": "pidengine.estimators.exact:ExactEstimator",
    "cvxpy": "pidengine.estimators.cvx:CVXEstimator",
}
AUTO = "exact"

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
    """The class of a discrete estimator by name (``"auto"`` or one of :data:`ESTIMATORS`)."""
    key = AUTO if name == "auto" else name
    if key not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {name!r}; choose one of {['auto', *ESTIMATORS]}")
    module, _, class_name = ESTIMATORS[key].partition(":")
    return getattr(importlib.import_module(module), class_name)


def get_estimator(name: str = "auto", **options: Any) -> BasePIDEstimator:
    """An estimator by name (``"auto"`` or one of :data:`ESTIMATORS`), constructed with ``options``."""
    return estimator_class(name)(**options)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = ["AUTO", "ESTIMATORS", "estimator_class", "get_estimator", *_EXPORTS]
