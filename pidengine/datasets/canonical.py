"""Textbook joint distributions with closed-form PIDs (X1, X2 uniform independent bits unless said).

These pin the estimators' values in the tests and give ``pidengine examples`` something to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# AND / OR: R = I(X1;Y) = h(1/4) - 1/2 = 3/2 - (3/4) log2 3 bits, S = 1/2 bit.
_GATE_REDUNDANCY = 1.5 - 0.75 * np.log2(3.0)


@dataclass(frozen=True)
class CanonicalJoint:
    """A joint ``pmf[x1, x2, y]`` with its known PID in bits."""

    name: str
    description: str
    pmf: NDArray[np.float64]
    redundancy: float
    unique1: float
    unique2: float
    synergy: float

    def expected(self) -> dict[str, float]:
        """The known parts and their total, in bits."""
        parts = {"redundancy": self.redundancy, "unique1": self.unique1, "unique2": self.unique2}
        parts["synergy"] = self.synergy
        parts = {key: float(value) for key, value in parts.items()}
        return {**parts, "total": sum(parts.values())}


def _from_function(label: Callable[[int, int], int], n_labels: int) -> NDArray[np.float64]:
    pmf = np.zeros((2, 2, n_labels))
    for a in (0, 1):
        for b in (0, 1):
            pmf[a, b, label(a, b)] = 0.25
    return pmf


def _redundant() -> NDArray[np.float64]:
    pmf = np.zeros((2, 2, 2))
    pmf[0, 0, 0] = pmf[1, 1, 1] = 0.5
    return pmf


CANONICAL: dict[str, CanonicalJoint] = {
    c.name: c
    for c in (
        CanonicalJoint("and", "Y = X1 AND X2", _from_function(lambda a, b: a & b, 2), _GATE_REDUNDANCY, 0, 0, 0.5),
        CanonicalJoint("or", "Y = X1 OR X2", _from_function(lambda a, b: a | b, 2), _GATE_REDUNDANCY, 0, 0, 0.5),
        CanonicalJoint("xor", "Y = X1 XOR X2", _from_function(lambda a, b: a ^ b, 2), 0, 0, 0, 1),
        CanonicalJoint("unique1", "Y = X1", _from_function(lambda a, b: a, 2), 0, 1, 0, 0),
        CanonicalJoint("copy", "Y = (X1, X2)", _from_function(lambda a, b: 2 * a + b, 4), 0, 1, 1, 0),
        CanonicalJoint("redundant", "X1 = X2 = Y, a uniform bit", _redundant(), 1, 0, 0, 0),
    )
}
