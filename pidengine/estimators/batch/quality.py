"""How good a classifier's probabilities are on labelled samples, next to the label prior's: the evidence behind the
diagnostics' cross-entropies and the warnings about a classifier worse than the prior or overconfident."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pidengine.parts import nats_to_bits

if TYPE_CHECKING:  # torch loads on use, as in pidengine.estimators.batch.inputs
    import torch

# A classifier whose held-out cross-entropy exceeds its mean predictive entropy by more is called overconfident.
OVERCONFIDENCE_BITS = 0.05
# A classifier is "worse than the prior" when its cross-entropy exceeds the prior's by more than this (and by more
# than two standard errors); smaller excesses are the noise of a classifier that rightly learned nothing.
PRIOR_MARGIN_BITS = 0.01


@dataclass(frozen=True)
class ClassifierQuality:
    """A classifier's cross-entropy, mean predictive entropy, the prior's cross-entropy on the same labels, and
    the standard error of the paired difference (classifier minus prior), all in bits."""

    cross_entropy: float
    mean_entropy: float
    prior_cross_entropy: float
    difference_se: float

    @property
    def worse_than_prior(self) -> bool:
        excess = self.cross_entropy - self.prior_cross_entropy
        return excess > PRIOR_MARGIN_BITS and excess > 2 * self.difference_se


def classifier_quality(log_p: torch.Tensor, codes: torch.Tensor, log_prior: torch.Tensor) -> ClassifierQuality:
    """The quality of log-probabilities ``log_p`` (n, |Y|) on the label codes ``codes`` (n,), next to the label
    prior's ``log_prior`` (|Y|,)."""
    import torch

    from pidengine.estimators.batch.objective import mean_entropy

    picked = log_p[torch.arange(len(codes), device=log_p.device), codes]
    prior_picked = log_prior[codes]
    difference = prior_picked - picked  # per-sample log-loss of the classifier minus that of the prior
    se = difference.std() / math.sqrt(len(codes)) if len(codes) > 1 else torch.tensor(0.0)
    return ClassifierQuality(
        nats_to_bits(-picked.mean()), nats_to_bits(mean_entropy(log_p)), nats_to_bits(-prior_picked.mean()),
        nats_to_bits(se),
    )
