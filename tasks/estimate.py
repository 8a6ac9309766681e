"""The estimation task: PID of one stored dataset by one estimator.

Its result is persisted (Prefect result storage) under a key built from the content key of the store version it
reads, the estimator's settings and a hash of the estimator's code (:func:`pidengine.quantify.cache_key`): a rerun
with nothing changed reads the result back (state ``Cached``), and a crashed flow resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.context import TaskRunContext

from pidengine import quantify as q
from tasks._dask import local_dask
from tasks._retry import retry_transient


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return q.cache_key(
        parameters["data_dir"], parameters["dataset"], parameters["estimator"], parameters["settings"],
        parameters.get("use_encoded", False),
    )


@task(name="estimate-pid", task_run_name="pid-{estimator}-{dataset}", cache_key_fn=_cache_key, persist_result=True,
      retries=1, retry_delay_seconds=5, retry_condition_fn=retry_transient)
def estimate_pid(
    data_dir: Path, dataset: str, estimator: q.EstimatorName, settings: q.EstimatorSettings, use_encoded: bool = False
) -> q.Quantification:
    """PID (bits) of one dataset by one estimator (:func:`pidengine.quantify.quantify`)."""
    with local_dask():
        return q.quantify(data_dir, dataset, estimator, settings, use_encoded=use_encoded)
