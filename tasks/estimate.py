"""The estimation task: PID of one stored dataset by one estimator.

Its result is cached (signed JSON in the results folder, :mod:`tasks._cache`) under a key built from the content key
of the store version it reads, the estimator's settings and a hash of the estimator's code
(:func:`pidengine.quantify.cache_key`): a rerun with nothing changed reads the result back, and a crashed flow
resumes where it stopped.
"""

from __future__ import annotations

from prefect import task

from pidengine import quantify as q
from tasks._cache import Cached, load_or_compute
from tasks._dask import on_worker
from tasks._retry import retry_transient


@task(name="estimate-pid", task_run_name="pid-{estimator}-{dataset}", persist_result=False,
      retries=1, retry_delay_seconds=5, retry_condition_fn=retry_transient)
def estimate_pid(
    data_dir: str, dataset: str, estimator: q.EstimatorName, settings: q.EstimatorSettings, use_encoded: bool,
    results_dir: str, use_cache: bool = True,
) -> Cached[q.Quantification]:
    """PID (bits) of one dataset by one estimator (:func:`pidengine.quantify.quantify`), and whether it was cached."""

    def compute() -> q.Quantification:
        with on_worker():
            return q.quantify(data_dir, dataset, estimator, settings, use_encoded=use_encoded)

    name = q.cache_key(data_dir, dataset, estimator, settings, use_encoded)
    return load_or_compute(results_dir, name, use_cache, compute, q.Quantification.to_dict,
                           q.Quantification.from_dict)
