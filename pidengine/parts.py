"""The names of a PID's parts and the unit they are reported in: one home for both.

Every figure pidengine reports is in bits; solvers and networks work in nats and convert once, through
:func:`nats_to_bits`.
"""

from __future__ import annotations

import math

ATOMS = ("redundancy", "unique1", "unique2", "synergy")  # R, U1, U2, S: they add up to the total
PARTS = (*ATOMS, "total")
LN2 = math.log(2.0)  # nats per bit


def nats_to_bits(nats: float) -> float:
    """``nats`` (a number, or a one-element array or tensor) in bits.

    >>> nats_to_bits(math.log(4.0))
    2.0
    """
    return float(nats) / LN2
