"""Entropy, mutual information and conditional mutual information of discrete distributions.

All quantities are in **bits** (base-2 logarithms). Inputs are non-negative arrays of any positive total
mass; they are normalised first, and cells with zero mass contribute nothing (``0 log 0 = 0``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pidengine.joint import as_pmf
from pidengine.parts import nats_to_bits


def _neg_entropy_nats(pmf: NDArray[np.float64]) -> float:
    nz = pmf[pmf > 0]
    return float(np.sum(nz * np.log(nz)))


def entropy(p: ArrayLike) -> float:
    r"""Shannon entropy of a discrete distribution, in bits.

    .. math:: H(P) = -\sum_i p_i \log_2 p_i

    Parameters
    ----------
    p : array_like of any shape
        Non-negative masses; normalised before use. A multi-dimensional array is treated as the joint
        distribution of its axes, so ``entropy(p_xy)`` is :math:`H(X, Y)`.

    Returns
    -------
    float
        Entropy in bits.

    Examples
    --------
    >>> entropy([0.5, 0.5])
    1.0
    """
    return nats_to_bits(-_neg_entropy_nats(as_pmf(p, name="distribution")))


def mutual_information(p_xy: ArrayLike) -> float:
    r"""Mutual information between the two axes of a 2-D joint distribution, in bits.

    .. math:: I(X;Y) = H(X) + H(Y) - H(X, Y)

    Parameters
    ----------
    p_xy : array_like, shape (|X|, |Y|)
        Non-negative joint masses; normalised before use.

    Returns
    -------
    float
        :math:`I(X;Y)` in bits.

    Examples
    --------
    >>> mutual_information([[0.5, 0.0], [0.0, 0.5]])
    1.0
    """
    pmf = as_pmf(p_xy, ndim=2, name="distribution")
    nats = _neg_entropy_nats(pmf) - _neg_entropy_nats(pmf.sum(1)) - _neg_entropy_nats(pmf.sum(0))
    return nats_to_bits(nats)


def conditional_mutual_information(p_xyz: ArrayLike) -> float:
    r"""Conditional mutual information :math:`I(X;Y \mid Z)` of a 3-D joint ``p[x, y, z]``, in bits.

    .. math:: I(X;Y \mid Z) = H(X, Z) + H(Y, Z) - H(X, Y, Z) - H(Z)

    Parameters
    ----------
    p_xyz : array_like, shape (|X|, |Y|, |Z|)
        Non-negative joint masses indexed ``[x, y, z]``; normalised before use.

    Returns
    -------
    float
        :math:`I(X;Y \mid Z)` in bits.

    Examples
    --------
    >>> xor = [[[0.25, 0.0], [0.0, 0.25]], [[0.0, 0.25], [0.25, 0.0]]]  # p[x, y, z], z = x XOR y
    >>> round(conditional_mutual_information(xor), 12)
    1.0
    """
    pmf = as_pmf(p_xyz, ndim=3, name="distribution")
    nats = (
        _neg_entropy_nats(pmf)
        + _neg_entropy_nats(pmf.sum((0, 1)))
        - _neg_entropy_nats(pmf.sum(1))
        - _neg_entropy_nats(pmf.sum(0))
    )
    return nats_to_bits(nats)
