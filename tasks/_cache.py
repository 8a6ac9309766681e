"""Load-or-compute through the signed result cache (:class:`pidengine.io.results.ResultCache`).

Prefect's own result persistence is not used for results: its records are pickles that it unpickles on read, so
anyone who can write to the results folder could run code on every worker. Here a result is JSON with a keyed
signature; a record that fails its check is logged, ignored and overwritten by the recomputed result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypeVar

from prefect import get_run_logger
from prefect.exceptions import MissingContextError
from prefect.logging import get_logger

from pidengine.io.results import IntegrityWarning, ResultCache

T = TypeVar("T")


class Cached(NamedTuple, Generic[T]):
    value: T
    from_cache: bool


def load_or_compute(
    results_dir: str, name: str, use_cache: bool, compute: Callable[[], T],
    encode: Callable[[T], Any], decode: Callable[[Any], T],
) -> Cached[T]:
    """``decode`` of the result cached under ``name`` when ``use_cache`` and it passes its check, else ``compute()``
    (then cached as ``encode`` of it)."""
    cache = ResultCache(results_dir)
    if use_cache:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", IntegrityWarning)
            payload = cache.load(name)
        for warning in caught:
            task_logger().warning(str(warning.message))
        if payload is not None:
            return Cached(decode(payload), True)
    result = compute()
    cache.save(name, encode(result))
    return Cached(result, False)


def task_logger() -> Any:
    """The task run's logger (shown in Prefect and on the console); a plain one when called outside a run."""
    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger("pidengine")
