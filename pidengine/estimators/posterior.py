"""Calibrated class posteriors p̂(y | x) from continuous features: the learned half of the cross-fitted estimator.

A multilayer perceptron (no hidden layer: multinomial logistic regression) trained with Adam on cross-entropy,
stopped early on a held-out validation part, its input scaling and capacity chosen from a small grid on that same
validation cross-entropy, then calibrated by temperature scaling (Guo et al. 2017) on the validation part.

Input scaling: ``standardise`` (each feature to unit variance) or ``whiten`` (every principal direction to unit
variance). Whitening lets a weight-decayed network see label-relevant directions of small variance under a large
nuisance, and hurts where the signal is the large variance; the validation cross-entropy decides per dataset.
Calibration matters here more than accuracy: :math:`H(Y) - \\mathrm{CE}` is a lower bound on :math:`I(X; Y)` that
is tight only for a calibrated posterior.

Features made of several modalities (``blocks``) are scaled modality by modality, and the grid adds two *fusion*
networks: each modality through its own small encoder to a low-dimensional embedding, the label from the pair of
embeddings, with an auxiliary head per modality trained beside it. Their inductive bias is that of a label that sees
each modality through a few factors: on 48-dimensional modalities under a nuisance the plain one found up to 0.2
bits more of :math:`I(X_1, X_2; Y)` than the concatenating MLP, and less on others. The *tensor* one also feeds the
head the outer product of the two (tanh-bounded) embeddings, as tensor fusion does (Zadeh et al. 2017): an
interaction such as the XOR of a factor of each modality is then linear in the head's input instead of a plateau
that early stopping ends on. The validation cross-entropy chooses among all of them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.linalg import block_diag
from torch import nn
from torch.nn import functional as F

from pidengine.exceptions import ConfigError
from pidengine.optim import train_early_stopping

# Capacities tried, as (hidden layers, width): linear, one and two hidden layers.
CAPACITIES: tuple[tuple[int, int], ...] = ((0, 0), (1, 128), (2, 128))
SCALINGS: tuple[str, ...] = ("standardise", "whiten")
ARCHITECTURES: tuple[str, ...] = ("mlp", "fusion", "tensor")
FUSION_WIDTH, FUSION_EMBEDDING = 64, 8  # per-modality encoder: features -> 64 -> 8
_EIGEN_FLOOR = 1e-3  # whitening ignores principal variances below this share of the largest (near-collinear features)


@dataclass(frozen=True, eq=False)
class FittedPosterior:
    """A trained, temperature-scaled classifier; ``predict_proba`` maps feature rows to class probabilities."""

    network: nn.Module = field(repr=False)
    scaling: InputScaling = field(repr=False)
    temperature: float
    architecture: str  # "mlp" or "fusion"
    capacity: tuple[int, int]  # the MLP's (hidden layers, width); the fusion network's encoder (1, width)
    best_epoch: int
    val_cross_entropy: float  # nats, after temperature scaling

    @property
    def label(self) -> str:
        """``scaling/architecture`` with the MLP's ``layers x width``, e.g. ``whiten/2x128`` or ``whiten/fusion``."""
        depth, width = self.capacity
        return f"{self.scaling.name}/{f'{depth}x{width}' if self.architecture == 'mlp' else 'fusion'}"

    def predict_proba(self, x: NDArray) -> NDArray[np.float64]:
        with torch.no_grad():
            logits = self.network(self.scaling(x))
            return F.softmax(logits / self.temperature, dim=1).double().numpy()


@dataclass(frozen=True)
class InputScaling:
    """An affine map of feature rows fitted on training rows: ``(x - mean) * projection`` for a vector of scales
    (standardise), ``(x - mean) @ projection`` for a matrix (whiten, block-diagonal over the modalities).
    ``block_sizes``: the scaled columns of each modality, in order."""

    name: str
    mean: NDArray[np.float64] = field(repr=False)
    projection: NDArray[np.float64] = field(repr=False)
    block_sizes: tuple[int, ...]

    @classmethod
    def fit(cls, name: str, x: NDArray, blocks: tuple[int, ...] | None = None) -> InputScaling:
        """Fit on rows ``x``; ``blocks``: the columns of each modality, in order (default: one modality)."""
        blocks = tuple(blocks) if blocks is not None else (x.shape[1],)
        mean = x.mean(axis=0)
        if name == "standardise":
            return cls(name, mean, 1.0 / (x.std(axis=0) + 1e-6), blocks)
        starts = np.cumsum((0, *blocks))
        whitened = [_whitening(x[:, start:stop] - mean[start:stop]) for start, stop in itertools.pairwise(starts)]
        return cls(name, mean, block_diag(*whitened), tuple(w.shape[1] for w in whitened))

    def __call__(self, x: NDArray) -> torch.Tensor:
        centred = np.asarray(x, dtype=np.float64) - self.mean
        scaled = centred * self.projection if self.projection.ndim == 1 else centred @ self.projection
        return torch.from_numpy(scaled.astype(np.float32))


@dataclass(frozen=True)
class PosteriorSettings:
    """How posteriors are learned: the capacity grid, early stopping and the validation share."""

    capacities: tuple[tuple[int, int], ...] = CAPACITIES
    scalings: tuple[str, ...] = SCALINGS
    dropout: float = 0.2
    weight_decay: float = 1e-2
    learning_rate: float = 3e-3
    batch_size: int = 256
    max_epochs: int = 300
    patience: int = 10
    validation_fraction: float = 0.2
    architectures: tuple[str, ...] = ARCHITECTURES  # "fusion" and "tensor" only for features of several modalities

    def __post_init__(self) -> None:
        if not self.capacities or any(depth < 0 or (depth > 0 and width < 1) for depth, width in self.capacities):
            raise ConfigError(f"capacities must be (hidden layers ≥ 0, width ≥ 1) pairs, got {self.capacities!r}")
        if not self.scalings or set(self.scalings) - set(SCALINGS):
            raise ConfigError(f"scalings must be some of {list(SCALINGS)}, got {self.scalings!r}")
        if not self.architectures or set(self.architectures) - set(ARCHITECTURES):
            raise ConfigError(f"architectures must be some of {list(ARCHITECTURES)}, got {self.architectures!r}")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}")
        if self.max_epochs < 1 or self.patience < 1 or self.batch_size < 1:
            raise ConfigError("max_epochs, patience and batch_size must be positive integers")


def fit_posterior(
    x: NDArray,
    y: NDArray[np.int64],
    n_classes: int,
    settings: PosteriorSettings,
    seed: int,
    blocks: tuple[int, ...] | None = None,
) -> FittedPosterior:
    """The best-calibrated classifier of ``y`` from ``x`` over ``settings.scalings`` × (``settings.capacities`` of
    the MLP, and the fusion network when ``x`` holds several modalities: ``blocks``, the columns of each, in order).

    The rows are split once (seeded) into training and validation parts; every candidate is trained on the same
    parts, and the one with the lowest temperature-scaled validation cross-entropy is kept.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_val = max(round(settings.validation_fraction * len(y)), n_classes)
    val, train = order[:n_val], order[n_val:]
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    fits = []
    candidates = [("mlp", capacity) for capacity in settings.capacities] if "mlp" in settings.architectures else []
    if blocks is not None and len(blocks) > 1:
        candidates += [(name, (1, FUSION_WIDTH)) for name in ("fusion", "tensor") if name in settings.architectures]
    if not candidates:
        raise ConfigError(f"no candidate classifier: architectures {settings.architectures!r} for "
                          f"{len(blocks or (0,))} modality/ies; the fusion networks need two or more")
    for name in settings.scalings:
        scaling = InputScaling.fit(name, np.asarray(x[train], dtype=np.float64), blocks)
        features = scaling(x)
        fits += [_train(features, labels, train, val, n_classes, architecture, capacity, settings, seed, scaling)
                 for architecture, capacity in candidates]
    return min(fits, key=lambda fit: fit.val_cross_entropy)


def _train(
    features: torch.Tensor,
    labels: torch.Tensor,
    train: NDArray[np.intp],
    val: NDArray[np.intp],
    n_classes: int,
    architecture: str,
    capacity: tuple[int, int],
    settings: PosteriorSettings,
    seed: int,
    scaling: InputScaling,
) -> FittedPosterior:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = (_network(features.shape[1], n_classes, capacity, settings.dropout) if architecture == "mlp"
               else FusionNetwork(scaling.block_sizes, n_classes, settings.dropout, products=architecture == "tensor"))
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    train_rows, val_x, val_y = torch.from_numpy(train), features[val], labels[val]

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        rows = train_rows[batch]
        if isinstance(network, FusionNetwork):
            return network.training_loss(features[rows], labels[rows])
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
    return FittedPosterior(network, scaling, temperature, architecture, capacity, best_epoch, val_ce)


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


class FusionNetwork(nn.Module):
    """Each modality's columns through their own encoder (one hidden layer) to an embedding; the label from the
    concatenated embeddings (one hidden layer), and with ``products`` also from the outer product of each pair of
    tanh-bounded embeddings. ``training_loss`` adds the cross-entropy of a linear head per embedding, which makes
    each encoder keep what its modality says alone."""

    def __init__(self, block_sizes: tuple[int, ...], n_classes: int, dropout: float, products: bool = False) -> None:
        super().__init__()
        self.block_sizes = tuple(block_sizes)
        self.pairs = list(itertools.combinations(range(len(self.block_sizes)), 2)) if products else []
        self.encoders = nn.ModuleList(
            nn.Sequential(nn.Linear(size, FUSION_WIDTH), nn.ReLU(), nn.Dropout(dropout),
                          nn.Linear(FUSION_WIDTH, FUSION_EMBEDDING))
            for size in self.block_sizes
        )
        self.head = nn.Sequential(
            nn.Linear(FUSION_EMBEDDING * len(self.block_sizes) + FUSION_EMBEDDING**2 * len(self.pairs), FUSION_WIDTH),
            nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(FUSION_WIDTH, n_classes),
        )
        self.unimodal_heads = nn.ModuleList(nn.Linear(FUSION_EMBEDDING, n_classes) for _ in self.block_sizes)

    def _embeddings(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [encoder(part) for encoder, part in zip(self.encoders, x.split(self.block_sizes, dim=1))]

    def _fused(self, embeddings: list[torch.Tensor]) -> torch.Tensor:
        bounded = [torch.tanh(e) for e in embeddings]
        products = [(bounded[i][:, :, None] * bounded[j][:, None, :]).flatten(1) for i, j in self.pairs]
        return torch.cat([F.relu(torch.cat(embeddings, dim=1)), *products], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._fused(self._embeddings(x)))

    def training_loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        embeddings = self._embeddings(x)
        loss = F.cross_entropy(self.head(self._fused(embeddings)), labels)
        for head, embedding in zip(self.unimodal_heads, embeddings):
            loss = loss + F.cross_entropy(head(embedding), labels)
        return loss


def _whitening(centred: NDArray[np.float64]) -> NDArray[np.float64]:
    """The projection that gives every principal direction of ``centred`` rows unit variance (near-null ones
    dropped)."""
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2 / max(len(centred) - 1, 1)
    keep = variance > _EIGEN_FLOOR * variance.max()
    return directions[keep].T / np.sqrt(variance[keep])
