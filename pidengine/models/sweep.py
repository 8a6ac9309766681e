"""Train model families on one dataset and measure each: test accuracy, the PID of its predictions, and the accuracy
it keeps when one modality is removed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pidengine.models.evaluate import model_pid
from pidengine.models.settings import TrainSettings
from pidengine.models.training import Split, TrainedModel, train
from pidengine.quantify import CODE_ROOTS, ExactSettings, input_key, source_fingerprint

MODALITIES = ("x1", "x2")
# Where a model report comes from: this module, and the exact estimate that measures a model's PID as it measures a
# dataset's; the cache key hashes these and every pidengine module they import (see
# `pidengine.quantify.source_fingerprint`).
_CODE_ROOTS = ("pidengine.models.sweep", *CODE_ROOTS["exact"])


@dataclass(frozen=True)
class ModelReport:
    """One trained family on one dataset, measured on the test split.

    ``pid`` holds the PID (bits) of (code of x1, code of x2, prediction) as the dataset's own is estimated
    (:func:`pidengine.models.evaluate.model_pid`; its flat view: each part, its interval, significance and plug-in
    value). ``accuracy_without[m]`` is the
    test accuracy when modality ``m`` is removed: replaced by its training mean, the standardised input the model sees
    as "no information" (the model is not retrained).
    """

    dataset: str
    family: str
    test_accuracy: float
    val_accuracy: float
    best_epoch: int
    seconds: float
    n_train: int
    pid: dict[str, Any]
    accuracy_without: dict[str, float]

    def accuracy_drop(self, modality: str) -> float:
        """Test accuracy lost when ``modality`` is removed."""
        return self.test_accuracy - self.accuracy_without[modality]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> ModelReport:
        """The inverse of :meth:`to_dict` (also after a JSON round trip)."""
        return cls(**document)


@dataclass(frozen=True, eq=False)
class ModelInputs:
    """What a model sweep needs from a dataset: features per split, the test codes, and the number of classes."""

    dataset: str
    splits: dict[str, Split]
    test_codes: tuple[NDArray[np.int64], NDArray[np.int64]]
    n_classes: int


def evaluate_family(
    inputs: ModelInputs, family: str, settings: TrainSettings = TrainSettings(), pid: ExactSettings | None = None
) -> ModelReport:
    """Train ``family`` on the training split (early stopping on validation) and measure it on the test split; its
    PID with the settings ``pid`` of the dataset's exact estimate (default: the pipeline's)."""
    model = train(family, inputs.splits["train"], inputs.splits["val"], inputs.n_classes, settings)
    test = inputs.splits["test"]
    predictions = model.predict(test.x1, test.x2)
    return ModelReport(
        dataset=inputs.dataset,
        family=family,
        test_accuracy=float((predictions == test.y).mean()),
        val_accuracy=model.val_accuracy,
        best_epoch=model.best_epoch,
        seconds=model.seconds,
        n_train=min(len(inputs.splits["train"].y), settings.max_train_samples),
        pid=model_pid(*inputs.test_codes, predictions, pid),
        accuracy_without={m: _accuracy_without(model, test, m) for m in MODALITIES},
    )


def evaluate_families(
    inputs: ModelInputs, families: Iterable[str], settings: TrainSettings = TrainSettings(),
    pid: ExactSettings | None = None,
) -> list[ModelReport]:
    """:func:`evaluate_family` for each family, in order."""
    return [evaluate_family(inputs, family, settings, pid) for family in families]


def _accuracy_without(model: TrainedModel, test: Split, modality: str) -> float:
    index = MODALITIES.index(modality)
    inputs = [test.x1, test.x2]
    inputs[index] = np.broadcast_to(model.mean[index], inputs[index].shape)
    return model.accuracy(*inputs, test.y)


def cache_key(
    data_dir: str | Path, dataset: str, families: Sequence[str], settings: TrainSettings, use_encoded: bool = False,
    pid: ExactSettings | None = None,
) -> str:
    """A key that changes when the stores the models read (raw or encoded features, codes), the families, the
    training settings, the settings of the model PID or the code change."""
    material = json.dumps([
        dataset, list(families), input_key(data_dir, dataset, "batch", use_encoded),
        input_key(data_dir, dataset, "exact"),
        settings.model_dump(mode="json"), (pid or ExactSettings()).model_dump(mode="json"),
        source_fingerprint(_CODE_ROOTS),
    ])
    return f"models-{dataset}-{hashlib.sha256(material.encode()).hexdigest()[:24]}"
