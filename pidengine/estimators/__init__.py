"""Discrete PID estimators and their result types."""

from __future__ import annotations

from typing import Any

from pidengine.estimators.base import BasePIDEstimator, Certificate, PIDResult
from pidengine.estimators.batch import BatchDiagnostics, BatchEstimator, BatchPIDResult
from pidengine.estimators.cvx import CVXEstimator
from pidengine.estimators.exact import ExactEstimator
from pidengine.exceptions import ConfigError

ESTIMATORS: dict[str, type[BasePIDEstimator]] = {ExactEstimator.name: ExactEstimator, CVXEstimator.name: CVXEstimator}
# "auto" stands for the fastest certified estimator; the cvxpy program stays the reference.
AUTO = ExactEstimator.name


def get_estimator(name: str = "auto", **options: Any) -> BasePIDEstimator:
    """An estimator by name (``"auto"`` or one of :data:`ESTIMATORS`), constructed with ``options``."""
    key = AUTO if name == "auto" else name
    if key not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {name!r}; choose one of {['auto', *ESTIMATORS]}")
    return ESTIMATORS[key](**options)


__all__ = [
    "AUTO",
    "ESTIMATORS",
    "BasePIDEstimator",
    "BatchDiagnostics",
    "BatchEstimator",
    "BatchPIDResult",
    "CVXEstimator",
    "Certificate",
    "ExactEstimator",
    "PIDResult",
    "get_estimator",
]
