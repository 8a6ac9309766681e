"""pidengine: Partial Information Decomposition of multimodal data, in bits."""

from pidengine.estimators import (
    BasePIDEstimator,
    BatchEstimator,
    BatchPIDResult,
    Certificate,
    CVXEstimator,
    ExactEstimator,
    PIDResult,
    get_estimator,
)
from pidengine.exceptions import ConfigError, ConvergenceWarning, EstimationError, InvalidJointError, PIDEngineError
from pidengine.info import conditional_mutual_information, entropy, mutual_information
from pidengine.joint import JointTable, joint_from_samples

__version__ = "0.1.0"

__all__ = [
    "BasePIDEstimator",
    "BatchEstimator",
    "BatchPIDResult",
    "CVXEstimator",
    "Certificate",
    "ConfigError",
    "ConvergenceWarning",
    "EstimationError",
    "ExactEstimator",
    "InvalidJointError",
    "JointTable",
    "PIDEngineError",
    "PIDResult",
    "conditional_mutual_information",
    "entropy",
    "get_estimator",
    "joint_from_samples",
    "mutual_information",
]
