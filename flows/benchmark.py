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

from flows._plan import Plan, over_deployment, prepare
from flows._runtime import fan_out_on_dask, select_and_analyse
from flows._states import finish
from flows._summary import PipelineSummary
from flows._tracking import tracked_run
from flows.params import BenchmarkParams


@flow(name="pidengine-benchmark", log_prints=True)
def benchmark(params: BenchmarkParams = BenchmarkParams()) -> PipelineSummary:
    """Ingest (changed sources only), featurise, estimate with every estimator, train the model zoo, select,
    track everything in MLflow."""
    params = over_deployment(params)  # a deployment's run: the fields given, over the deployment's parameters
    ready = prepare(params.data, params.tracking, params.compute)  # fail fast: catalog, tracking store, scheduler
    plan = Plan(["ingest", "featurize"], params.estimators, params.settings, params.models, params.results_dir,
                params.use_cache)
    with tracked_run("benchmark", ready, plan) as run:
        outcomes = fan_out_on_dask(ready, plan, run.log)  # per dataset, on Dask: ingest → featurise → estimate, train
        selected, analysis = select_and_analyse(outcomes, ready, params.models)  # where families were trained
        summary = run.end(outcomes, selected, analysis)
    return finish(summary)


if __name__ == "__main__":
    sys.exit("python -m flows.benchmark is now: pidengine run --flow benchmark (see pidengine run --help)")
