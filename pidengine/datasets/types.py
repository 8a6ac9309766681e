"""The in-memory form of a two-modality dataset, as every source returns it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.exceptions import InvalidJointError


@dataclass(frozen=True, eq=False)
class MultimodalData:
    """Two modalities and an integer label, validated.

    Attributes
    ----------
    x1, x2 : ndarray
        Each modality is either numeric features, float64 of shape (n_samples, d) (a 1-D input becomes one feature
        column, an image (n, h, w) is flattened), or text, an array of str of shape (n_samples,) that an encoder
        turns into features.
    y : ndarray of int64, shape (n_samples,)
        Label codes ``0 .. n_classes - 1``.
    label_names : tuple of str
        The original label of each code.
    true_pid : dict of str to float or None
        ``redundancy``, ``unique1``, ``unique2``, ``synergy``, ``total`` in bits, when known by construction.
    """

    x1: NDArray
    x2: NDArray
    y: NDArray[np.int64]
    label_names: tuple[str, ...]
    true_pid: dict[str, float] | None = field(default=None)

    @classmethod
    def from_arrays(
        cls, x1: ArrayLike, x2: ArrayLike, y: ArrayLike, true_pid: dict[str, float] | None = None
    ) -> MultimodalData:
        """Validate and encode raw arrays: finite numeric features, equal lengths, at least two classes.

        Raises
        ------
        InvalidJointError
            Naming the modality and the problem (NaN or infinite values, non-numeric, wrong dimensions, unequal
            lengths, no samples, a single class, a missing label).
        """
        features = {"x1": _as_features("x1", x1), "x2": _as_features("x2", x2)}
        labels = np.asarray(y)
        if labels.ndim != 1:
            raise InvalidJointError(f"y must be one label per sample (1-D), got shape {labels.shape}")
        lengths = {"x1": len(features["x1"]), "x2": len(features["x2"]), "y": len(labels)}
        if len(set(lengths.values())) != 1:
            raise InvalidJointError(f"x1, x2 and y must have one row per sample, got lengths {lengths}")
        if len(labels) == 0:
            raise InvalidJointError("the dataset has no samples")
        if labels.dtype.kind == "f" and not np.isfinite(labels).all():
            raise InvalidJointError("y has missing (NaN) labels")
        if labels.dtype.kind == "O" and any(v is None for v in labels):
            raise InvalidJointError("y has missing (None) labels")
        names, codes = np.unique(labels, return_inverse=True)
        if len(names) < 2:
            raise InvalidJointError(f"y has a single class ({names[0]!r}); PID needs at least two")
        return cls(
            features["x1"], features["x2"], codes.astype(np.int64), tuple(str(n) for n in names), true_pid
        )

    @property
    def n_samples(self) -> int:
        return len(self.y)


def is_text(modality: NDArray) -> bool:
    """Whether a modality holds text (one string per sample) rather than numeric features."""
    return modality.ndim == 1 and modality.dtype.kind in "OUT"


def _as_features(name: str, values: ArrayLike) -> NDArray:
    array = np.asarray(values)
    if array.ndim == 1 and array.dtype.kind in "OUT":
        return _as_text(name, array)
    if array.dtype.kind not in "biuf":
        raise InvalidJointError(f"{name} must be numeric features or one text per sample, got dtype {array.dtype}")
    if array.ndim == 0:
        raise InvalidJointError(f"{name} must have one row per sample, got a scalar")
    if len(array) == 0:
        raise InvalidJointError(f"{name} has no samples")
    # One column per feature: a 1-D modality is one feature, an image (n, h, w) is flattened.
    array = array.reshape(len(array), -1)
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InvalidJointError(f"{name} has {bad.sum()} NaN or infinite values (first in row {rows[0]})")
    return array


SPLITS = ("train", "val", "test")


def stratified_split(y: NDArray[np.int64], fractions: dict[str, float], seed: int) -> NDArray[np.object_]:
    """Assign each sample to ``train``, ``val`` or ``test``, class by class, in the given proportions.

    Within each class the samples are shuffled (seeded) and cut at the cumulative fractions, so every split keeps
    the label proportions even for tiny classes.

    Raises
    ------
    InvalidJointError
        If a split with a positive fraction ends up empty (too few samples for the fractions).
    """
    rng = np.random.default_rng(seed)
    split = np.empty(len(y), dtype=object)
    cumulative = np.cumsum([fractions[name] for name in SPLITS])
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        cuts = np.rint(cumulative * len(members)).astype(int)
        for name, part in zip(SPLITS, np.split(members, cuts[:-1])):
            split[part] = name
    for name in SPLITS:
        if fractions[name] > 0 and not (split == name).any():
            raise InvalidJointError(
                f"the {name!r} split is empty: {len(y)} samples are too few for the fractions {fractions}"
            )
    return split


def _as_text(name: str, array: NDArray) -> NDArray[np.object_]:
    if len(array) == 0:
        raise InvalidJointError(f"{name} has no samples")
    missing = [i for i, v in enumerate(array) if not isinstance(v, str)]
    if missing:
        raise InvalidJointError(f"{name} has {len(missing)} missing or non-text entries (first in row {missing[0]})")
    return array.astype(object)
