"""The model task: train one family on one stored dataset and measure it (:mod:`pidengine.models.sweep`).

Its result is persisted and keyed like the estimates (:func:`pidengine.models.sweep.cache_key`: the stores it reads,
the family, the training settings and the code), so a rerun with nothing changed reads it back.
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
from tasks._retry import retry_transient


def _cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    entry: CatalogEntry = parameters["entry"]
    return cache_key(parameters["data_dir"], entry.name, parameters["family"], parameters["settings"], bool(entry.encode))


@task(name="train-model", task_run_name="model-{family}-{entry.name}", cache_key_fn=_cache_key, persist_result=True,
      retries=1, retry_delay_seconds=5, retry_condition_fn=retry_transient)
def train_model(entry: CatalogEntry, data_dir: Path, family: str, settings: TrainSettings) -> ModelReport:
    """Accuracy, model PID (bits) and accuracy without each modality of one family on one dataset."""
    return evaluate_family(stages.model_inputs(entry, data_dir), family, settings)
