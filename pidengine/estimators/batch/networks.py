"""The networks of the BATCH estimator: the MLP behind every classifier and alignment network, the learned kernel
of the alignment networks, and inference in bounded memory."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

_CHUNK = 8192  # rows per forward pass at inference


class MLP(nn.Module):
    """Standardised inputs (concatenated when several), ``n_layers`` ReLU layers of ``width``, a linear output."""

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor, width: int, n_layers: int, n_out: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        layers: list[nn.Module] = []
        n_in = mean.numel()
        for _ in range(n_layers):
            layers += [nn.Linear(n_in, width), nn.ReLU()]
            n_in = width
        layers.append(nn.Linear(n_in, n_out))
        self.net = nn.Sequential(*layers)
        # Temperature of the logits (classifiers only): fitted on the validation split after training.
        self.register_buffer("log_temperature", torch.zeros(()))

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        x = xs[0] if len(xs) == 1 else torch.cat(xs, dim=1)
        return self.net((x - self.mean) / self.scale) * torch.exp(-self.log_temperature)


class Alignment(nn.Module):
    r"""The two alignment networks; :meth:`log_kernel` gives :math:`\log A` with shape (|Y|, m, n)."""

    def __init__(self, f1: MLP, f2: MLP, n_classes: int, embed_dim: int, bound: float) -> None:
        super().__init__()
        self.f1, self.f2 = f1, f2
        self.n_classes, self.embed_dim, self.bound = n_classes, embed_dim, bound

    def log_kernel(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """:math:`\\log A[y, a, b]`, double-centred per label and softly bounded to ``(-bound, bound)``.

        The Sinkhorn projection absorbs any factor :math:`g(a, y) h(b, y)`, so subtracting the batch's row and
        column means leaves :math:`q` unchanged while removing directions in which the networks could drift freely.
        The bound :math:`B \\tanh(s / B)` caps the contrast between two cells at :math:`e^{2B}`: unbounded, the
        networks learn contrasts of hundreds of nats that buy nothing on held-out batches (they fit the classifiers'
        residual errors) and slow Sinkhorn down by orders of magnitude.
        """
        e1 = self.f1(x1).view(len(x1), self.n_classes, self.embed_dim)
        e2 = self.f2(x2).view(len(x2), self.n_classes, self.embed_dim)
        scores = torch.einsum("ake,bke->kab", e1, e2) / math.sqrt(self.embed_dim)
        row_mean = scores.mean(dim=2, keepdim=True)
        col_mean = scores.mean(dim=1, keepdim=True)
        centred = scores - row_mean - col_mean + row_mean.mean(dim=1, keepdim=True)
        return self.bound * torch.tanh(centred / self.bound)


def standardiser(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = x.mean(0)
    scale = x.std(0) if len(x) > 1 else torch.ones_like(mean)
    return mean, torch.where(scale > 1e-8, scale, torch.ones_like(scale))


def forward_in_chunks(net: nn.Module, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``net(*inputs)`` in row chunks (bounded memory at inference)."""
    n = len(inputs[0])
    return torch.cat([net(*(x[i : i + _CHUNK] for x in inputs)) for i in range(0, n, _CHUNK)], dim=0)


def log_proba_of(net: MLP) -> Callable[..., torch.Tensor]:
    """A trained classifier as a log-probability function (no gradients, bounded memory)."""

    def log_proba(*xs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.log_softmax(forward_in_chunks(net, xs), dim=1)

    return log_proba
