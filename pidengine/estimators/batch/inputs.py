"""What the BATCH estimator accepts: features, labels, a device, and a caller's classifier, each checked on entry
with a message that names the problem and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.exceptions import ConfigError, EstimationError, InvalidJointError

if TYPE_CHECKING:  # torch loads on use: the pipeline's settings read the estimator's parameters without it
    import torch

# A caller's classifier: NumPy features in, class probabilities (array or tensor) out.
ProbaFn = Callable[..., Any]
# Probabilities from a user's classifier are floored here (then renormalised), so every log is finite.
PROB_FLOOR = 1e-12


def as_features(x: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidJointError(f"{name} must be a numeric array of shape (n_samples, n_features): {exc}") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidJointError(
            f"{name} must be 2-D (n_samples, n_features) or 1-D (one feature), got shape {arr.shape}; "
            "flatten images or sequences first"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidJointError(f"{name} is empty: shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise InvalidJointError(f"{name} contains NaN or inf ({int(bad.sum())} entries, first in sample {row})")
    return arr


def as_labels(y: ArrayLike) -> NDArray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InvalidJointError(f"y must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InvalidJointError(f"y contains NaN or inf ({int((~np.isfinite(arr)).sum())} entries)")
    if arr.dtype.kind == "O" and any(v is None for v in arr):
        raise InvalidJointError("y contains missing values (None)")
    return arr


def check_lengths(**arrays: NDArray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise InvalidJointError(f"x1, x2 and y must have one row per sample; got lengths {lengths}")
    return next(iter(lengths.values()))


def resolve_device(device: str | torch.device) -> torch.device:
    import torch

    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(device, str) and device.split(":")[0] in ("cpu", "cuda"):
        resolved = torch.device(device)
    else:
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available here; use device='auto' or 'cpu'")
    return resolved


def checked_log_proba(
    user: ProbaFn, param: str, classes: NDArray, device: torch.device
) -> Callable[..., torch.Tensor]:
    """A caller's probability function (the setting ``param``) as a validated log-probability function (float64,
    on ``device``), for the sorted labels ``classes``."""
    import torch

    n_classes = len(classes)

    def log_proba(*xs: NDArray[np.float64]) -> torch.Tensor:
        try:
            out = user(*xs)
        except Exception as exc:
            raise EstimationError(f"{param} failed on input of shape {[x.shape for x in xs]}: {exc}") from exc
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        try:
            p = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{param} must return numeric class probabilities: {exc}") from exc
        if p.shape != (len(xs[0]), n_classes):
            raise ConfigError(
                f"{param} returned shape {p.shape}; expected (n_samples, n_classes) = ({len(xs[0])}, {n_classes}) "
                f"with columns in the order of the sorted labels {classes.tolist()[:10]}"
            )
        if not np.isfinite(p).all() or (p < 0).any():
            raise ConfigError(f"{param} returned negative, NaN or inf probabilities")
        sums = p.sum(1)
        if np.abs(sums - 1).max() > 1e-3:
            raise ConfigError(
                f"{param} must return probabilities (rows summing to 1), got row sums from {sums.min():.4g} to "
                f"{sums.max():.4g}; apply a softmax to logits"
            )
        p = np.maximum(p, PROB_FLOOR)
        return torch.as_tensor(np.log(p / p.sum(1, keepdims=True)), device=device)

    return log_proba
