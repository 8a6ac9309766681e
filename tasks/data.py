"""Data-stage tasks: one dataset's ingest, encode + featurise (each stage is already a no-op when unchanged)."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from pidengine import stages
from pidengine.catalog import CatalogEntry
from pidengine.stages import StageReport
from tasks._dask import local_dask
from tasks._retry import retry_transient


@task(name="ingest-dataset", task_run_name="ingest-{entry.name}", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=retry_transient, persist_result=False)
def ingest_dataset(entry: CatalogEntry, data_dir: Path, base: Path) -> StageReport:
    """Publish the entry's raw store (nothing is written when its content is unchanged)."""
    with local_dask():
        return stages.ingest(entry, data_dir, base)


@task(name="featurize-dataset", task_run_name="featurize-{entry.name}", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=retry_transient, persist_result=False)
def featurize_dataset(entry: CatalogEntry, data_dir: Path) -> list[StageReport]:
    """Publish the encoded store (when the entry encodes a modality) and the codes store."""
    with local_dask():
        reports = [stages.encode(entry, data_dir)] if entry.encode else []
        return [*reports, stages.featurize(entry, data_dir)]
