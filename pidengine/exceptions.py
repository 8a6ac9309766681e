"""Exception and warning hierarchy of pidengine.

Every error pidengine raises on purpose derives from :class:`PIDEngineError`, so callers can catch the
library's failures in one place. Errors about a wrong *value* also derive from :class:`ValueError`.
"""

from __future__ import annotations


class PIDEngineError(Exception):
    """Root of all pidengine errors."""


class InvalidJointError(PIDEngineError, ValueError):
    """A joint distribution or a set of samples cannot be used (NaN, negative mass, wrong shape, ...)."""


class ConfigError(PIDEngineError, ValueError):
    """An estimator or pipeline setting has an invalid value."""


class EstimationError(PIDEngineError):
    """A solver failed, or its result could not be certified to the requested tolerance."""


class ConvergenceWarning(UserWarning):
    """An estimate was returned although it misses its tolerance (only when the caller asked for warnings)."""


class SparseTableWarning(UserWarning):
    """A table built from samples has so many cells per sample that its plug-in PID is biased upward.

    Raised by :func:`pidengine.joint_from_samples`; silence it with ``warnings.simplefilter("ignore",
    SparseTableWarning)`` where the bias is known and accepted.
    """


class LearningLimitedWarning(UserWarning):
    """A learned estimate still grew with the training size: its parts are likely biased by what the classifiers
    have yet to learn, which their intervals do not hold (:class:`pidengine.estimators.crossfit.LearningCurve`)."""
