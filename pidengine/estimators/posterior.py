"""Calibrated class posteriors p̂(y | x) from continuous features: the learned half of the cross-fitted estimator.

A multilayer perceptron (no hidden layer: multinomial logistic regression) trained with Adam on cross-entropy,
stopped early on a held-out validation part, its capacity chosen from a small grid on that same validation
cross-entropy, then calibrated by temperature scaling (Guo et al. 2017) on the validation part. Calibration matters
here more than accuracy: :math:`H(Y) - \\mathrm{CE}` is a lower bound on :math:`I(X; Y)` that is tight only for a
calibrated posterior.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.nn import functional as F

from pidengine.exceptions import ConfigError
from pidengine.optim import train_early_stopping

# Capacities tried, as (hidden layers, width): linear, one and two hidden layers.
CAPACITIES: tuple[tuple[int, int], ...] = ((0, 0), (1, 128), (2, 128))


@dataclass(frozen=True, eq=False)
class FittedPosterior:
    """A trained, temperature-scaled classifier; ``predict_proba`` maps feature rows to class probabilities."""

    network: nn.Module = field(repr=False)
    mean: NDArray[np.float32] = field(repr=False)
    scale: NDArray[np.float32] = field(repr=False)
    temperature: float
    capacity: tuple[int, int]
    best_epoch: int
    val_cross_entropy: float  # nats, after temperature scaling

    def predict_proba(self, x: NDArray) -> NDArray[np.float64]:
        with torch.no_grad():
            logits = self.network(_tensor(x, self.mean, self.scale))
            return F.softmax(logits / self.temperature, dim=1).double().numpy()


@dataclass(frozen=True)
class PosteriorSettings:
    """How posteriors are learned: the capacity grid, early stopping and the validation share."""

    capacities: tuple[tuple[int, int], ...] = CAPACITIES
    dropout: float = 0.2
    weight_decay: float = 1e-2
    learning_rate: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 300
    patience: int = 15
    validation_fraction: float = 0.2

    def __post_init__(self) -> None:
        if not self.capacities or any(depth < 0 or (depth > 0 and width < 1) for depth, width in self.capacities):
            raise ConfigError(f"capacities must be (hidden layers ≥ 0, width ≥ 1) pairs, got {self.capacities!r}")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}")
        if self.max_epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise ConfigError("max_epochs, patience and batch_size must be positive integers")


def fit_posterior(
    x: NDArray, y: NDArray[np.int64], n_classes: int, settings: PosteriorSettings, seed: int
) -> FittedPosterior:
    """The best-calibrated classifier of ``y`` from ``x`` over ``settings.capacities`` (validation cross-entropy).

    The rows are split once (seeded, stratified by chance only) into training and validation parts; every capacity
    is trained on the same parts, and the one with the lowest temperature-scaled validation cross-entropy is kept.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_val = max(int(round(settings.validation_fraction * len(y))), n_classes)
    val, train = order[:n_val], order[n_val:]
    mean = x[train].mean(axis=0).astype(np.float32)
    scale = (x[train].std(axis=0) + 1e-6).astype(np.float32)
    features = _tensor(x, mean, scale)
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    fits = [
        _train(features, labels, train, val, n_classes, capacity, settings, seed, mean, scale)
        for capacity in settings.capacities
    ]
    return min(fits, key=lambda fit: fit.val_cross_entropy)


def _train(
    features: torch.Tensor,
    labels: torch.Tensor,
    train: NDArray[np.intp],
    val: NDArray[np.intp],
    n_classes: int,
    capacity: tuple[int, int],
    settings: PosteriorSettings,
    seed: int,
    mean: NDArray[np.float32],
    scale: NDArray[np.float32],
) -> FittedPosterior:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = _network(features.shape[1], n_classes, capacity, settings.dropout)
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    train_rows, val_x, val_y = torch.from_numpy(train), features[val], labels[val]

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        rows = train_rows[batch]
        return F.cross_entropy(network(features[rows]), labels[rows])

    best_epoch = train_early_stopping(
        network,
        batch_loss,
        lambda: F.cross_entropy(network(val_x), val_y).item(),
        len(train_rows),
        optimizer,
        batch_size=settings.batch_size,
        max_epochs=settings.max_epochs,
        patience=settings.patience,
        generator=generator,
    )
    with torch.no_grad():
        val_logits = network(val_x)
    temperature, val_ce = _temperature(val_logits, val_y)
    return FittedPosterior(network, mean, scale, temperature, capacity, best_epoch, val_ce)


def _temperature(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """The temperature minimising the validation cross-entropy (a 1-D convex problem), and that cross-entropy."""
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_t.detach().exp())
    with torch.no_grad():
        return temperature, float(F.cross_entropy(logits / temperature, labels))


def _network(n_features: int, n_classes: int, capacity: tuple[int, int], dropout: float) -> nn.Module:
    depth, width = capacity
    layers: list[nn.Module] = []
    size = n_features
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU(), nn.Dropout(dropout)]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, n_classes))


def _tensor(x: NDArray, mean: NDArray[np.float32], scale: NDArray[np.float32]) -> torch.Tensor:
    return torch.from_numpy((np.asarray(x, dtype=np.float32) - mean) / scale)
