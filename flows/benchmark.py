"""The benchmark: the whole default pipeline in one flow run, on one Dask cluster.

    catalog ──► ingest ──► featurise ──► exact PID (codes)                  ──► MLflow child run
                                    ├──► BATCH PID (features)               ──► MLflow child run
                                    └──► model family f (× 9): accuracy,    ──► MLflow child run
                                         model PID, accuracy without x1/x2
                 all datasets ──► reference table, recommendations, analyses ──► MLflow parent run
                              ──► summary table + plot

``pidengine run`` and ``make run`` run this flow. On its own::

    pidengine run --flow benchmark --help
"""

from __future__ import annotations

import sys

from prefect import flow

from flows._pipeline import PipelineSummary, run_pipeline
from flows._states import finish
from flows.params import BenchmarkParams


@flow(name="pidengine-benchmark", log_prints=True)
def benchmark(params: BenchmarkParams = BenchmarkParams()) -> PipelineSummary:
    """Ingest (changed sources only), featurise, estimate with every estimator, train the model zoo, select,
    track everything in MLflow."""
    return finish(run_pipeline("benchmark", params, stages=["ingest", "featurize"]))


if __name__ == "__main__":
    sys.exit("python -m flows.benchmark is now: pidengine run --flow benchmark (see pidengine run --help)")
