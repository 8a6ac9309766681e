"""The model task: train every requested family on one stored dataset and measure each
(:mod:`pidengine.models.sweep`).

One task per dataset, not per (dataset, family): the dataset's features are read once, and the per-task cost of
orchestration (a few tenths of a second of Prefect and Dask bookkeeping) is paid once per dataset. A family that fails
for a reason that a retry would not fix (bad data, a bug) is reported as failed without stopping the others; an
I/O error fails the task, which is retried. The result is persisted and keyed like the estimates
(:func:`pidengine.models.sweep.cache_key`: the stores it reads, the families, the training settings and the code), so
a rerun with nothing changed reads it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.context import TaskRunContext

from pidengine import stages
from pidengine.catalog import CatalogEntry
from pidengine.models.sweep import ModelReport, cache_key, evaluate_family
from pidengine.models.training import TrainSettings
from tasks._retry import describe, is_transient, retry_transient


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    entry: CatalogEntry = parameters["entry"]
    return cache_key(parameters["data_dir"], entry.name, parameters["families"], parameters["settings"],
                     bool(entry.encode))


@task(name="train-models", task_run_name="models-{entry.name}", cache_key_fn=_cache_key, persist_result=True,
      retries=1, retry_delay_seconds=5, retry_condition_fn=retry_transient)
def train_models(
    entry: CatalogEntry, data_dir: Path, families: list[str], settings: TrainSettings
) -> dict[str, ModelReport | str]:
    """Per family: its report (accuracy, model PID in bits, accuracy without each modality), or why it failed."""
    inputs = stages.model_inputs(entry, data_dir)
    outcomes: dict[str, ModelReport | str] = {}
    for family in families:
        try:
            outcomes[family] = evaluate_family(inputs, family, settings)
        except Exception as exc:
            if is_transient(exc):
                raise
            outcomes[family] = describe(exc)
    return outcomes
