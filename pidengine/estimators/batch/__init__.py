"""The BATCH estimator (:mod:`pidengine.estimators.batch.estimator`), its names re-exported."""

from pidengine.estimators.batch.estimator import (
    CLASSIFIERS,
    MIN_FIT_SAMPLES,
    MIN_LABEL_COUNT_PER_BATCH,
    OVERCONFIDENCE_BITS,
    PARTS,
    PRIOR_MARGIN_BITS,
    PROB_FLOOR,
    BatchDiagnostics,
    BatchEstimator,
    BatchPIDResult,
    ProbaFn,
    batch_marginals,
    conditional_entropy_of_marginal,
    conditional_entropy_of_plan,
)

__all__ = [
    "CLASSIFIERS",
    "MIN_FIT_SAMPLES",
    "MIN_LABEL_COUNT_PER_BATCH",
    "OVERCONFIDENCE_BITS",
    "PARTS",
    "PRIOR_MARGIN_BITS",
    "PROB_FLOOR",
    "BatchDiagnostics",
    "BatchEstimator",
    "BatchPIDResult",
    "ProbaFn",
    "batch_marginals",
    "conditional_entropy_of_marginal",
    "conditional_entropy_of_plan",
]
