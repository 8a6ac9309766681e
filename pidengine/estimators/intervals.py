r"""Bootstrap bias correction and basic intervals, shared by every resampling estimator.

A plug-in information estimate is biased upward by roughly the number of cells over twice the number of samples; a
percentile interval of its resamples is centred on the plug-in plus that bias once more (each resample is a plug-in
estimate of the already-biased plug-in), so it can miss even the estimate it accompanies. The bootstrap estimate of
the bias, :math:`\overline{\theta^*} - \hat\theta`, corrects the point estimate, and the basic (pivotal) interval
:math:`[2\hat\theta - \theta^*_{1-\alpha/2},\ 2\hat\theta - \theta^*_{\alpha/2}]` is centred where the corrected
estimate is (Davison & Hinkley 1997, section 5.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

# The most resamples (or label permutations) a resampling estimator draws: each is a table to solve, and at ~1 ms a
# table more would run for hours.
MAX_TABLES = 100_000


@dataclass(frozen=True)
class BasicBootstrap:
    """Bias-corrected estimates with basic intervals; arrays align with the columns of the replicates."""

    corrected: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]

    @property
    def significant(self) -> NDArray[np.bool_]:
        """Whether each interval lies above 0: the part is there beyond what resampling explains."""
        return self.low > 0


def basic_bootstrap(point: ArrayLike, replicates: ArrayLike, confidence: float) -> BasicBootstrap:
    """Correct ``point`` (k,) by the bias its ``replicates`` (n_resamples, k) show, with basic intervals."""
    point, replicates = np.asarray(point, dtype=float), np.asarray(replicates, dtype=float)
    alpha = 1 - confidence
    upper, lower = np.quantile(replicates, [1 - alpha / 2, alpha / 2], axis=0)
    return BasicBootstrap(2 * point - replicates.mean(axis=0), 2 * point - upper, 2 * point - lower)
