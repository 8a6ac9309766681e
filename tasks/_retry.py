"""Which failures are worth a retry, and how a failure is told."""

from __future__ import annotations

from typing import Any

from pidengine.exceptions import PIDEngineError


def is_transient(exc: BaseException) -> bool:
    """I/O and network errors are; errors of the data or settings (every PIDEngineError) are not. An error raised
    from another is judged by its cause."""
    if exc.__cause__ is not None:
        return is_transient(exc.__cause__)
    if isinstance(exc, PIDEngineError):
        return False
    return isinstance(exc, (OSError, TimeoutError, ConnectionError))


def describe(exc: BaseException) -> str:
    """``TypeName: message`` on one line: how a task's failure is reported in the summary and in MLflow."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """A Prefect ``retry_condition_fn``: retry only when the task failed with a transient error."""
    try:
        state.result()
    except BaseException as exc:
        return is_transient(exc)
    return False
