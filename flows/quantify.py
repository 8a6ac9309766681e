"""Dataset quantification: featurise each dataset, then its PID by every estimator (exact on the codes, BATCH on the
continuous features), on Dask; one MLflow run per (dataset, estimator). Datasets must be ingested first.

Run it on its own::

    pidengine run --flow quantify --help
"""

from __future__ import annotations

import sys

from prefect import flow

from flows._plan import Plan, over_deployment, prepare
from flows._runtime import fan_out_on_dask
from flows._states import finish
from flows._summary import PipelineSummary
from flows._tracking import tracked_run
from flows.params import QuantifyParams


@flow(name="pidengine-quantify", log_prints=True)
def quantify_datasets(params: QuantifyParams = QuantifyParams()) -> PipelineSummary:
    """Featurise, estimate (fan-out on Dask, cached by content), track in MLflow."""
    params = over_deployment(params)  # a deployment's run: the fields given, over the deployment's parameters
    ready = prepare(params.data, params.tracking, params.compute)  # fail fast: catalog, tracking store, scheduler
    plan = Plan(["featurize"], params.estimators, params.settings, results_dir=params.results_dir,
                use_cache=params.use_cache)
    with tracked_run("quantify", ready, plan) as run:
        outcomes = fan_out_on_dask(ready, plan, run.log)  # per dataset: featurise → one estimate per estimator
        summary = run.end(outcomes)
    return finish(summary)


if __name__ == "__main__":
    sys.exit("python -m flows.quantify is now: pidengine run --flow quantify (see pidengine run --help)")
