"""Train model families on one dataset and measure each: test accuracy and the PID of its predictions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from pidengine.models.evaluate import model_pid
from pidengine.models.training import Split, TrainSettings, train
from pidengine.selection import ReferenceRow


@dataclass(frozen=True)
class ModelReport:
    """One trained family on one dataset. PID parts are in bits, of (code of x1, code of x2, prediction) on test."""

    dataset: str
    family: str
    test_accuracy: float
    val_accuracy: float
    best_epoch: int
    seconds: float
    pid: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class ModelInputs:
    """What a model sweep needs from a dataset: features per split, the test codes, and the number of classes."""

    dataset: str
    splits: dict[str, Split]
    test_codes: tuple[NDArray[np.int64], NDArray[np.int64]]
    n_classes: int


def evaluate_families(inputs: ModelInputs, families: Iterable[str], settings: TrainSettings = TrainSettings()) -> list[ModelReport]:
    """Train every family on the training split (early stopping on validation) and report it on the test split."""
    test = inputs.splits["test"]
    reports = []
    for family in families:
        model = train(family, inputs.splits["train"], inputs.splits["val"], inputs.n_classes, settings)
        predictions = model.predict(test.x1, test.x2)
        pid = model_pid(*inputs.test_codes, predictions)
        reports.append(
            ModelReport(
                inputs.dataset,
                family,
                float((predictions == test.y).mean()),
                model.val_accuracy,
                model.best_epoch,
                model.seconds,
                {**pid.atoms(), "total": pid.total},
            )
        )
    return reports


def reference_row(dataset_pid: dict[str, float], reports: list[ModelReport]) -> ReferenceRow:
    """A reference-table row from a dataset's PID and the families trained on it."""
    if not reports:
        raise ValueError("no trained families to build a reference row from")
    return ReferenceRow(reports[0].dataset, dataset_pid, {r.family: r.test_accuracy for r in reports})
