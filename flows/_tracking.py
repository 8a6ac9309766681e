"""A flow run in MLflow: its parent run, opened before any work and ended with the run's summary or its interruption
(:func:`tracked_run`), and the child runs its datasets log as their tasks finish (:class:`ChildRunLog`)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.context import FlowRunContext

import pidengine
from flows import preflight
from flows._plan import Plan, Prepared
from flows._summary import ModelOutcome, Outcomes, PipelineSummary, StageOutcome
from flows.params import EXPERIMENTS
from pidengine.io.store import DatasetStore
from pidengine.models.analysis import InteractionAnalysis
from pidengine.quantify import input_stage
from pidengine.report import RunRecord
from tasks import tracking
from tasks._retry import describe
from tasks.selection import SelectionOutcome


@dataclass(frozen=True)
class ChildRunLog:
    """Where a flow run's child runs go and what they carry besides their results: the flow logs each dataset's runs
    as soon as its tasks finish, so MLflow fills up while the workers compute."""

    tracking_uri: str  # its password masked: this is a parameter of the fan-out subflow, which Prefect stores
    experiment_id: str
    parent_run_id: str
    data_dir: str
    tags: dict[str, str]
    pid_params: dict[str, dict[str, Any]]  # per estimator
    dataset_params: dict[str, dict[str, Any]]  # per dataset
    train_params: dict[str, Any]

    def log(self, records: list[RunRecord], models: list[ModelOutcome]) -> list[RunRecord]:
        """Log one child run per record and per model outcome; returns the records with their run ids and sets each
        outcome's ``run_id``."""
        pid_runs = [
            tracking.PidRun(record,
                            {**self.pid_params[record.estimator], **self.dataset_params.get(record.dataset, {})},
                            {**self.tags, "input_store": self._input_store(record)})
            for record in records
        ]
        model_runs = [tracking.ModelRun(m.dataset, m.family, m.report, m.error,
                                        {**self.train_params, "family": m.family},
                                        {**self.tags, "cached": str(m.cached).lower()}) for m in models]
        pid_ids, model_ids = tracking.log_child_runs(self.tracking_uri, self.experiment_id, self.parent_run_id,
                                                     pid_runs, model_runs)
        for outcome, run_id in zip(models, model_ids):
            outcome.run_id = run_id
        return [replace(record, run_id=run_id) for record, run_id in zip(records, pid_ids)]

    def _input_store(self, record: RunRecord) -> str:
        """The store version the estimate read (its pointer where none is published)."""
        store, stage = DatasetStore(self.data_dir, record.dataset), input_stage(record.estimator)
        version = store.current(stage)
        return version.url if version is not None else store.pointer(stage).url


@dataclass(frozen=True)
class TrackedRun:
    """A flow run's open parent run: its child runs go through ``log``; :meth:`end` logs the summary and ends it."""

    flow: str
    experiment: str
    log: ChildRunLog
    started: float

    def end(self, outcomes: Outcomes, selected: SelectionOutcome | None = None,
            analysis: InteractionAnalysis | None = None) -> PipelineSummary:
        """The run's summary, logged on the parent run (with the child runs no task produced, for broken catalog
        entries), which then ends: FAILED when anything failed. Without ``selected`` the run made no selection."""
        selected = selected or SelectionOutcome()
        summary = PipelineSummary(
            self.flow, outcomes.records, outcomes.stages, outcomes.models, selected.selection, analysis,
            selected.reference_path, selected.error, self.log.tracking_uri, self.experiment,
            self.log.parent_run_id,
        )
        _log_summary(summary, self.log)
        summary.seconds = time.perf_counter() - self.started
        # One line, not the table: `pidengine run` prints the table, which would otherwise reach the console twice;
        # it is also the MLflow parent run's description (and summary.txt) for runs started by a deployment.
        ok, failed = sum(r.status == "ok" for r in summary.records), summary.failed
        get_run_logger().info(
            "%d of %d estimates ok; failed: %s; the summary table is the description of MLflow run %s",
            ok, len(summary.records), ", ".join(failed[:10]) + (" ..." if len(failed) > 10 else "") or "none",
            summary.parent_run_id)
        return summary


@contextmanager
def tracked_run(flow: str, ready: Prepared, plan: Plan) -> Iterator[TrackedRun]:
    """Open the flow run's parent run in MLflow before any work (settings as params, provenance as tags).

    If the body is interrupted (Ctrl-C, SIGTERM: see ``cli.run``) or crashes, the parent run and every child still
    open end as KILLED or FAILED before the error goes on: no run is left RUNNING.
    """
    started = time.perf_counter()
    experiment = ready.tracking.experiment or EXPERIMENTS[flow]
    get_run_logger().info(
        "%d datasets, stages %s, estimators %s on %s; tracking %s (experiment %r)",
        len(ready.entries), list(plan.stages), list(plan.estimators),
        ready.compute.dask_address or f"a local Dask cluster ({ready.compute.n_workers} workers)",
        ready.tracking_uri, experiment,
    )
    log = _start(flow, ready, plan, experiment)
    try:
        yield TrackedRun(flow, experiment, log, started)
    except BaseException as raised:
        _end_open_runs(log, "FAILED" if isinstance(raised, Exception) else "KILLED", raised)
        raise


def _start(flow: str, ready: Prepared, plan: Plan, experiment: str) -> ChildRunLog:
    context = FlowRunContext.get()
    flow_run = context.flow_run if context else None
    base_tags = {**tracking.owner_tags(), "kind": "flow", "flow": flow,
                 "flow_run_id": str(flow_run.id) if flow_run else "",
                 "flow_run_name": flow_run.name if flow_run else "", "code_version": tracking.code_version(),
                 "catalog": str(Path(ready.data.catalog).resolve()), "catalog_hash": _file_hash(ready.data.catalog),
                 "pidengine_version": pidengine.__version__}
    run_name = ready.tracking.run_name or f"{flow} {datetime.now().astimezone():%Y-%m-%d %H:%M}"
    experiment_id = tracking.experiment_id(ready.tracking_uri, experiment)
    settled = tracking.end_remembered_runs(ready.tracking_uri)
    if settled:
        get_run_logger().warning("ended the MLflow runs of %d earlier flow runs, left RUNNING while the tracking "
                                 "server did not answer: parent runs %s", len(settled), ", ".join(settled))
    orphaned = tracking.kill_orphaned_runs(ready.tracking_uri, experiment_id)
    if orphaned:
        get_run_logger().warning("ended %d runs left RUNNING by a process that no longer exists as KILLED: %s",
                                 len(orphaned), ", ".join(orphaned))
    parent = tracking.start_parent_run(ready.tracking_uri, experiment, run_name, _parent_params(ready, plan),
                                       base_tags)
    pid_params = {}
    for name in plan.estimators:
        settings = plan.settings.for_estimator(name).model_dump(mode="json")
        pid_params[name] = {f"{name}.{k}": v for k, v in settings.items()}
    dataset_params = {name: {"dataset.source": entry.source.model_dump_json(),
                             "dataset.featurize": entry.featurize.model_dump_json()}
                      for name, entry in ready.catalog.entries.items()}
    train_params = tracking.flatten("train", plan.train.model_dump(mode="json")) if plan.train else {}
    return ChildRunLog(ready.tracking_uri, experiment_id, parent,
                       ready.data_dir, base_tags, pid_params, dataset_params, train_params)


def _parent_params(ready: Prepared, plan: Plan) -> dict[str, Any]:
    """The parent run's params: what was run, where, and every setting of the estimators and models it ran."""
    params = {"data.catalog": str(ready.data.catalog), "data.data_dir": str(ready.data_dir),
              "data.datasets": ",".join(e.name for e in ready.entries), "estimators": ",".join(plan.estimators),
              "compute.dask_address": ready.compute.dask_address or "local",
              "compute.n_workers": ready.compute.n_workers, "use_cache": plan.use_cache}
    if plan.estimators:
        params.update(tracking.flatten("", plan.settings.model_dump(mode="json")))
    if plan.models is not None:
        params.update(tracking.flatten("models", plan.models.model_dump(mode="json")))
    return params


def _log_summary(summary: PipelineSummary, log: ChildRunLog) -> None:
    """The runs no task produced (broken catalog entries), then the parent's selection, stage table and summary."""
    late = [i for i, record in enumerate(summary.records) if not record.run_id]
    logged = log.log([summary.records[i] for i in late], [])
    for i, record in zip(late, logged):
        summary.records[i] = record
    if summary.models:
        tracking.log_selection(log.tracking_uri, log.parent_run_id, [m.report for m in summary.models if m.report],
                               summary.selection, summary.analysis, summary.reference_path, summary.selection_error)
    tracking.log_stage_table(log.tracking_uri, log.parent_run_id, _stage_rows(summary.stages))
    if summary.records:
        tracking.log_summary(log.tracking_uri, log.parent_run_id, summary.records)
    tracking.end_parent_run(log.tracking_uri, log.parent_run_id, bool(summary.failed))


def _end_open_runs(log: ChildRunLog, status: str, raised: BaseException) -> None:
    """End the flow run's parent run and its open children as ``status``; when the tracking server does not answer,
    remember them on this machine, and the next flow run ends them (:func:`tasks.tracking.end_remembered_runs`)."""
    logger = get_run_logger()
    try:
        if isinstance(raised, tracking.TrackingUnavailable):  # a quick look first: every call would wait in vain
            preflight.check_tracking_uri(preflight.with_credentials(log.tracking_uri), timeout=2)
        ended = tracking.end_open_runs(log.tracking_uri, log.parent_run_id, status)
    except (tracking.TrackingUnavailable, preflight.PreflightError):
        try:
            tracking.remember_open_runs(log.tracking_uri, log.parent_run_id, status)
        except OSError as exc:
            logger.warning("the MLflow runs of this flow stay RUNNING: the tracking server %s does not answer, and "
                           "they could not be remembered to end later (%s)", log.tracking_uri, describe(exc))
        else:
            logger.warning("the tracking server %s does not answer: this flow's MLflow runs stay RUNNING until the "
                           "next flow run on this machine ends them as %s", log.tracking_uri, status)
    except Exception as exc:  # the original error is raised anyway
        logger.warning("the MLflow runs of this flow could not be ended as %s: %s", status, describe(exc))
    else:
        logger.warning("the flow ended early: %d MLflow runs ended as %s", ended, status)


def _stage_rows(stages: list[StageOutcome]) -> list[dict[str, Any]]:
    return [{"dataset": s.dataset, "stage": s.stage, "written": bool(s.report and s.report.written),
             "key": s.report.key if s.report else "", "seconds": s.report.seconds if s.report else 0.0,
             "detail": s.report.detail if s.report else "", "error": s.error} for s in stages]


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""
