"""Where a flow run's work runs: the fan-out of every dataset's tasks on Dask (:func:`fan_out_on_dask`), with the
task runner it gets (:func:`task_runner`), the Prefect API its workers report to, and a watch that fails the run
when the cluster has had no worker for too long (:class:`WorkerWatch`)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect_dask import DaskTaskRunner

from flows import preflight
from flows._plan import Plan, Prepared
from flows._summary import ModelOutcome, Outcomes, StageOutcome
from flows._tracking import ChildRunLog
from flows.params import ComputeParams, ModelParams
from pidengine.catalog import CatalogEntry
from pidengine.exceptions import PIDEngineError
from pidengine.io.location import Location
from pidengine.models.analysis import InteractionAnalysis
from pidengine.report import RunRecord
from tasks._dask import isolate_task_runs
from tasks._retry import describe
from tasks.data import StageFailed, build_dataset
from tasks.estimate import estimate_pid
from tasks.models import train_models
from tasks.selection import SelectionOutcome, analyse_models, select_models

# Dask's defaults for worker processes that cost compute here, unset before the local cluster starts: the nanny's
# MALLOC_TRIM_THRESHOLD_=65536 made the exact PID with bootstrap 1.7x slower (4.3 s in a plain process, 7.5 s in a
# worker, 5.1 s without it) and the statistical profiler BATCH and model training ~1.3x. Workers of an existing
# scheduler get the same from their first task (tasks._dask.tune_worker); here the worker never starts either.
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


class NoWorkers(PIDEngineError):
    """The run's Dask cluster has had no worker for longer than ``no_workers_timeout``."""


class WorkerWatch:
    """Whether the run's Dask cluster still has workers, asked (at most every ``poll_seconds``) while the flow waits
    for its tasks: a cluster without any worker for ``timeout`` seconds raises :class:`NoWorkers`, where Dask would
    wait for one forever. The first moment without workers, and their return, are logged."""

    def __init__(self, client: Any, timeout: float, remote: bool, logger: Any, poll_seconds: float = 1.0) -> None:
        self.client = client
        self.logger = logger
        self.timeout = timeout
        self.remote = remote
        self.poll_seconds = poll_seconds
        self.address = client.scheduler.address if client is not None else ""
        self._last_seen = self._last_poll = time.monotonic()
        self._missing = False

    def check(self) -> None:
        now = time.monotonic()
        if now - self._last_poll < self.poll_seconds:
            return
        self._last_poll = now
        try:
            n_workers = len(self.client.nthreads(callback_timeout=max(5.0, self.poll_seconds)))
        except (OSError, TimeoutError):  # the scheduler does not answer: no worker can be reached either
            n_workers = 0
        if n_workers:
            if self._missing:
                self.logger.warning("%d Dask workers at %s again", n_workers, self.address)
            self._last_seen, self._missing = now, False
            return
        if not self._missing:
            self._missing = True
            self.logger.warning("no Dask workers at %s: the run fails unless one joins within %g s", self.address,
                                self.timeout)
        if now - self._last_seen >= self.timeout:
            raise NoWorkers(self._message())

    def _message(self) -> str:
        if self.remote:
            return preflight.no_workers_message(self.address, self.timeout)
        return (f"no Dask workers in the local cluster at {self.address} for {self.timeout:g} s: its worker processes "
                "died and were not restarted (out of memory? see the log above)")

    def wait(self, future: Any) -> None:
        """Wait for a task's future, checking the cluster while it is not done (without a Dask client, just wait)."""
        while self.client is not None and not future.wrapped_future.done():
            future.wait(timeout=self.poll_seconds)
            self.check()
        future.wait()  # done: sets the future's final state


def fan_out_on_dask(ready: Prepared, plan: Plan, log: ChildRunLog) -> Outcomes:
    """Every dataset's tasks (:func:`fan_out`) on the run's Dask cluster; the broken catalog entries are among the
    outcomes as failed, each with its error."""
    with api_shared_with_workers():
        outcomes = fan_out.with_options(task_runner=task_runner(ready.compute))(
            ready.entries, ready.catalog.base.resolve(), ready.data_dir, plan, log, ready.compute)
    for name, message in ready.broken.items():
        outcomes.stages.append(StageOutcome(name, "catalog", error=message))
        outcomes.records += [RunRecord(name, estimator, "failed", error=f"invalid catalog entry: {message}")
                             for estimator in plan.estimators]
    return outcomes


@flow(name="pidengine-fan-out", validate_parameters=False)
def fan_out(entries: list[CatalogEntry], base: Path, data_dir: str, plan: Plan, log: ChildRunLog,
            compute: ComputeParams) -> Outcomes:
    """Submit every dataset's stages, estimates and models to the task runner (Dask), then collect them dataset by
    dataset, logging each dataset's child runs to MLflow (``log``) while the workers go on with the next ones.

    Per dataset: ingest → featurise → one estimate per estimator, and one task training every family. A failure stops
    only its own dataset; a cluster without workers for ``compute.no_workers_timeout`` seconds stops the run."""
    results_dir = Location(plan.results_dir).url
    data_futures: dict[str, Any] = {}
    estimate_futures: dict[tuple[str, str], Any] = {}
    model_futures: dict[str, Any] = {}
    for entry in entries:
        data_futures[entry.name] = build_dataset.submit(entry, data_dir, base, list(plan.stages))
        upstream = [data_futures[entry.name]]
        for name in plan.estimators:
            estimate_futures[(entry.name, name)] = estimate_pid.submit(
                data_dir, entry.name, name, plan.settings, bool(entry.encode), results_dir, plan.use_cache,
                wait_for=upstream,
            )
        if plan.families:
            model_futures[entry.name] = train_models.submit(entry, data_dir, plan.families, plan.train,
                                                            plan.models.pid, results_dir, plan.use_cache,
                                                            wait_for=upstream)
    outcomes = Outcomes()
    logger = get_run_logger()
    watch = WorkerWatch(getattr(FlowRunContext.get().task_runner, "client", None), compute.no_workers_timeout,
                        remote=bool(compute.dask_address), logger=logger)
    for number, (name, data_future) in enumerate(data_futures.items(), 1):
        stages, records, models = _collect(
            name, data_future, {e: f for (d, e), f in estimate_futures.items() if d == name},
            model_futures.get(name), plan.families, watch,
        )
        outcomes.stages += stages
        outcomes.records += log.log(records, models)
        outcomes.models += models
        # Printed here, in the flow's process: a remote worker's own log lines never reach this console.
        logger.info("[%d/%d] %s", number, len(data_futures), _progress_line(name, stages, records, models))
    return outcomes


def select_and_analyse(outcomes: Outcomes, ready: Prepared, models: ModelParams
                       ) -> tuple[SelectionOutcome | None, InteractionAnalysis | None]:
    """Model selection and the interaction analyses where families were trained (none with --no-models)."""
    if not outcomes.models:
        return None, None
    selected = select_models(outcomes.records, outcomes.reports, ready.data_dir,
                             reference=models.reference_datasets(ready.entries), table_file=models.reference_table,
                             top_k=models.top_k, train=models.train)
    return selected, analyse_models(outcomes.records, outcomes.reports)


def _progress_line(dataset: str, stages: list[StageOutcome], records: list[RunRecord],
                   models: list[ModelOutcome]) -> str:
    """One dataset's outcome in a line: ``digits-halves: exact ok 10.2 s, batch ok (cached); models 9 of 9 ok``."""
    failed_stage = next((s for s in stages if s.error), None)
    if failed_stage is not None:
        return f"{dataset}: {failed_stage.stage} FAILED: {failed_stage.error.splitlines()[0][:120]}"
    estimates = ", ".join(
        f"{r.estimator} {'ok' if r.status == 'ok' else 'FAILED'}"
        + (" (cached)" if r.cached else f" {r.seconds:.1f} s" if r.status == "ok" else "")
        for r in records)
    trained = f"; models {sum(m.report is not None for m in models)} of {len(models)} ok" if models else ""
    return f"{dataset}: {estimates or 'stages done'}{trained}"


def _collect(
    dataset: str, data_future: Any, estimate_futures: dict[str, Any], model_future: Any, families: list[str],
    watch: WorkerWatch,
) -> tuple[list[StageOutcome], list[RunRecord], list[ModelOutcome]]:
    """One dataset's outcomes, waiting for its tasks (``watch`` checks the cluster meanwhile): its stages, one record
    per estimator, one outcome per family."""
    watch.wait(data_future)
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
        watch.wait(future)
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
    watch.wait(model_future)
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
