"""Catalog refresh: ingest every catalog entry; a source whose content is unchanged writes nothing.

Run it on its own::

    python -m flows.refresh --help
"""

from __future__ import annotations

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
    from flows._cli import main

    main("refresh")
