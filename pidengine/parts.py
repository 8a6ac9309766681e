"""The names of a PID's parts, the unit they are reported in, and the figures of a part every result reports.

Every figure pidengine reports is in bits; solvers and networks work in nats and convert once, through
:func:`nats_to_bits`. Every result of every estimator is a :class:`Decomposition` and has a flat, JSON-ready view
(``to_dict``) whose parts are written by :func:`flatten_parts` and read back by :func:`read_parts`: the one contract
behind the cache, the tables, the figures and the MLflow metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from pidengine.exceptions import EstimationError

ATOMS = ("redundancy", "unique1", "unique2", "synergy")  # R, U1, U2, S: they add up to the total
PARTS = (*ATOMS, "total")
LN2 = math.log(2.0)  # nats per bit


def nats_to_bits(nats: float) -> float:
    """``nats`` (a number, or a one-element array or tensor) in bits.

    >>> nats_to_bits(math.log(4.0))
    2.0
    """
    return float(nats) / LN2


@dataclass(frozen=True, eq=False)
class Decomposition:
    """What every estimator's result holds: a partial information decomposition, in bits.

    The base of every result class (:class:`~pidengine.estimators.base.PIDResult`, the BATCH and cross-fitted
    estimators' results), which add their own attributes.

    Attributes
    ----------
    redundancy, unique1, unique2, synergy : float
        The four parts R, U1, U2, S in bits. They are reported as computed, never clipped: a part below zero is
        listed by :attr:`negative_parts`.
    total : float
        :math:`I(X_1, X_2; Y)` in bits; equals ``redundancy + unique1 + unique2 + synergy``.
    estimator : str
        Name of the estimator that produced the result.
    units : str
        Always ``"bits"``.
    """

    redundancy: float
    unique1: float
    unique2: float
    synergy: float
    total: float
    estimator: str = field(kw_only=True)
    units: str = field(default="bits", kw_only=True)
    # How far below zero a part may lie before `check` calls the result inconsistent, in bits; None: `atol`, as for
    # an optimum certified to that tolerance.
    negative_tol: ClassVar[float | None] = None

    def atoms(self) -> dict[str, float]:
        """The four parts as a dict ``{"redundancy": R, "unique1": U1, "unique2": U2, "synergy": S}``."""
        return {name: getattr(self, name) for name in ATOMS}

    @property
    def negative_parts(self) -> tuple[str, ...]:
        """Names of the parts whose estimate is below zero (reported, not clipped)."""
        return tuple(name for name, value in self.atoms().items() if value < 0)

    def check(self, atol: float = 1e-6, negative_tol: float | None = None) -> None:
        """Raise :class:`~pidengine.exceptions.EstimationError` unless R + U1 + U2 + S = total within ``atol`` and
        every part is at least ``-negative_tol`` bits (default: the result's own ``negative_tol``, else ``atol``)."""
        floor = next(tol for tol in (negative_tol, self.negative_tol, atol) if tol is not None)
        problems = []
        residual = sum(self.atoms().values()) - self.total
        if abs(residual) > atol:
            problems.append(f"R + U1 + U2 + S - total = {residual:.3g} bits")
        problems += [f"{name} = {value:.3g} bits < -{floor:g}" for name, value in self.atoms().items()
                     if value < -floor]
        if problems:
            raise EstimationError(f"inconsistent PID from {self.estimator}: " + "; ".join(problems))


@dataclass(frozen=True)
class PartEstimate:
    """One part of a decomposition as every estimator reports it, in bits; what an estimator does not compute is
    None: ``low``/``high`` its interval, ``std`` a spread over repeats, ``significant`` whether it clears its null,
    ``plugin`` the uncorrected value beside a bias-corrected one, ``shuffled`` its mean with the labels permuted,
    ``learning_gain`` how much it grew when a learned estimator's training data grew (from a share of its training
    folds to all of them) and ``learning_limited`` whether what it is computed from was still growing: its interval
    then holds sampling error only, not what the learners have yet to learn."""

    value: float
    low: float | None = None
    high: float | None = None
    std: float | None = None
    significant: bool | None = None
    plugin: float | None = None
    shuffled: float | None = None
    learning_gain: float | None = None
    learning_limited: bool | None = None


FIELDS = tuple(f.name for f in fields(PartEstimate))
_PREFIXED = ("plugin", "shuffled")


def flat_key(part: str, field: str = "value") -> str:
    """The key of one figure of a part in the flat view of a result: ``synergy``, ``synergy_low``,
    ``synergy_significant``, ``plugin_synergy``, ``shuffled_synergy``.

    >>> [flat_key("synergy", field) for field in ("value", "high", "shuffled")]
    ['synergy', 'synergy_high', 'shuffled_synergy']
    """
    if field == "value":
        return part
    return f"{field}_{part}" if field in _PREFIXED else f"{part}_{field}"


def flatten_parts(parts: Mapping[str, PartEstimate]) -> dict[str, Any]:
    """The flat, JSON-ready view of the parts (:func:`flat_key`), the figures that are not None."""
    return {flat_key(part, name): getattr(estimate, name) for part, estimate in parts.items() for name in FIELDS
            if getattr(estimate, name) is not None}


def read_parts(values: Mapping[str, Any]) -> dict[str, PartEstimate]:
    """The parts of a flat view (those it has), each with the figures it holds: the inverse of
    :func:`flatten_parts`, for every result of every estimator."""
    return {part: PartEstimate(**{name: values[flat_key(part, name)] for name in FIELDS
                                  if values.get(flat_key(part, name)) is not None})
            for part in PARTS if values.get(part) is not None}


def other_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """What a flat view holds besides its parts: certificate, diagnostics, sample counts."""
    keys = {flat_key(part, name) for part in PARTS for name in FIELDS}
    return {key: value for key, value in values.items() if key not in keys}
