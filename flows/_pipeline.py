"""What the flows share: preparation (fail fast), the Dask fan-out subflow, model selection, and MLflow tracking."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import dask
from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect_dask import DaskTaskRunner

import pidengine
from flows import preflight
from flows.params import (
    EXPERIMENTS,
    BenchmarkParams,
    ComputeParams,
    DataParams,
    ModelParams,
    QuantifyParams,
    TrackingParams,
)
from pidengine import quantify as q
from pidengine.catalog import Catalog, CatalogEntry, load_catalog
from pidengine.exceptions import PIDEngineError
from pidengine.models.analysis import InteractionAnalysis, analyse
from pidengine.models.settings import TrainSettings
from pidengine.models.sweep import ModelReport
from pidengine.parts import PARTS
from pidengine.report import RunRecord, accuracy_matrix, estimator_agreement, format_disagreements, format_summary
from pidengine.selection import Selection, build_reference, find_reference, select
from pidengine.stages import StageReport
from tasks import tracking
from tasks._dask import isolate_task_runs
from tasks._retry import describe
from tasks.data import StageFailed, build_dataset
from tasks.estimate import estimate_pid
from tasks.models import train_models

PROJECT_ROOT = Path(pidengine.__file__).resolve().parents[1]


@dataclass
class StageOutcome:
    """One data stage of one dataset: its report, or the error that stopped it."""

    dataset: str
    stage: str
    report: StageReport | None = None
    error: str = ""


@dataclass
class ModelOutcome:
    """One family trained on one dataset: its report, or the error that stopped it."""

    dataset: str
    family: str
    report: ModelReport | None = None
    error: str = ""
    cached: bool = False
    run_id: str = ""


@dataclass
class PipelineSummary:
    """What a flow run did: the data stages, one record per (dataset, estimator), one outcome per (dataset, family),
    the model selection, and where it was tracked."""

    flow: str
    records: list[RunRecord] = field(default_factory=list)
    stages: list[StageOutcome] = field(default_factory=list)
    models: list[ModelOutcome] = field(default_factory=list)
    selection: Selection | None = None
    analysis: InteractionAnalysis | None = None
    reference_path: str = ""
    selection_error: str = ""
    tracking_uri: str = ""
    experiment: str = ""
    parent_run_id: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        names = [f"{r.dataset}/{r.estimator}" for r in self.records if r.status == "failed"]
        names += [f"{m.dataset}/{m.family}" for m in self.models if m.error]
        names += ["selection"] if self.selection_error else []
        return names + [f"{s.dataset}/{s.stage}" for s in self.stages if s.error and not self.records]

    def table(self) -> str:
        if not self.records:
            lines = [f"{'dataset':<26}{'stage':<10}result"]
            for s in self.stages:
                lines.append(f"{s.dataset:<26}{s.stage:<10}{('FAILED: ' + s.error) if s.error else str(s.report)}")
            return "\n".join(lines)
        parts = [format_summary(self.records)]
        disagreements = format_disagreements(estimator_agreement(self.records))
        if disagreements:
            parts.append(disagreements)
        if self.models:
            parts.append(accuracy_matrix([m.report for m in self.models if m.report],
                                         [(m.dataset, m.family) for m in self.models if m.error]))
        if self.selection is not None:
            parts.append(f"Model selection (reference table {self.reference_path}):\n{self.selection.table()}")
        if self.selection_error:
            parts.append(f"Model selection FAILED: {self.selection_error}")
        if self.analysis is not None:
            parts.append(self.analysis.summary())
        return "\n\n".join(parts)


@dataclass(frozen=True)
class Prepared:
    entries: list[CatalogEntry]
    broken: dict[str, str]
    catalog: Catalog
    data_dir: Path
    tracking_uri: str
    estimators: list[str]


def prepare(
    data: DataParams, tracking_params: TrackingParams, compute: ComputeParams, estimators: list[str]
) -> Prepared:
    """Everything that can fail before any work, checked first: the catalog and names, the tracking store, the Dask
    scheduler."""
    catalog = load_catalog(data.catalog)
    entries = catalog.select(data.datasets)
    broken = {} if data.datasets else dict(catalog.errors)
    tracking_uri = preflight.check_tracking_uri(preflight.with_credentials(tracking_params.tracking_uri))
    if compute.dask_address:
        preflight.check_dask_address(compute.dask_address)
    return Prepared(entries, broken, catalog, data.data_dir.resolve(), tracking_uri, estimators)


# Dask's defaults for worker processes that cost compute here, unset for the local cluster (an existing scheduler
# keeps its own configuration): the nanny's MALLOC_TRIM_THRESHOLD_=65536 keeps worker memory low but made torch and
# numpy code that allocates many small arrays 1.6-1.8x slower (the exact PID with bootstrap: 4.3 s in a plain
# process, 7.5 s in a worker, 5.1 s without it), and the statistical profiler, which feeds the dashboard (served
# only with --dashboard), samples the worker's stack every 10 ms (BATCH and model training: ~1.3x without both).
LOCAL_WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


def task_runner(compute: ComputeParams) -> DaskTaskRunner:
    """prefect-dask's runner: an existing scheduler when an address is given, else a temporary local cluster of
    ``n_workers`` processes (Dask's nanny limits each worker's BLAS/OpenMP/torch threads to its own threads)."""
    isolate_task_runs()
    if compute.dask_address:
        return DaskTaskRunner(address=compute.dask_address)
    dask.config.set(LOCAL_WORKER_CONFIG)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": compute.n_workers,
            "threads_per_worker": compute.threads_per_worker,
            "processes": True,
            # Dask starts its HTTP server whatever dashboard_address says (dask/distributed#8136): without
            # --dashboard it gets a random port on the loopback interface and serves no dashboard.
            "dashboard_address": "127.0.0.1:8787" if compute.dashboard else "127.0.0.1:0",
            "scheduler_kwargs": {"dashboard": compute.dashboard},
            "silence_logs": logging.ERROR,
        }
    )


@contextmanager
def api_shared_with_workers() -> Iterator[str]:
    """Make Dask workers report to this flow's Prefect API.

    Without ``PREFECT_API_URL`` Prefect runs a temporary API server for this process only, and every Dask worker
    process would start its own (seconds each, and its task runs invisible here). Its address is published as
    ``PREFECT_API_URL`` (setting and environment, which new worker processes inherit) for the fan-out.
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    url = str(get_client(sync_client=True).api_url).rstrip("/")
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


@flow(name="pidengine-fan-out", validate_parameters=False)
def fan_out(
    entries: list[CatalogEntry],
    base: Path,
    data_dir: Path,
    stages: list[str],
    estimators: list[str],
    settings: q.EstimatorSettings,
    results_dir: Path,
    use_cache: bool = True,
    families: list[str] | None = None,
    train_settings: TrainSettings | None = None,
    log: ChildRunLog | None = None,
) -> tuple[list[StageOutcome], list[RunRecord], list[ModelOutcome]]:
    """Submit every dataset's stages, estimates and models to the task runner (Dask), then collect them dataset by
    dataset, logging each dataset's child runs to MLflow (``log``) while the workers go on with the next ones.

    Per dataset: ingest → featurise → one estimate per estimator, and one task training every family. A failure stops
    only its own dataset."""
    results_dir = results_dir.resolve()
    data_futures: dict[str, Any] = {}
    estimate_futures: dict[tuple[str, str], Any] = {}
    model_futures: dict[str, Any] = {}
    for entry in entries:
        data_futures[entry.name] = build_dataset.submit(entry, data_dir, base, stages)
        upstream = [data_futures[entry.name]]
        for name in estimators:
            estimate_futures[(entry.name, name)] = estimate_pid.submit(
                data_dir, entry.name, name, settings, bool(entry.encode), results_dir, use_cache, wait_for=upstream
            )
        if families:
            model_futures[entry.name] = train_models.submit(entry, data_dir, families, train_settings, results_dir,
                                                            use_cache, wait_for=upstream)
    outcomes: list[StageOutcome] = []
    records: list[RunRecord] = []
    models: list[ModelOutcome] = []
    for name, data_future in data_futures.items():
        stages_of, records_of, models_of = _collect(
            name, data_future, {e: f for (d, e), f in estimate_futures.items() if d == name},
            model_futures.get(name), families or [],
        )
        if log is not None:
            records_of = log.log(records_of, models_of)
        outcomes += stages_of
        records += records_of
        models += models_of
    return outcomes, records, models


def _collect(
    dataset: str, data_future: Any, estimate_futures: dict[str, Any], model_future: Any, families: list[str]
) -> tuple[list[StageOutcome], list[RunRecord], list[ModelOutcome]]:
    """One dataset's outcomes, waiting for its tasks: its stages, one record per estimator, one outcome per family."""
    data_future.wait()
    state = data_future.state
    if not state.is_completed():
        failure = _exception_of(state)
        stage = failure.stage if isinstance(failure, StageFailed) else "data"
        error = _error_of(state)
        stopped = f"{stage} failed: {error}"
        return ([StageOutcome(dataset, stage, error=error)],
                [RunRecord(dataset, name, "failed", error=stopped) for name in estimate_futures],
                [ModelOutcome(dataset, family, error=stopped) for family in families])
    stages = [StageOutcome(dataset, report.stage, report) for report in data_future.result()]
    records = []
    for name, future in estimate_futures.items():
        future.wait()
        state = future.state
        if state.is_completed():
            result, cached = future.result()
            records.append(
                RunRecord(dataset, name, "ok", values=result.values, true_pid=result.true_pid, seconds=result.seconds,
                          cached=cached, content_hash=result.content_hash)
            )
        else:
            records.append(RunRecord(dataset, name, "failed", error=_error_of(state)))
    if model_future is None:
        return stages, records, []
    model_future.wait()
    state = model_future.state
    if not state.is_completed():
        return stages, records, [ModelOutcome(dataset, family, error=_error_of(state)) for family in families]
    outcomes, cached = model_future.result()
    models = [ModelOutcome(dataset, family, error=result, cached=cached) if isinstance(result, str)
              else ModelOutcome(dataset, family, result, cached=cached)
              for family, result in outcomes.items()]
    return stages, records, models


def _exception_of(state: Any) -> Any:
    try:
        return state.result(raise_on_failure=False)
    except Exception as raised:  # a state without a stored result raises on read
        return raised


def _error_of(state: Any) -> str:
    exc = _exception_of(state)
    if isinstance(exc, StageFailed):
        return str(exc)
    if isinstance(exc, BaseException):
        return describe(exc)
    return state.message or state.name


def run_pipeline(kind: str, params: QuantifyParams, stages: list[str]) -> PipelineSummary:
    """The body of every flow: prepare, fan out on Dask, select models, track in MLflow, print the summary."""
    logger = get_run_logger()
    start = time.perf_counter()
    estimators = list(params.estimators) if kind != "refresh" else []
    models = params.models if isinstance(params, BenchmarkParams) else None
    families = list(models.families) if models else []
    ready = prepare(params.data, params.tracking, params.compute, estimators)
    experiment = params.tracking.experiment or EXPERIMENTS[kind]
    logger.info(
        "%d datasets, stages %s, estimators %s on %s; tracking %s (experiment %r)",
        len(ready.entries), stages, ready.estimators, params.compute.dask_address or f"a local Dask cluster "
        f"({params.compute.n_workers} workers)", preflight.redact(ready.tracking_uri), experiment,
    )
    log = start_tracking(params, ready, kind, experiment)
    try:
        with api_shared_with_workers():
            stage_outcomes, records, model_outcomes = fan_out.with_options(task_runner=task_runner(params.compute))(
                ready.entries, ready.catalog.base.resolve(), ready.data_dir, stages, ready.estimators, params.settings,
                params.results_dir, params.use_cache, families, models.train if models else None, log,
            )
        for name, message in ready.broken.items():
            stage_outcomes.append(StageOutcome(name, "catalog", error=message))
            records += [RunRecord(name, e, "failed", error=f"invalid catalog entry: {message}")
                        for e in ready.estimators]
        summary = PipelineSummary(kind, records, stage_outcomes, model_outcomes,
                                  tracking_uri=preflight.redact(ready.tracking_uri), experiment=experiment,
                                  parent_run_id=log.parent_run_id)
        if models and model_outcomes:
            select_models(summary, models, ready)
        finish_tracking(summary, log)
    except BaseException as raised:  # Ctrl-C, SIGTERM (see cli.run) or a crash: no run is left RUNNING
        _end_open_runs(log, "FAILED" if isinstance(raised, Exception) else "KILLED")
        raise
    summary.seconds = time.perf_counter() - start
    # One line, not the table: `pidengine run` prints the table, which would otherwise reach the console twice; it is
    # also the MLflow parent run's description (and summary.txt) for runs started by a deployment.
    ok, failed = sum(r.status == "ok" for r in summary.records), summary.failed
    logger.info("%d of %d estimates ok; failed: %s; the summary table is the description of MLflow run %s",
                ok, len(summary.records), ", ".join(failed[:10]) + (" ..." if len(failed) > 10 else "") or "none",
                log.parent_run_id)
    return summary


def _end_open_runs(log: ChildRunLog, status: str) -> None:
    logger = get_run_logger()
    try:
        ended = tracking.end_open_runs(log.tracking_uri, log.parent_run_id, status)
    except Exception as exc:  # the tracking server itself may be what failed; the original error is raised anyway
        logger.warning("the MLflow runs of this flow could not be ended as %s: %s", status, describe(exc))
    else:
        logger.warning("the flow ended early: %d MLflow runs ended as %s", ended, status)


def select_models(summary: PipelineSummary, models: ModelParams, ready: Prepared) -> None:
    """Selection and the interaction analyses from the exact dataset PIDs and the trained models.

    The reference table is built from this run's reference datasets (the synthetic entries by default) and published,
    versioned, under ``<data_dir>/reference``; a run without reference datasets uses ``--reference-table``, else the
    table published last, else the one shipped with pidengine, and the summary names the file.
    """
    pids = {r.dataset: {p: float(r.values[p]) for p in PARTS} for r in summary.records
            if r.estimator == "exact" and r.status == "ok"}
    reports = [m.report for m in summary.models if m.report is not None]
    accuracy: dict[str, dict[str, float]] = {}
    for report in reports:
        accuracy.setdefault(report.dataset, {})[report.family] = report.test_accuracy
    synthetic = [] if models.reference_table is not None else sorted(e.name for e in ready.entries if e.is_synthetic)
    names = list(models.reference) or synthetic
    summary.analysis = analyse(pids, reports)
    try:
        if names:
            provenance = {
                "datasets": {name: {"codes": q.input_key(ready.data_dir, name, "exact"),
                                    "features": q.input_key(ready.data_dir, name, "batch")} for name in names},
                "train": models.train.model_dump(mode="json"), "pid": "exact estimator on the codes, all samples",
                "code_version": code_version(),
            }
            table, excluded = build_reference(pids, accuracy, names, provenance)
            summary.reference_path = str(table.save(ready.data_dir / "reference"))
        else:
            (table, path), excluded = find_reference(ready.data_dir, models.reference_table), {}
            summary.reference_path = str(path)
        selection = select(pids, accuracy, table, models.top_k)
        summary.selection = replace(selection, excluded={**excluded, **selection.excluded})
    except PIDEngineError as exc:
        summary.selection_error = str(exc)


@dataclass(frozen=True)
class ChildRunLog:
    """Where a flow run's child runs go and what they carry besides their results: the flow logs each dataset's runs
    as soon as its tasks finish, so MLflow fills up while the workers compute."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    data_dir: Path
    tags: dict[str, str]
    pid_params: dict[str, dict[str, Any]]  # per estimator
    dataset_params: dict[str, dict[str, Any]]  # per dataset
    train_params: dict[str, Any]

    def log(self, records: list[RunRecord], models: list[ModelOutcome]) -> list[RunRecord]:
        """Log one child run per record and per model outcome; returns the records with their run ids and sets each
        outcome's ``run_id``."""
        pid_runs = [
            tracking.PidRun(records[i], {**self.pid_params[records[i].estimator],
                                         **self.dataset_params.get(records[i].dataset, {})},
                            {**self.tags, "input_store": _store_path(self.data_dir, records[i])})
            for i in range(len(records))
        ]
        model_runs = [tracking.ModelRun(m.dataset, m.family, m.report, m.error,
                                        {**self.train_params, "family": m.family},
                                        {**self.tags, "cached": str(m.cached).lower()}) for m in models]
        pid_ids, model_ids = tracking.log_child_runs(self.tracking_uri, self.experiment_id, self.parent_run_id,
                                                     pid_runs, model_runs)
        records = list(records)
        for i, run_id in enumerate(pid_ids):
            records[i] = replace(records[i], run_id=run_id)
        for outcome, run_id in zip(models, model_ids):
            outcome.run_id = run_id
        return records


def start_tracking(params: QuantifyParams, ready: Prepared, kind: str, experiment_name: str) -> ChildRunLog:
    """Open the flow run's parent run in MLflow (settings as params, provenance as tags) before any work."""
    context = FlowRunContext.get()
    flow_run = context.flow_run if context else None
    base_tags = {**tracking.owner_tags(), "kind": "flow", "flow": kind,
                 "flow_run_id": str(flow_run.id) if flow_run else "",
                 "flow_run_name": flow_run.name if flow_run else "", "code_version": code_version(),
                 "catalog": str(Path(params.data.catalog).resolve()), "catalog_hash": _file_hash(params.data.catalog),
                 "pidengine_version": pidengine.__version__}
    parent_params = {"data.catalog": str(params.data.catalog), "data.data_dir": str(ready.data_dir),
                     "data.datasets": ",".join(e.name for e in ready.entries),
                     "estimators": ",".join(params.estimators),
                     "compute.dask_address": params.compute.dask_address or "local",
                     "compute.n_workers": params.compute.n_workers, "use_cache": params.use_cache}
    if kind != "refresh":
        parent_params.update(tracking.flatten("", params.settings.model_dump(mode="json")))
    train_params: dict[str, Any] = {}
    if isinstance(params, BenchmarkParams):
        parent_params.update(tracking.flatten("models", params.models.model_dump(mode="json")))
        train_params = tracking.flatten("train", params.models.train.model_dump(mode="json"))
    run_name = params.tracking.run_name or f"{kind} {datetime.now().astimezone():%Y-%m-%d %H:%M}"
    experiment_id = tracking.experiment_id(ready.tracking_uri, experiment_name)
    orphaned = tracking.kill_orphaned_runs(ready.tracking_uri, experiment_id)
    if orphaned:
        get_run_logger().warning("ended %d runs left RUNNING by a process that no longer exists as KILLED: %s",
                                 len(orphaned), ", ".join(orphaned))
    parent = tracking.start_parent_run(ready.tracking_uri, experiment_name, run_name, parent_params, base_tags)
    pid_params = {}
    for name in params.estimators:
        settings = params.settings.for_estimator(name).model_dump(mode="json")
        pid_params[name] = {f"{name}.{k}": v for k, v in settings.items()}
    dataset_params = {name: {"dataset.source": entry.source.model_dump_json(),
                             "dataset.featurize": entry.featurize.model_dump_json()}
                      for name, entry in ready.catalog.entries.items()}
    return ChildRunLog(ready.tracking_uri, experiment_id, parent,
                       ready.data_dir, base_tags, pid_params, dataset_params, train_params)


def finish_tracking(summary: PipelineSummary, log: ChildRunLog) -> None:
    """The runs no task produced (broken catalog entries), then the parent's selection, stage table and summary."""
    late = [i for i, record in enumerate(summary.records) if not record.run_id]
    logged = log.log([summary.records[i] for i in late], [])
    for i, record in zip(late, logged):
        summary.records[i] = record
    if summary.models:
        tracking.log_selection(log.tracking_uri, log.parent_run_id, [m.report for m in summary.models if m.report],
                               summary.selection, summary.analysis, summary.reference_path, summary.selection_error)
    _log_stage_table(log.tracking_uri, log.parent_run_id, summary.stages)
    if summary.records:
        tracking.log_summary(log.tracking_uri, log.parent_run_id, summary.records)
    tracking.end_parent_run(log.tracking_uri, log.parent_run_id, bool(summary.failed))


def _log_stage_table(tracking_uri: str, parent_run_id: str, stages: list[StageOutcome]) -> None:
    import pandas as pd

    rows = [{"dataset": s.dataset, "stage": s.stage, "written": bool(s.report and s.report.written),
             "key": s.report.key if s.report else "", "seconds": s.report.seconds if s.report else 0.0,
             "detail": s.report.detail if s.report else "", "error": s.error} for s in stages]
    if not rows:
        return
    mlflow_client = tracking.client(tracking_uri)
    mlflow_client.log_table(parent_run_id, data=pd.DataFrame(rows), artifact_file="stages.json")
    from mlflow.entities import Metric

    counts = {"stages.written": sum(r["written"] for r in rows), "stages.failed": sum(bool(r["error"]) for r in rows),
              "stages.unchanged": sum(not r["written"] and not r["error"] for r in rows)}
    mlflow_client.log_batch(parent_run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in counts.items()])


def _store_path(data_dir: Path, record: RunRecord) -> str:
    stage = "codes" if record.estimator == "exact" else "raw"
    link = data_dir / record.dataset / f"{stage}.zarr"
    return str(link.resolve()) if link.exists() else str(link)


def code_version() -> str:
    """The git commit of the project (``+dirty`` with uncommitted changes), or the package version without git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return f"{sha}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return f"pidengine-{pidengine.__version__}"


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""
