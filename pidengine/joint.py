"""Discrete joint distributions: validation, and contingency tables built from samples.

A *joint* in pidengine is an array ``p[x1, x2, y]`` of shape ``(|X1|, |X2|, |Y|)`` with non-negative entries
and positive total mass. It need not be normalised: every consumer normalises it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.exceptions import InvalidJointError, SparseTableWarning
from pidengine.parts import LN2

AXIS_NAMES = ("x1", "x2", "y")

# joint_from_samples warns (SparseTableWarning) when the Miller bias of the plug-in total exceeds this, in bits,
SPARSE_BIAS_BITS = 0.1
# and says how many samples would bring that bias down to this.
TARGET_BIAS_BITS = 0.05


def as_pmf(p: ArrayLike, ndim: int | None = None, name: str = "joint") -> NDArray[np.float64]:
    """Validate non-negative masses and return them normalised to sum to 1 (a new float64 array).

    Parameters
    ----------
    p : array_like
        Non-negative masses with positive total.
    ndim : int, optional
        Required number of dimensions, if any.
    name : str, default="joint"
        What the array is, for error messages.

    Raises
    ------
    InvalidJointError
        If the array is not numeric, has the wrong number of dimensions or an empty axis, contains NaN or
        inf, has a negative entry, or has zero total mass.
    """
    try:
        source = np.asarray(p)
        real = source.dtype.kind not in "cSUVmM"  # complex, text, bytes, void, time: no mass to read
        arr = np.array(source, dtype=np.float64) if real else None
    except (TypeError, ValueError) as exc:
        raise InvalidJointError(f"{name} must be a numeric array: {exc}") from exc
    if arr is None:
        raise InvalidJointError(f"{name} must hold real numbers, got dtype {source.dtype}; pass its masses as floats")
    if ndim is not None and arr.ndim != ndim:
        expected = " x ".join(f"|{a.upper()}|" for a in AXIS_NAMES) if ndim == 3 else f"{ndim}-D"
        raise InvalidJointError(f"{name} must have {ndim} dimensions ({expected}), got shape {arr.shape}")
    if arr.size == 0:
        raise InvalidJointError(f"{name} is empty: shape {arr.shape} has an axis of length 0")
    bad = ~np.isfinite(arr)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidJointError(f"{name} contains NaN or inf ({int(bad.sum())} entries, first at index {index})")
    if (arr < 0).any():
        index = tuple(int(i) for i in np.unravel_index(np.argmin(arr), arr.shape))
        raise InvalidJointError(
            f"{name} has negative mass ({int((arr < 0).sum())} entries, minimum {arr.min():.6g} at index {index})"
        )
    largest = arr.max()
    if largest <= 0:
        raise InvalidJointError(f"{name} has zero total mass")
    arr /= largest  # first, so that masses near the float limit cannot sum to inf
    arr /= arr.sum()
    return arr


@dataclass(frozen=True, eq=False)
class JointTable:
    """A normalised contingency table of samples with the mapping back to the original values.

    Attributes
    ----------
    pmf : ndarray, shape (|X1|, |X2|, |Y|)
        Empirical joint distribution; ``pmf[i, j, k]`` is the fraction of samples with
        ``x1 == values1[i]``, ``x2 == values2[j]`` and ``y == values_y[k]``.
    values1, values2, values_y : ndarray
        The distinct observed values of each variable, sorted; table index ``i`` stands for ``values1[i]``.
    n_samples : int
        Number of samples counted.
    """

    pmf: NDArray[np.float64]
    values1: NDArray
    values2: NDArray
    values_y: NDArray
    n_samples: int


def miller_bias_bits(n_pairs: int, n_labels: int, n_samples: int) -> float:
    r"""Miller's approximation of the upward bias of the plug-in :math:`\hat I(X_1, X_2; Y)`, in bits.

    .. math::

        \frac{(k_{12} - 1)(|Y| - 1)}{2 n \ln 2}

    where :math:`k_{12}` is the number of (x1, x2) pairs with positive probability, :math:`|Y|` the number of
    labels and :math:`n` the number of samples. It is the bias when y is independent of (x1, x2), the largest for
    these supports; the decomposition splits it over the four parts.

    Examples
    --------
    >>> round(miller_bias_bits(4, 2, 1000), 6)
    0.002164
    """
    return (n_pairs - 1) * (n_labels - 1) / (2 * n_samples * LN2)


def _show_float(value: float) -> str:
    """A non-integer float for a message: four significant digits, unless that would read as an integer."""
    short = f"{value:.4g}"
    return short if not float(short).is_integer() else repr(float(value))


def _codes(arr: NDArray, name: str) -> tuple[NDArray, NDArray[np.intp]]:
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise InvalidJointError(f"samples of {name} contain NaN or inf")
        # Continuous values would each become their own code: a table of one sample per cell, whose plug-in PID
        # is near its maximum whatever the data (500 Gaussian samples give 1 bit of "redundancy").
        fractional = np.flatnonzero(arr != np.floor(arr))
        if fractional.size:
            count = f"{fractional.size} non-integer float value{'s' if fractional.size > 1 else ''}"
            raise InvalidJointError(
                f"{name} has {count}, e.g. {_show_float(arr[fractional[0]])}; discretise it first "
                "(pidengine.features.discretize.ModalityFeaturizer, or `pidengine run` on a catalog entry): "
                "samples (also `pidengine pid --samples`) must be discrete codes"
            )
    if arr.dtype.kind == "O" and any(v is None for v in arr):
        raise InvalidJointError(f"samples of {name} contain missing values (None)")
    try:
        uniques, inverse = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        raise InvalidJointError(f"samples of {name} mix types that cannot be ordered: {exc}") from exc
    return uniques, inverse.reshape(-1)


def joint_from_samples(x1: ArrayLike, x2: ArrayLike, y: ArrayLike) -> JointTable:
    """Build the normalised contingency table of discrete samples ``(x1, x2, y)``.

    Parameters
    ----------
    x1, x2, y : array_like, shape (n_samples,)
        Discrete samples: integers, booleans, strings or any orderable categorical values; floats only where
        they are integers (``1.0``, ``2.0``).

    Returns
    -------
    JointTable
        The empirical joint ``pmf`` with ``pmf.shape == (len(values1), len(values2), len(values_y))`` and the
        value of each table index.

    Raises
    ------
    InvalidJointError
        If the arrays are not 1-D, have different lengths, are empty, contain NaN / missing values, or contain
        floats that are not integers (continuous data: discretise it first).

    Warns
    -----
    SparseTableWarning
        If the table has too many cells for its samples: when the Miller bias of the plug-in total,
        :func:`miller_bias_bits` of the observed (x1, x2) pairs, observed labels and samples, exceeds
        ``SPARSE_BIAS_BITS`` (0.1 bits). The message gives that bias and the number of samples that would bring it
        down to ``TARGET_BIAS_BITS`` (0.05 bits).

    Examples
    --------
    >>> t = joint_from_samples([0, 0, 1, 1] * 25, ["a", "b", "a", "b"] * 25, [0, 1, 1, 0] * 25)
    >>> t.pmf.shape, t.values2.tolist(), t.n_samples
    ((2, 2, 2), ['a', 'b'], 100)
    """
    arrays = {name: np.asarray(a) for name, a in zip(AXIS_NAMES, (x1, x2, y))}
    for name, arr in arrays.items():
        if arr.ndim != 1:
            raise InvalidJointError(f"samples of {name} must be a 1-D array, got shape {arr.shape}")
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise InvalidJointError(f"samples have different lengths: {lengths}")
    if lengths["x1"] == 0:
        raise InvalidJointError("no samples: x1, x2 and y are empty")
    (v1, c1), (v2, c2), (vy, cy) = (_codes(arr, name) for name, arr in arrays.items())
    shape = (len(v1), len(v2), len(vy))
    counts = np.bincount(np.ravel_multi_index((c1, c2, cy), shape), minlength=int(np.prod(shape))).reshape(shape)
    n = int(counts.sum())
    _warn_if_sparse(counts, n)
    return JointTable(pmf=counts / n, values1=v1, values2=v2, values_y=vy, n_samples=n)


def _warn_if_sparse(counts: NDArray[np.intp], n: int) -> None:
    """Warn when the plug-in bias of the table of ``counts`` exceeds ``SPARSE_BIAS_BITS`` (see joint_from_samples)."""
    n_pairs, n_labels = int(np.count_nonzero(counts.sum(axis=2))), counts.shape[2]
    bias = miller_bias_bits(n_pairs, n_labels, n)
    if bias <= SPARSE_BIAS_BITS:
        return
    needed = math.ceil(miller_bias_bits(n_pairs, n_labels, 1) / TARGET_BIAS_BITS)  # the bias falls as 1 / n
    warnings.warn(
        f"sparse table: {n} samples for {n_pairs} observed (x1, x2) pairs x {n_labels} values of y "
        f"({n_pairs * n_labels} cells); the plug-in PID total is biased upward by up to about {bias:.3f} bits "
        f"(Miller: (k12 - 1)(|Y| - 1) / (2 n ln 2)); use fewer codes for x1 and x2, or at least {needed} samples "
        f"for a bias of {TARGET_BIAS_BITS} bits",
        SparseTableWarning,
        stacklevel=3,
    )
