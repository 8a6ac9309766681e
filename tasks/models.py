"""The model task: train every requested family on one stored dataset and measure each
(:mod:`pidengine.models.sweep`).

One task per dataset, not per (dataset, family): the dataset's features are read once, and the per-task cost of
orchestration (a few tenths of a second of Prefect and Dask bookkeeping) is paid once per dataset. A family that fails
for a reason that a retry would not fix (bad data, a bug) is reported as failed without stopping the others; an
I/O error fails the task, which is retried. The result is cached like the estimates (signed JSON, :mod:`tasks._cache`)
under :func:`pidengine.models.sweep.cache_key` (the stores it reads, the families, the training settings and the
code), so a rerun with nothing changed reads it back.
"""

from __future__ import annotations

import warnings
from typing import Any

from prefect import task

from pidengine import stages
from pidengine.catalog import CatalogEntry
from pidengine.models.settings import TrainSettings
from pidengine.models.sweep import ModelReport, cache_key, evaluate_family
from pidengine.quantify import ExactSettings
from tasks._cache import Cached, load_or_compute, task_logger
from tasks._dask import on_worker
from tasks._retry import describe, is_transient, retry_transient

Outcomes = dict[str, ModelReport | str]


@task(name="train-models", task_run_name="models-{entry.name}", persist_result=False,
      retries=1, retry_delay_seconds=5, retry_condition_fn=retry_transient)
def train_models(
    entry: CatalogEntry, data_dir: str, families: list[str], settings: TrainSettings, pid: ExactSettings,
    results_dir: str, use_cache: bool = True,
) -> Cached[Outcomes]:
    """Per family: its report (accuracy, model PID in bits with the settings ``pid`` of the datasets' exact
    estimate, accuracy without each modality), or why it failed; and whether the outcomes were cached."""

    def compute() -> Outcomes:
        with on_worker(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            inputs = stages.model_inputs(entry, data_dir)
            outcomes: Outcomes = {}
            for family in families:
                try:
                    outcomes[family] = evaluate_family(inputs, family, settings, pid)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    outcomes[family] = describe(exc)
        _log_once_per_kind(entry.name, caught)
        return outcomes

    name = cache_key(data_dir, entry.name, families, settings, bool(entry.encode), pid)
    return load_or_compute(results_dir, name, use_cache, compute, _encode, _decode)


def _log_once_per_kind(dataset: str, caught: list[warnings.WarningMessage]) -> None:
    """One log line per kind of warning of a dataset's sweep: each family's model PID on the small test split warns
    alike (a sparse code table), and nine copies would bury the run's progress."""
    by_kind: dict[str, list[str]] = {}
    for warning in caught:
        by_kind.setdefault(warning.category.__name__, []).append(str(warning.message))
    for kind, messages in by_kind.items():
        more = f" (and {len(messages) - 1} more like it)" if len(messages) > 1 else ""
        task_logger().warning(f"{dataset} models: {kind}: {messages[0]}{more}")


def _encode(outcomes: Outcomes) -> dict[str, Any]:
    return {family: {"error": o} if isinstance(o, str) else {"report": o.to_dict()} for family, o in outcomes.items()}


def _decode(document: dict[str, Any]) -> Outcomes:
    return {
        family: o["error"] if "error" in o else ModelReport.from_dict(o["report"]) for family, o in document.items()
    }
