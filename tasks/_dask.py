"""Library code computes its own dask arrays (chunked encoding, featurisation, Zarr writes). Inside a Dask worker
those computations would go to the distributed scheduler by default: every chunk graph serialised to it, and objects
that cannot be pickled (an encoder's model) fail. Tasks run them on the worker's own threads instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
