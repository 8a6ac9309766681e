"""Serve the pipeline's deployments from one long-running process (no work pool or worker needed).

    prefect server start                                              # terminal 1 (UI at http://127.0.0.1:4200)
    PREFECT_API_URL=http://127.0.0.1:4200/api python deployments/serve.py   # terminal 2, from the project root

The schedules and parameters are the same as in ``deployments/prefect.yaml``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prefect.schedules import Cron

import flows  # noqa: F401  (sets Prefect's startup settings first)
from flows.benchmark import benchmark
from flows.models import model_sweep
from flows.params import BenchmarkParams, RefreshParams
from flows.quantify import quantify_datasets
from flows.refresh import catalog_refresh

NIGHTLY = Cron("30 2 * * *", timezone="Europe/Berlin")
EVERY_SIX_HOURS = Cron("0 */6 * * *", timezone="UTC")


def build_deployments() -> list:
    """The deployments, built without contacting a server (``prefect.serve`` registers them)."""
    return [
        benchmark.to_deployment(
            name="nightly-benchmark", schedule=NIGHTLY,
            parameters={"params": BenchmarkParams().model_dump(mode="json")}, tags=["pidengine", "benchmark"],
            enforce_parameter_schema=True,
        ),
        catalog_refresh.to_deployment(
            name="catalog-refresh", schedule=EVERY_SIX_HOURS,
            parameters={"params": RefreshParams().model_dump(mode="json")}, tags=["pidengine", "data"],
            enforce_parameter_schema=True,
        ),
        quantify_datasets.to_deployment(name="quantify-on-demand", tags=["pidengine"], enforce_parameter_schema=True),
        model_sweep.to_deployment(name="models-on-demand", tags=["pidengine", "models"], enforce_parameter_schema=True),
    ]


if __name__ == "__main__":
    from prefect import serve

    serve(*build_deployments())
