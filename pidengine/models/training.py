"""One training loop for every model family: minibatch Adam on cross-entropy plus the family's regulariser, early
stopping on the validation split, seeded and deterministic on the CPU."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional as F

from pidengine.exceptions import InvalidJointError
from pidengine.models.settings import TrainSettings
from pidengine.models.zoo import FusionModel, ModelShape, build
from pidengine.optim import train_early_stopping


@dataclass(frozen=True)
class Split:
    """Features of both modalities and labels of one split, as float32 / int64 arrays."""

    x1: NDArray[np.float32]
    x2: NDArray[np.float32]
    y: NDArray[np.int64]

    @classmethod
    def of(cls, x1: NDArray, x2: NDArray, y: NDArray, name: str) -> Split:
        x1, x2, y = np.asarray(x1, np.float32), np.asarray(x2, np.float32), np.asarray(y, np.int64)
        if x1.ndim != 2 or x2.ndim != 2 or y.ndim != 1 or not (len(x1) == len(x2) == len(y)):
            raise InvalidJointError(
                f"{name} split: expected x1 (n, d1), x2 (n, d2), y (n,), got {x1.shape}, {x2.shape}, {y.shape}"
            )
        if len(y) == 0:
            raise InvalidJointError(f"the {name} split is empty")
        if not (np.isfinite(x1).all() and np.isfinite(x2).all()):
            raise InvalidJointError(f"{name} split has NaN or infinite features")
        return cls(x1, x2, y)

    def subsample(self, limit: int, seed: int) -> Split:
        """At most ``limit`` rows, drawn without replacement (seeded), in their original order."""
        if len(self.y) <= limit:
            return self
        rows = np.sort(np.random.default_rng(seed).choice(len(self.y), limit, replace=False))
        return Split(self.x1[rows], self.x2[rows], self.y[rows])


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A trained family with its validation history."""

    family: str
    model: FusionModel = field(repr=False)
    settings: TrainSettings
    best_epoch: int
    val_accuracy: float
    seconds: float
    mean: tuple[NDArray[np.float32], NDArray[np.float32]] = field(repr=False)
    scale: tuple[NDArray[np.float32], NDArray[np.float32]] = field(repr=False)

    def predict_proba(self, x1: NDArray, x2: NDArray) -> NDArray[np.float64]:
        """Class probabilities, shape (n, n_classes)."""
        t1, t2 = self._tensors(x1, x2)
        self.model.eval()
        with torch.no_grad():
            return F.softmax(self.model(t1, t2), dim=1).cpu().double().numpy()

    def predict(self, x1: NDArray, x2: NDArray) -> NDArray[np.int64]:
        return self.predict_proba(x1, x2).argmax(axis=1)

    def accuracy(self, x1: NDArray, x2: NDArray, y: NDArray) -> float:
        return float((self.predict(x1, x2) == np.asarray(y)).mean())

    def _tensors(self, x1: NDArray, x2: NDArray) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.settings.device
        z1 = (np.asarray(x1, np.float32) - self.mean[0]) / self.scale[0]
        z2 = (np.asarray(x2, np.float32) - self.mean[1]) / self.scale[1]
        return torch.from_numpy(z1).to(device), torch.from_numpy(z2).to(device)


def train(
    family: str, train_split: Split, val_split: Split, n_classes: int, settings: TrainSettings = TrainSettings()
) -> TrainedModel:
    """Train one model of ``family`` with early stopping on ``val_split``.

    Features are standardised with the training split's mean and standard deviation (kept with the model).
    The loss is the mean cross-entropy (nats) plus the family's ``auxiliary_loss``.
    """
    train_split = train_split.subsample(settings.max_train_samples, settings.seed)
    if n_classes < 2 or train_split.y.max() >= n_classes or train_split.y.min() < 0:
        raise InvalidJointError(f"labels must be codes 0..{n_classes - 1} with n_classes ≥ 2")
    if len(np.unique(train_split.y)) < 2:
        raise InvalidJointError("the training split has a single class; a classifier needs at least two")
    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    mean = (train_split.x1.mean(0), train_split.x2.mean(0))
    scale = (train_split.x1.std(0) + 1e-6, train_split.x2.std(0) + 1e-6)
    shape = ModelShape(
        train_split.x1.shape[1], train_split.x2.shape[1], n_classes, settings.hidden, settings.regularization
    )
    model = build(family, shape).to(settings.device)
    trained = TrainedModel(family, model, settings, 0, 0.0, 0.0, mean, scale)
    x1, x2 = trained._tensors(train_split.x1, train_split.x2)
    y = torch.from_numpy(train_split.y).to(settings.device)
    v1, v2 = trained._tensors(val_split.x1, val_split.x2)
    vy = torch.from_numpy(val_split.y).to(settings.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)


    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x1[batch], x2[batch]), y[batch]) + model.auxiliary_loss(x1[batch], x2[batch])

    best_epoch = train_early_stopping(
        model,
        batch_loss,
        lambda: F.cross_entropy(model(v1, v2), vy).item(),
        len(y),
        optimizer,
        batch_size=settings.batch_size,
        max_epochs=settings.max_epochs,
        patience=settings.patience,
        generator=generator,
        device=settings.device,
    )
    with torch.no_grad():
        val_accuracy = float((model(v1, v2).argmax(1) == vy).float().mean())
    return TrainedModel(family, model, settings, best_epoch, val_accuracy, time.perf_counter() - start, mean, scale)
