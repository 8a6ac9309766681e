"""The PID of a trained model's predictions: which interactions the model actually uses.

For a model :math:`f` and the test split, the model PID is the PID of :math:`(X_1, X_2, \\hat Y)` with
:math:`\\hat Y = f(x_1, x_2)`, computed exactly on the dataset's discrete codes of the two modalities (Liang et al.,
2023, §4). A model that only adds unimodal evidence shows little synergy even where the data has much.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from pidengine.estimators import ExactEstimator, PIDResult
from pidengine.joint import joint_from_samples


def model_pid(codes1: ArrayLike, codes2: ArrayLike, predictions: ArrayLike) -> PIDResult:
    """Exact PID (bits) of (code of x1, code of x2, predicted label) over the given samples.

    A model that predicts a single class everywhere carries no information: all parts are 0 bits.
    """
    table = joint_from_samples(codes1, codes2, predictions)
    return ExactEstimator().estimate(table.pmf, n_samples=table.n_samples)
