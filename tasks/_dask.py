"""Library code computes its own dask arrays (chunked encoding, featurisation, Zarr writes). Inside a Dask worker
those computations would go to the distributed scheduler by default: every chunk graph serialised to it, and objects
that cannot be pickled (an encoder's model) fail. Tasks run them on the worker's own threads instead."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask


@contextmanager
def local_dask() -> Iterator[None]:
    """Dask's local scheduler with as many threads as this Dask worker has (synchronous for one)."""
    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        threads = None  # not on a worker: the caller's default
    if threads is None:
        yield
    elif threads == 1:
        with dask.config.set(scheduler="synchronous"):
            yield
    else:
        with dask.config.set(scheduler="threads", num_workers=threads):
            yield


def isolate_task_runs() -> None:
    """Run every Prefect task that prefect-dask sends to a worker in a fresh ``contextvars`` context.

    Without it a task run on a Dask worker can find the previous task run's transaction still set in its context
    and take it for a parent; Prefect then leaves the commit, i.e. writing the persisted result, to that parent,
    which has already finished, and the result is never written (seen in the flow tests and in full runs: a rerun
    recomputed some of the models it should have read back). Prefect hydrates everything a task run needs from the
    context it serialises with the task, so an empty context loses nothing. Idempotent; patches prefect-dask's client
    module, whose task wrapper looks ``run_task_sync`` up there.
    """
    import prefect_dask.client as client

    if getattr(client.run_task_sync, "_pidengine_isolated", False):
        return
    original = client.run_task_sync

    def run_task_sync(*args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(original, *args, **kwargs)

    run_task_sync._pidengine_isolated = True  # type: ignore[attr-defined]
    client.run_task_sync = run_task_sync
