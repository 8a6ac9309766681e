"""What a task needs of the Dask worker it runs on, on any cluster: the temporary local one or an operator's own.

Library code computes its own dask arrays (chunked encoding, featurisation, Zarr writes). Inside a Dask worker
those computations would go to the distributed scheduler by default: every chunk graph serialised to it, and objects
that cannot be pickled (an encoder's model) fail. Tasks run them on the worker's own threads instead. And a worker
is tuned for compute the first time a task runs on it (:func:`tune_worker`), so that an operator's ``dask worker``
needs no settings of its own.
"""

from __future__ import annotations

import contextvars
import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask

# glibc's mallopt parameters (malloc.h) and the values set through them. The nanny's MALLOC_TRIM_THRESHOLD_ also
# switches off glibc's dynamic thresholds, which would otherwise settle near these: free memory at the top of the
# heap is given back only above 64 MiB, and arrays up to 32 MiB (glibc's largest dynamic value) come from the heap
# instead of a fresh mmap (page faults on every large temporary).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
TRIM_THRESHOLD_BYTES, MMAP_THRESHOLD_BYTES = 64 * 2**20, 32 * 2**20


@contextmanager
def on_worker() -> Iterator[None]:
    """Run a task's library code on the Dask worker it was sent to: the worker tuned (:func:`tune_worker`) and
    Dask's local scheduler with as many threads as the worker has (synchronous for one). Off a worker, nothing
    changes."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        worker = None  # not on a worker: the caller's defaults
    if worker is None:
        yield
        return
    tune_worker(worker)
    threads = worker.state.nthreads
    if threads == 1:
        with dask.config.set(scheduler="synchronous"):
            yield
    else:
        with dask.config.set(scheduler="threads", num_workers=threads):
            yield


def tune_worker(worker: Any) -> None:
    """Settings that made the pipeline's compute 1.3-1.8x faster in a worker process when set before it started (the
    local cluster's way, ``flows._runtime``), applied by the first task on any worker.

    - ``OMP_WAIT_POLICY=PASSIVE`` unless set: OpenMP threads that finish their share sleep instead of spinning. On a
      node whose cores are busy, torch's spinning threads made the exact estimator ten times slower (9-11 s against
      1 s at 100x100x4 on two loaded cores). Read when torch loads OpenMP, so it takes effect where the first task
      of a worker process is the first to import torch: the worker never imports it otherwise.
    - glibc's trim and mmap thresholds raised to 64 and 32 MiB: Dask's nanny starts workers with
      ``MALLOC_TRIM_THRESHOLD_=65536``, which hands freed memory back after every large temporary and made code
      allocating many arrays 1.6-1.8x slower (the exact PID with bootstrap: 4.3 s in a plain process, 7.5 s in a
      worker, 5.1 s without it).
    - The statistical profiler stopped: it samples the worker's stack every 10 ms for the dashboard (BATCH and model
      training ~1.3x slower with both of the above).
    """
    if getattr(worker, "_pidengine_tuned", False):
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    libc_name = ctypes.util.find_library("c")
    if libc_name and hasattr(libc := ctypes.CDLL(libc_name), "mallopt"):  # glibc; musl and macOS have no mallopt
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    for name in ("profile", "profile-cycle"):
        callback = worker.periodic_callbacks.get(name)
        if callback is not None:
            callback.stop()
    worker._pidengine_tuned = True


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
