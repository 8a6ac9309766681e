"""The bounds of numeric parameters, declared once beside the estimator (or function) that takes them.

An estimator lists its numeric parameters' bounds in ``parameter_constraints``, as scikit-learn does, and checks them
on entry to ``fit`` / ``estimate`` with :func:`check_params`. The pipeline's settings (:mod:`pidengine.quantify`) read
the same declarations: a bad setting is refused with the estimator's own message, and the bounds that ``pidengine
run --help`` and the flows' parameter schema show are the ones the estimator enforces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pidengine.exceptions import ConfigError


@dataclass(frozen=True)
class Interval:
    """The values a numeric parameter accepts: integers (``kind=int``) or finite numbers (``kind=float``) within the
    bounds given, e.g. ``Interval(int, ge=1)`` or ``Interval(float, gt=0, lt=1)``. ``unit`` and ``reason`` are only
    words for the message of a refused value.

    >>> str(Interval(float, gt=0, le=0.001, unit="bits")), str(Interval(int, ge=2))
    ('a positive number of bits at most 0.001', 'an integer >= 2')
    >>> str(Interval(float, gt=0, lt=1))
    'a number strictly between 0 and 1'
    >>> str(Interval(float, ge=0.1, le=0.9, none=True)), Interval(float, ge=0.1, none=True).contains(None)
    ('a number from 0.1 to 0.9 or None', True)
    """

    kind: type[int] | type[float]
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    unit: str = ""
    reason: str = ""
    none: bool = False  # None is accepted too (a check or a feature switched off)

    def check(self, name: str, value: object) -> None:
        """Raise :class:`ConfigError` naming ``name``, the allowed values and ``value`` unless ``value`` is allowed."""
        if not self.contains(value):
            why = f" ({self.reason})" if self.reason else ""
            raise ConfigError(f"{name} must be {self}{why}, got {value!r}")

    def contains(self, value: object) -> bool:
        if value is None:
            return self.none
        types = (int, np.integer) if self.kind is int else (int, float, np.integer, np.floating)
        if not isinstance(value, types) or isinstance(value, bool) or not math.isfinite(value):
            return False
        return ((self.gt is None or value > self.gt) and (self.ge is None or value >= self.ge)
                and (self.lt is None or value < self.lt) and (self.le is None or value <= self.le))

    def __str__(self) -> str:
        return self._bounds() + (" or None" if self.none else "")

    def _bounds(self) -> str:
        noun = ("integer" if self.kind is int else "number") + (f" of {self.unit}" if self.unit else "")
        article = "an" if self.kind is int else "a"
        if self.gt is not None and self.lt is not None:
            return f"{article} {noun} strictly between {self.gt} and {self.lt}"
        if self.gt == 0 and self.ge is None:
            return f"a positive {noun}" + (f" at most {self.le}" if self.le is not None else "")
        if self.ge is not None and self.le is not None:
            return f"{article} {noun} from {self.ge} to {self.le}"
        signs = ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le))
        bounds = [f"{sign} {bound}" for sign, bound in signs if bound is not None]
        return " ".join([article, noun, " and ".join(bounds)]).rstrip()

    def json_schema(self) -> dict[str, float]:
        """The bounds as JSON Schema keywords: what pydantic writes for ``Field(ge=...)`` and the like."""
        keywords = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
        return {keyword: getattr(self, name) for name, keyword in keywords.items() if getattr(self, name) is not None}


def check_params(values: Mapping[str, object], constraints: Mapping[str, Interval]) -> None:
    """Check every value that ``constraints`` bounds (``values``: an estimator's ``vars``, a function's arguments)."""
    for name, interval in constraints.items():
        interval.check(name, values[name])
