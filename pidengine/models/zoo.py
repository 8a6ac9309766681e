r"""Multimodal model families: small torch modules mapping two feature vectors to class logits.

Every family is a :class:`FusionModel`: ``forward(x1, x2)`` returns logits of shape (batch, n_classes), and
``auxiliary_loss(x1, x2)`` adds a family-specific regulariser to the cross-entropy during training (zero for plain
fusion). Each modality first goes through its own encoder :math:`z_i = \mathrm{MLP}_i(x_i) \in \mathbb{R}^h`.

========================  ===========================================================================================
family                    prediction (and regulariser)
========================  ===========================================================================================
``early_fusion``          :math:`\mathrm{MLP}([x_1; x_2])` on the concatenated raw features
``late_fusion``           :math:`g_1(z_1) + g_2(z_2)`: an additive ensemble of unimodal classifiers' logits
``elementwise``           :math:`g(z_1 \odot z_2)`: multiplicative interactions, feature by feature
``tensor_fusion``         :math:`g(\mathrm{vec}([z_1; 1] \otimes [z_2; 1]))` (Zadeh et al., 2017), on small encodings
``low_rank_tensor``       :math:`g\big(\sum_{r} (A_r [z_1; 1]) \odot (B_r [z_2; 1])\big)`, the tensor of rank ``rank``
                          (Liu et al., 2018)
``cross_attention``       each modality as tokens attending to the other's (transformer cross-attention), pooled,
                          then :math:`g`
``agreement``             late fusion, plus
                          :math:`\lambda\,\tfrac12[\mathrm{KL}(p_1 \Vert p_2) + \mathrm{KL}(p_2 \Vert p_1)]`
                          between the unimodal predictions
``alignment``             :math:`g([z_1; z_2])`, plus :math:`\lambda\,(1 - \cos(P_1 z_1, P_2 z_2))`: aligned modality
                          embeddings
``reconstruction``        :math:`g(h)`, :math:`h = \mathrm{MLP}([z_1; z_2])`, plus
                          :math:`\lambda\,(\lVert D_1 h - x_1 \rVert^2 + \lVert D_2 h - x_2 \rVert^2)`
                          (reconstruct both inputs)
========================  ===========================================================================================

Register a family of your own with :func:`register_family`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from pidengine.exceptions import ConfigError


@dataclass(frozen=True)
class ModelShape:
    """Input and output sizes a family is built for, and its width."""

    dim1: int
    dim2: int
    n_classes: int
    hidden: int = 32
    regularization: float = 0.1


def _mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))


class FusionModel(nn.Module):
    """Base class of every family: ``forward(x1, x2)`` gives logits; ``auxiliary_loss`` a regulariser."""

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def auxiliary_loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """The family's regulariser (in nats, like the cross-entropy it is added to); zero by default."""
        return x1.new_zeros(())


class EncodedFusion(FusionModel):
    r"""A family that first encodes each modality with its own MLP, :math:`z_i = \mathrm{ReLU}(\mathrm{MLP}_i(x_i))`."""

    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        self.encoder1 = _mlp(shape.dim1, shape.hidden, shape.hidden)
        self.encoder2 = _mlp(shape.dim2, shape.hidden, shape.hidden)

    def encode(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.relu(self.encoder1(x1)), F.relu(self.encoder2(x2))


class EarlyFusion(FusionModel):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        self.net = nn.Sequential(
            nn.Linear(shape.dim1 + shape.dim2, shape.hidden),
            nn.ReLU(),
            nn.Linear(shape.hidden, shape.hidden),
            nn.ReLU(),
            nn.Linear(shape.hidden, shape.n_classes),
        )

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x1, x2], dim=1))


class LateFusion(EncodedFusion):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        self.head1 = nn.Linear(shape.hidden, shape.n_classes)
        self.head2 = nn.Linear(shape.hidden, shape.n_classes)

    def unimodal_logits(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z1, z2 = self.encode(x1, x2)
        return self.head1(z1), self.head2(z2)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        logits1, logits2 = self.unimodal_logits(x1, x2)
        return logits1 + logits2


class Elementwise(EncodedFusion):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        self.head = _mlp(shape.hidden, shape.hidden, shape.n_classes)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.encode(x1, x2)
        return self.head(z1 * z2)


def _with_one(z: torch.Tensor) -> torch.Tensor:
    return torch.cat([z, z.new_ones(len(z), 1)], dim=1)


class TensorFusion(EncodedFusion):
    _FACTOR = 8  # encodings are projected to 8 so the outer product stays 9 x 9

    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        self.project1 = nn.Linear(shape.hidden, self._FACTOR)
        self.project2 = nn.Linear(shape.hidden, self._FACTOR)
        self.head = _mlp((self._FACTOR + 1) ** 2, shape.hidden, shape.n_classes)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.encode(x1, x2)
        outer = torch.einsum("bi,bj->bij", _with_one(self.project1(z1)), _with_one(self.project2(z2)))
        return self.head(outer.flatten(1))


class LowRankTensor(EncodedFusion):
    rank = 4

    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        self.factors1 = nn.Parameter(torch.randn(self.rank, shape.hidden + 1, shape.hidden) * 0.1)
        self.factors2 = nn.Parameter(torch.randn(self.rank, shape.hidden + 1, shape.hidden) * 0.1)
        self.head = _mlp(shape.hidden, shape.hidden, shape.n_classes)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.encode(x1, x2)
        fused = torch.einsum("bi,rio->rbo", _with_one(z1), self.factors1) * torch.einsum(
            "bi,rio->rbo", _with_one(z2), self.factors2
        )
        return self.head(fused.sum(0))


class CrossAttention(EncodedFusion):
    n_tokens = 4

    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        if shape.hidden % (self.n_tokens * 2):
            raise ConfigError(f"cross_attention needs hidden divisible by {self.n_tokens * 2}, got {shape.hidden}")
        width = shape.hidden // self.n_tokens
        self.attend1 = nn.MultiheadAttention(width, num_heads=2, batch_first=True)
        self.attend2 = nn.MultiheadAttention(width, num_heads=2, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.head = _mlp(2 * width, shape.hidden, shape.n_classes)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.encode(x1, x2)
        t1, t2 = z1.view(len(z1), self.n_tokens, -1), z2.view(len(z2), self.n_tokens, -1)
        a1, _ = self.attend1(t1, t2, t2, need_weights=False)  # x1's tokens query x2's
        a2, _ = self.attend2(t2, t1, t1, need_weights=False)
        pooled = torch.cat([self.norm(t1 + a1).mean(1), self.norm(t2 + a2).mean(1)], dim=1)
        return self.head(pooled)


class Agreement(LateFusion):
    def auxiliary_loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        log1, log2 = (F.log_softmax(logits, dim=1) for logits in self.unimodal_logits(x1, x2))
        symmetric_kl = 0.5 * (F.kl_div(log2, log1, log_target=True, reduction="batchmean")
                              + F.kl_div(log1, log2, log_target=True, reduction="batchmean"))
        return self.shape.regularization * symmetric_kl


class Alignment(EncodedFusion):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        self.align1 = nn.Linear(shape.hidden, shape.hidden)
        self.align2 = nn.Linear(shape.hidden, shape.hidden)
        self.head = _mlp(2 * shape.hidden, shape.hidden, shape.n_classes)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat(self.encode(x1, x2), dim=1))

    def auxiliary_loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.encode(x1, x2)
        cosine = F.cosine_similarity(self.align1(z1), self.align2(z2), dim=1)
        return self.shape.regularization * (1 - cosine).mean()


class Reconstruction(EncodedFusion):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__(shape)
        self.joint = _mlp(2 * shape.hidden, shape.hidden, shape.hidden)
        self.decoder1 = _mlp(shape.hidden, shape.hidden, shape.dim1)
        self.decoder2 = _mlp(shape.hidden, shape.hidden, shape.dim2)
        self.head = nn.Linear(shape.hidden, shape.n_classes)

    def _joint(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return F.relu(self.joint(torch.cat(self.encode(x1, x2), dim=1)))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.head(self._joint(x1, x2))

    def auxiliary_loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        h = self._joint(x1, x2)
        error = F.mse_loss(self.decoder1(h), x1) + F.mse_loss(self.decoder2(h), x2)
        return self.shape.regularization * error


FamilyBuilder = Callable[[ModelShape], FusionModel]

FAMILIES: dict[str, FamilyBuilder] = {
    "early_fusion": EarlyFusion,
    "late_fusion": LateFusion,
    "elementwise": Elementwise,
    "tensor_fusion": TensorFusion,
    "low_rank_tensor": LowRankTensor,
    "cross_attention": CrossAttention,
    "agreement": Agreement,
    "alignment": Alignment,
    "reconstruction": Reconstruction,
}
"""The model zoo: family name → builder taking a :class:`ModelShape`."""


def register_family(name: str, builder: FamilyBuilder) -> None:
    """Add a family to :data:`FAMILIES` (a builder from :class:`ModelShape` to a :class:`FusionModel`)."""
    if not name.isidentifier():
        raise ConfigError(f"family names are identifiers like 'my_fusion', got {name!r}")
    if name in FAMILIES:
        raise ConfigError(f"family {name!r} is already registered")
    FAMILIES[name] = builder


def build(family: str, shape: ModelShape) -> FusionModel:
    """A fresh, untrained model of ``family``."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r}; choose from {sorted(FAMILIES)}")
    return FAMILIES[family](shape)
