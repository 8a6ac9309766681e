"""Catalog refresh: ingest every catalog entry; a source whose content is unchanged writes nothing.

Run it on its own::

    pidengine run --flow refresh --help
"""

from __future__ import annotations

import sys

from prefect import flow

from flows._pipeline import PipelineSummary, run_pipeline
from flows._states import finish
from flows.params import QuantifyParams, RefreshParams


@flow(name="pidengine-catalog-refresh", log_prints=True)
def catalog_refresh(params: RefreshParams = RefreshParams()) -> PipelineSummary:
    """Ingest every selected catalog entry (Dask fan-out); track the stage reports in MLflow."""
    summary = run_pipeline("refresh",
                           QuantifyParams(data=params.data, compute=params.compute, tracking=params.tracking),
                           stages=["ingest"])
    return finish(summary)


if __name__ == "__main__":
    sys.exit("python -m flows.refresh is now: pidengine run --flow refresh (see pidengine run --help)")
