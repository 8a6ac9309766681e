"""pidengine: Partial Information Decomposition of multimodal data, in bits.

The names below load on first use (PEP 562): ``import pidengine`` stays light, so the command line answers at once,
and torch or cvxpy are imported only by what needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pidengine._lazy import lazy_exports

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "BasePIDEstimator": "pidengine.estimators.base",
    "Certificate": "pidengine.estimators.base",
    "PIDResult": "pidengine.estimators.base",
    "BatchEstimator": "pidengine.estimators.batch",
    "BatchPIDResult": "pidengine.estimators.batch",
    "CVXEstimator": "pidengine.estimators.cvx",
    "ExactEstimator": "pidengine.estimators.exact",
    "get_estimator": "pidengine.estimators",
    "ConfigError": "pidengine.exceptions",
    "ConvergenceWarning": "pidengine.exceptions",
    "EstimationError": "pidengine.exceptions",
    "InvalidJointError": "pidengine.exceptions",
    "PIDEngineError": "pidengine.exceptions",
    "conditional_mutual_information": "pidengine.info",
    "entropy": "pidengine.info",
    "mutual_information": "pidengine.info",
    "JointTable": "pidengine.joint",
    "joint_from_samples": "pidengine.joint",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from pidengine.estimators import get_estimator
    from pidengine.estimators.base import BasePIDEstimator, Certificate, PIDResult
    from pidengine.estimators.batch import BatchEstimator, BatchPIDResult
    from pidengine.estimators.cvx import CVXEstimator
    from pidengine.estimators.exact import ExactEstimator
    from pidengine.exceptions import ConfigError, ConvergenceWarning, EstimationError, InvalidJointError, PIDEngineError
    from pidengine.info import conditional_mutual_information, entropy, mutual_information
    from pidengine.joint import JointTable, joint_from_samples


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
