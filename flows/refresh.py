"""Catalog refresh: ingest every catalog entry; a source whose content is unchanged writes nothing.

Run it on its own::

    pidengine run --flow refresh --help
"""

from __future__ import annotations

import sys

from prefect import flow

from flows._plan import Plan, over_deployment, prepare
from flows._runtime import fan_out_on_dask
from flows._states import finish
from flows._summary import PipelineSummary
from flows._tracking import tracked_run
from flows.params import RefreshParams


@flow(name="pidengine-catalog-refresh", log_prints=True)
def catalog_refresh(params: RefreshParams = RefreshParams()) -> PipelineSummary:
    """Ingest every selected catalog entry (Dask fan-out); track the stage reports in MLflow."""
    params = over_deployment(params)  # a deployment's run: the fields given, over the deployment's parameters
    ready = prepare(params.data, params.tracking, params.compute)  # fail fast: catalog, tracking store, scheduler
    plan = Plan(stages=["ingest"])
    with tracked_run("refresh", ready, plan) as run:
        outcomes = fan_out_on_dask(ready, plan, run.log)  # per dataset: ingest
        summary = run.end(outcomes)
    return finish(summary)


if __name__ == "__main__":
    sys.exit("python -m flows.refresh is now: pidengine run --flow refresh (see pidengine run --help)")
