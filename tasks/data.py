"""The data task: one dataset's stages — ingest, then encode + featurise — in one task run (each stage is already a
no-op when its input is unchanged). One task per dataset rather than per stage: the stages run in sequence anyway,
and each task run costs a few tenths of a second of orchestration."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from pidengine import stages as library_stages
from pidengine.catalog import CatalogEntry
from pidengine.stages import StageReport
from tasks._dask import on_worker
from tasks._retry import describe, retry_transient

STAGES = ("ingest", "featurize")


class StageFailed(Exception):
    """A data stage failed: ``stage`` names it, ``message`` is the error (which is also the cause when raised)."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(stage, message)  # both in args, so the exception pickles back from a Dask worker
        self.stage = stage
        self.message = message

    def __str__(self) -> str:
        return self.message


@task(name="build-dataset", task_run_name="data-{entry.name}", retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=retry_transient, persist_result=False)
def build_dataset(entry: CatalogEntry, data_dir: str, base: Path, stages: list[str]) -> list[StageReport]:
    """Publish the requested stores of one entry: ``ingest`` → raw; ``featurize`` → encoded (when the entry encodes a
    modality) and codes. Raises :class:`StageFailed` naming the stage that failed."""
    reports: list[StageReport] = []
    with on_worker():
        for stage in (s for s in STAGES if s in stages):
            try:
                if stage == "ingest":
                    reports.append(library_stages.ingest(entry, data_dir, base))
                else:
                    if entry.encode:
                        reports.append(library_stages.encode(entry, data_dir))
                    reports.append(library_stages.featurize(entry, data_dir))
            except Exception as exc:
                raise StageFailed(stage, describe(exc)) from exc
    return reports
