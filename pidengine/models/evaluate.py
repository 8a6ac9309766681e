"""The PID of a trained model's predictions: which interactions the model actually uses.

For a model :math:`f` and the test split, the model PID is the PID of :math:`(X_1, X_2, \\hat Y)` with
:math:`\\hat Y = f(x_1, x_2)`, computed on the dataset's discrete codes of the two modalities (Liang et al., 2023,
§4). A model that only adds unimodal evidence shows little synergy even where the data has much.

It is measured by the estimate the pipeline makes of the dataset's own codes (:func:`pidengine.quantify.exact_estimate`:
the exact PID, bias-corrected by the bootstrap, with intervals and significance), with the same settings, so that
the dataset's PID and the model's are read with one ruler. The test split is small (a few hundred rows), where the
plug-in PID of a code table is biased upwards by tenths of a bit, more than the differences between families.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import ArrayLike

from pidengine.quantify import ExactSettings, exact_estimate


def model_pid(
    codes1: ArrayLike, codes2: ArrayLike, predictions: ArrayLike, settings: ExactSettings | None = None
) -> dict[str, Any]:
    """PID (bits, the flat view of :func:`pidengine.quantify.exact_estimate`) of (code of x1, code of x2, predicted
    label) over the given samples, estimated as the pipeline estimates a dataset with ``settings``.

    A model that predicts a single class everywhere carries no information: every part is 0 bits and not
    significant.
    """
    return exact_estimate(codes1, codes2, predictions, settings)
