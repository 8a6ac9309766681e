"""MLflow tasks: a parent run per flow run, a nested child run per (dataset, estimator), artifacts and the summary.

They run in the flow's own process (called, not submitted), one after another: an SQLite tracking store then has a
single writer, and artifacts are written where the flow runs. Keys are dotted and carry their unit
(``pid.synergy_bits``); every number a child logs is the estimator's own figure, except that a figure smaller than
what the estimate resolves (an exact estimate's certified duality gap, else 1e-12 bits) is logged as 0.

A tracking server that stops answering fails the call within seconds with :class:`TrackingUnavailable` (one line
naming the server), instead of after MLflow's four minutes of retries (:data:`HTTP_SETTINGS`); the runs the flow
could not end then are remembered on this machine (:func:`remember_open_runs`) and ended by the next flow run
(:func:`end_remembered_runs`).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task

import pidengine
from pidengine import report
from pidengine.exceptions import PIDEngineError
from pidengine.io.location import Location
from pidengine.parts import other_values, read_parts
from pidengine.report import RunRecord
from tasks._credentials import redact, with_credentials
from tasks._retry import is_transient, retry_transient

_RETRIES = dict(retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_transient)
_MAX_TAG = 5000
# MLflow 3 opens an experiment on its GenAI traces page unless this tag names the model-training view (the runs).
_EXPERIMENT_KIND, _MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"
# Below this many bits a figure is floating-point noise (4.4e-16), logged as 0 so that the runs table reads 0.
_NOISE_BITS = 1e-12
_MAX_PARAM = 6000
PROJECT_ROOT = Path(pidengine.__file__).resolve().parents[1]
# MLflow's client tries a request that gets no answer 8 times, waiting 0, 4, 8, ... up to 120 s in between (a refused
# connection failed after 247 s here), and waits 120 s for each answer. The pipeline's own calls try 3 times, 0 and
# 2 s apart, and wait 8 s for an answer: a refused connection fails in ~3 s, a server that never answers in ~27 s.
# A value the user set wins; MLflow reads them on every request.
HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "8",
}


class TrackingUnavailable(PIDEngineError):
    """The MLflow tracking server did not answer (refused, timed out, or error responses after every retry)."""


@contextmanager
def _http_settings() -> Iterator[None]:
    """:data:`HTTP_SETTINGS` in the environment where unset, for the duration of a call."""
    added = {name: value for name, value in HTTP_SETTINGS.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _unanswered(exc: BaseException | None) -> str | None:
    """Why the tracking server did not answer, when ``exc`` or an error it was raised from (MLflow wraps requests'
    errors) says that it did not; None for any other error."""
    import requests

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        # requests raises a read timeout that outlasted the retries as a ConnectionError saying "Read timed out"
        if isinstance(exc, requests.exceptions.Timeout) or (
                isinstance(exc, requests.exceptions.ConnectionError) and "timed out" in str(exc)):
            return f"waited {os.environ.get('MLFLOW_HTTP_REQUEST_TIMEOUT')} s per try"
        if isinstance(exc, requests.exceptions.RetryError):
            return "error responses to every retry"
        if isinstance(exc, requests.exceptions.ConnectionError):
            errno = re.search(r"\[Errno -?\d+\] ([^'\"()\]]+)", str(exc))
            return errno.group(1).strip() if errno else "connection failed"
        exc = exc.__cause__ or exc.__context__
    return None


def _fails_fast(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run an MLflow call (its first argument the tracking URI) with :data:`HTTP_SETTINGS`; a server that does not
    answer raises :class:`TrackingUnavailable`, one line naming it and the fix, without MLflow's traceback."""

    @functools.wraps(function)
    def call(tracking_uri: str, *args: Any, **kwargs: Any) -> Any:
        with _http_settings():
            try:
                return function(tracking_uri, *args, **kwargs)
            except Exception as exc:
                reason = _unanswered(exc)
                if reason is None:
                    raise
        raise TrackingUnavailable(
            f"the MLflow tracking server {redact(tracking_uri)} does not answer ({reason}); start it again (or use "
            "another --tracking-uri) and rerun: the next run ends this run's MLflow runs as FAILED")

    return call


def client(tracking_uri: str):
    """An MLflow client of ``tracking_uri``, its masked password (if any) restored from the environment
    (:func:`tasks._credentials.with_credentials`): the only place a URI with credentials exists."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=with_credentials(tracking_uri))


@_fails_fast
def experiment_id(tracking_uri: str, name: str) -> str:
    """The experiment's id, creating it if needed (artifacts next to an SQLite store, in ``mlruns/``)."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client(tracking_uri)
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        if _EXPERIMENT_KIND not in found.tags:  # made before the tag was set, or by hand; a user's choice is kept
            mlflow_client.set_experiment_tag(found.experiment_id, _EXPERIMENT_KIND, _MODEL_TRAINING)
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(tracking_uri[len("sqlite:///"):]).parent / "mlruns" / name).resolve().as_uri()
    try:
        return mlflow_client.create_experiment(name, artifact_location=location,
                                               tags={_EXPERIMENT_KIND: _MODEL_TRAINING})
    except MlflowException:  # created concurrently
        return mlflow_client.get_experiment_by_name(name).experiment_id


@task(name="mlflow-start-parent", **_RETRIES)
@_fails_fast
def start_parent_run(
    tracking_uri: str, experiment: str, run_name: str, params: dict[str, Any], tags: dict[str, str]
) -> str:
    """Open the flow run's parent run; returns its id."""
    from mlflow.entities import Param

    mlflow_client = client(tracking_uri)
    run = mlflow_client.create_run(experiment_id(tracking_uri, experiment), run_name=run_name, tags=_tags(tags))
    mlflow_client.log_batch(run.info.run_id, params=[Param(k, _param(v)) for k, v in params.items()])
    return run.info.run_id


@dataclass(frozen=True)
class PidRun:
    """What one (dataset, estimator) child run logs besides the record's own figures."""

    record: RunRecord
    params: dict[str, Any]
    tags: dict[str, str]


@dataclass(frozen=True)
class ModelRun:
    """What one (dataset, family) child run logs: the model's report, or the error of a failed training."""

    dataset: str
    family: str
    report: Any
    error: str
    params: dict[str, Any]
    tags: dict[str, str]


@task(name="mlflow-log-child-runs")
@_fails_fast
def log_child_runs(
    tracking_uri: str, experiment: str, parent_run_id: str, pid_runs: Sequence[PidRun], model_runs: Sequence[ModelRun]
) -> tuple[list[str], list[str]]:
    """Every child run of a flow run, in one task: one per (dataset, estimator), then one per (dataset, family).

    Returns their run ids in the order given. Each run is retried on its own after a transient failure (a locked
    SQLite store, a network error), so a retry never re-creates the runs already logged.
    """
    pid_ids = [_retrying(log_pid_run, tracking_uri, experiment, parent_run_id, run.record, run.params, run.tags)
               for run in pid_runs]
    model_ids = [_retrying(log_model_run, tracking_uri, experiment, parent_run_id, run.dataset, run.family,
                           run.report, run.error, run.params, run.tags) for run in model_runs]
    return pid_ids, model_ids


def _retrying(function: Callable[..., str], *args: Any) -> str:
    for delay in _RETRIES["retry_delay_seconds"]:
        try:
            return function(*args)
        except Exception as exc:
            if not is_transient(exc):
                raise
            time.sleep(delay)
    return function(*args)


@_fails_fast
def log_pid_run(
    tracking_uri: str, experiment: str, parent_run_id: str, record: RunRecord, params: dict[str, Any],
    tags: dict[str, str],
) -> str:
    """One nested run (in experiment id ``experiment``) for one (dataset, estimator): metrics, settings, tags and the
    PID table and plot as artifacts. A failed estimate becomes a FAILED run carrying its error. Returns the run id."""
    from mlflow.entities import Metric, Param

    mlflow_client = client(tracking_uri)
    all_tags = {
        **tags,
        "mlflow.parentRunId": parent_run_id,
        "kind": "pid",
        "dataset": record.dataset,
        "estimator": record.estimator,
        "content_hash": record.content_hash,
        "status": record.status,
        "cached": str(record.cached).lower(),
    }
    if record.error:
        all_tags["error"] = record.error[-_MAX_TAG:]
    # A fresh estimate's run starts when its computation did, so that MLflow's Duration column shows it.
    start_ms = None if record.cached else int((time.time() - record.seconds) * 1000)
    run = mlflow_client.create_run(experiment, start_time=start_ms, run_name=f"{record.dataset}/{record.estimator}",
                                   tags=_tags(all_tags))
    run_id = run.info.run_id
    metrics = [Metric(k, v, 0, 0) for k, v in pid_metrics(record).items()]
    mlflow_client.log_batch(run_id, metrics=metrics, params=[Param(k, _param(v)) for k, v in params.items()])
    with tempfile.TemporaryDirectory() as folder:
        if record.status == "ok":
            rows = report.pid_table(record.values, record.true_pid)
            document = {"dataset": record.dataset, "estimator": record.estimator, "units": "bits", "table": rows,
                        "values": record.values, "true_pid_bits": record.true_pid, "settings": params}
            (Path(folder) / "pid.json").write_text(json.dumps(document, indent=2, default=str))
            (Path(folder) / "pid.csv").write_text(report.to_csv(rows))
            report.pid_figure([record], title=f"{record.dataset} / {record.estimator}").savefig(
                Path(folder) / "pid.png", dpi=110)
        else:
            (Path(folder) / "error.txt").write_text(record.error or record.status)
        mlflow_client.log_artifacts(run_id, folder)
    mlflow_client.set_terminated(run_id, "FINISHED" if record.status == "ok" else "FAILED")
    return run_id


@task(name="mlflow-log-summary", **_RETRIES)
@_fails_fast
def log_summary(tracking_uri: str, parent_run_id: str, records: Sequence[RunRecord]) -> None:
    """The summary across datasets on the parent run: a table artifact, a CSV, a plot, the estimators' agreement
    (``agreement.csv``: each part's difference per pair of estimators with its interval) and counts."""
    from mlflow.entities import Metric, RunTag

    mlflow_client = client(tracking_uri)
    frame = report.summary_frame(records)
    mlflow_client.log_table(parent_run_id, data=frame.drop(columns=["run_id"]), artifact_file="summary.json")
    ok = [r for r in records if r.status == "ok"]
    agreement = report.estimator_agreement(records)
    counts = {
        "agreement.disagreeing_parts": sum(row.disagree for row in agreement),
        "runs.ok": len(ok),
        "runs.failed": sum(r.status == "failed" for r in records),
        "runs.cached": sum(r.cached for r in records),
        "time.estimate_seconds": sum(r.seconds for r in records),
    }
    mlflow_client.log_batch(
        parent_run_id,
        metrics=[Metric(k, float(v), 0, 0) for k, v in counts.items()],
        tags=[RunTag(k, v) for k, v in _tags({"mlflow.note.content": _description(records)}).items()],
    )
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "summary.csv").write_text(frame.to_csv(index=False))
        (Path(folder) / "summary.txt").write_text(report.format_summary(records))
        if agreement:
            (Path(folder) / "agreement.csv").write_text(report.agreement_frame(agreement).to_csv(index=False))
        if ok:
            report.summary_figure(ok).savefig(Path(folder) / "summary.png", dpi=110)
            figures = Path(folder) / "figures"  # one per dataset, its estimators side by side
            figures.mkdir()
            for dataset, figure in report.dataset_figures(ok).items():
                figure.savefig(figures / f"{dataset}.png", dpi=110)
        mlflow_client.log_artifacts(parent_run_id, folder)


def _description(records: Sequence[RunRecord]) -> str:
    """The parent run's description (MLflow shows it as Markdown on the run page): the summary table, cut at a
    whole line where the tag's size limit would cut it."""
    table = report.format_summary(records)
    frame = "```\n{}\n```"
    ending = "\n... (the whole table: summary.txt among the artifacts)"
    if len(frame.format(table)) <= _MAX_TAG:
        return frame.format(table)
    kept = table[: _MAX_TAG - len(frame.format(ending))].rsplit("\n", 1)[0]
    return frame.format(kept + ending)


@task(name="mlflow-end-parent", **_RETRIES)
@_fails_fast
def end_parent_run(tracking_uri: str, parent_run_id: str, failed: bool) -> None:
    client(tracking_uri).set_terminated(parent_run_id, "FAILED" if failed else "FINISHED")


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


def owner_tags() -> dict[str, str]:
    """Tags naming the process that opens a run, so that a later run can tell a run left open by a process that no
    longer exists (killed with -9, a crashed machine) from one still running."""
    return {"host": socket.gethostname(), "pid": str(os.getpid())}


@_fails_fast
def end_open_runs(tracking_uri: str, parent_run_id: str, status: str) -> int:
    """End the parent run and every child still RUNNING as ``status`` (KILLED when the flow was interrupted, FAILED
    when it crashed); returns how many.

    A plain function, not a task: it runs while the flow is being torn down."""
    mlflow_client = client(tracking_uri)
    experiment = mlflow_client.get_run(parent_run_id).info.experiment_id
    children = mlflow_client.search_runs(
        [experiment], f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'RUNNING'"
    )
    for run_id in [parent_run_id, *(run.info.run_id for run in children)]:
        mlflow_client.set_terminated(run_id, status)
    return 1 + len(children)


def open_runs_folder() -> Path:
    """Where this machine remembers the runs a flow could not end: ``$XDG_STATE_HOME/pidengine/open-runs``
    (``~/.local/state`` by default)."""
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "pidengine" / "open-runs"


def remember_open_runs(tracking_uri: str, parent_run_id: str, status: str) -> Path:
    """Remember that the parent run ``parent_run_id`` and its children still RUNNING are to be ended as ``status``
    when the tracking server answers again (:func:`end_remembered_runs`); one small file per parent run, holding the
    URI masked. Returns the file."""
    folder = open_runs_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{parent_run_id}.json"
    path.write_text(json.dumps({"tracking_uri": redact(tracking_uri), "parent_run_id": parent_run_id,
                                "status": status, "since": datetime.now(UTC).isoformat()}))
    return path


@_fails_fast
def end_remembered_runs(tracking_uri: str) -> list[str]:
    """End the runs remembered for ``tracking_uri`` (:func:`remember_open_runs`) as they were to end, and forget
    them; returns the parent runs' ids. A run deleted meanwhile is forgotten too."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    ended = []
    for path in sorted(open_runs_folder().glob("*.json")):
        try:
            note = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if note.get("tracking_uri") != redact(tracking_uri):
            continue
        try:
            end_open_runs(tracking_uri, note["parent_run_id"], note["status"])
        except MlflowException as exc:
            if exc.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
                raise
        path.unlink(missing_ok=True)
        ended.append(note["parent_run_id"])
    return ended


@_fails_fast
def kill_orphaned_runs(tracking_uri: str, experiment_id: str) -> list[str]:
    """End as KILLED the runs of ``experiment_id`` left RUNNING by a process of this host that no longer exists;
    returns their names. Runs of live processes, and of other hosts, are left alone."""
    mlflow_client = client(tracking_uri)
    # The host is compared here, not in the filter string, where a hostname with a quote would break the query.
    running = mlflow_client.search_runs([experiment_id], "attributes.status = 'RUNNING'")
    host = socket.gethostname()
    orphaned = [run for run in running
                if run.data.tags.get("host") == host and not _process_exists(run.data.tags.get("pid", ""))]
    for run in orphaned:
        mlflow_client.set_terminated(run.info.run_id, "KILLED")
    return [run.info.run_name for run in orphaned]


def _process_exists(pid: str) -> bool:
    if not pid.isdigit():
        return True  # not ours to judge: a run opened without the tag
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@_fails_fast
def log_stage_table(tracking_uri: str, parent_run_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """The data stages of a flow run on its parent run: ``stages.json`` (a row per dataset and stage) and the counts
    ``stages.written``, ``stages.failed``, ``stages.unchanged``."""
    import pandas as pd
    from mlflow.entities import Metric

    if not rows:
        return
    mlflow_client = client(tracking_uri)
    mlflow_client.log_table(parent_run_id, data=pd.DataFrame(rows), artifact_file="stages.json")
    counts = {"stages.written": sum(r["written"] for r in rows), "stages.failed": sum(bool(r["error"]) for r in rows),
              "stages.unchanged": sum(not r["written"] and not r["error"] for r in rows)}
    mlflow_client.log_batch(parent_run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in counts.items()])


def pid_metrics(record: RunRecord) -> dict[str, float]:
    """The metrics of one child run: ``pid.<part>_bits`` (+ ``_low``/``_high``/``_std``), ``true.<part>_bits`` and
    ``abs_error.<part>_bits`` for sources with a known PID, ``shuffled.<part>_bits`` for the shuffled-label
    baseline, ``plugin.<part>_bits`` for the uncorrected estimate beside a bias-corrected one, ``significant.<part>``
    (1: the part's interval clears its null, 0: it does not), certificate/diagnostic numbers as ``diag.<key>``."""
    metrics: dict[str, float] = {"time.seconds": float(record.seconds)}
    if record.status != "ok":
        return metrics
    metrics |= part_metrics(record.values, record.true_pid)
    for key, value in other_values(record.values).items():
        if report.is_finite_number(value) or isinstance(value, bool):
            metrics[f"diag.{key}"] = float(value)
    return metrics


def part_metrics(values: dict[str, Any], true_pid: dict[str, float] | None = None,
                 prefix: str = "") -> dict[str, float]:
    """The metrics of each part of a flat view (:func:`pidengine.parts.read_parts`): ``<prefix>pid.<part>_bits``
    (+ ``_low``/``_high``/``_std``), ``true.``/``abs_error.<part>_bits`` against ``true_pid``,
    ``<prefix>shuffled.``/``<prefix>plugin.<part>_bits`` and ``<prefix>significant.<part>``; figures smaller than
    the estimate resolves (noise, or a certified duality gap) are 0."""
    metrics: dict[str, float] = {}
    truth = report.truth_with_total(true_pid)
    for part, estimate in read_parts(values).items():
        metrics[f"{prefix}pid.{part}_bits"] = float(estimate.value)
        for name in ("low", "high", "std"):
            if report.is_finite_number(getattr(estimate, name)):
                metrics[f"{prefix}pid.{part}_{name}_bits"] = float(getattr(estimate, name))
        if part in truth:
            metrics[f"true.{part}_bits"] = float(truth[part])
            metrics[f"abs_error.{part}_bits"] = abs(float(estimate.value) - float(truth[part]))
        for name in ("shuffled", "plugin"):
            if report.is_finite_number(getattr(estimate, name)):
                metrics[f"{prefix}{name}.{part}_bits"] = float(getattr(estimate, name))
        if isinstance(estimate.significant, bool):
            metrics[f"{prefix}significant.{part}"] = float(estimate.significant)
    resolution = max(_NOISE_BITS, _certified_gap(values))
    return {key: 0.0 if key.endswith("_bits") and abs(value) < resolution else value for key, value in metrics.items()}


def _certified_gap(values: dict[str, Any]) -> float:
    """The duality gap in bits of a certified exact estimate (a figure smaller than it is not resolved), else 0."""
    gap = values.get("duality_gap_bits")
    return float(gap) if values.get("certified") is True and report.is_finite_number(gap) else 0.0


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """A nested dict as dotted keys (``exact.n_bootstrap``)."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return flat
    return {prefix: value}


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_PARAM]


def _tags(tags: dict[str, Any]) -> dict[str, str]:
    return {k: str(v)[:_MAX_TAG] for k, v in tags.items() if v is not None}


@_fails_fast
def log_model_run(
    tracking_uri: str, experiment: str, parent_run_id: str, dataset: str, family: str, model: Any, error: str,
    params: dict[str, Any], tags: dict[str, str],
) -> str:
    """One nested run (in experiment id ``experiment``) for one (dataset, family): accuracies, model PID, training
    settings. ``model`` is a :class:`~pidengine.models.sweep.ModelReport`, or None with ``error`` for a failed
    training (a FAILED run)."""
    from mlflow.entities import Metric, Param

    mlflow_client = client(tracking_uri)
    all_tags = {**tags, "mlflow.parentRunId": parent_run_id, "dataset": dataset, "family": family, "kind": "model",
                "status": "ok" if model is not None else "failed"}
    if error:
        all_tags["error"] = error[-_MAX_TAG:]
    run = mlflow_client.create_run(experiment, run_name=f"{dataset}/model/{family}", tags=_tags(all_tags))
    metrics = model_metrics(model) if model is not None else {}
    mlflow_client.log_batch(run.info.run_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
                            params=[Param(k, _param(v)) for k, v in params.items()])
    mlflow_client.set_terminated(run.info.run_id, "FINISHED" if model is not None else "FAILED")
    return run.info.run_id


def model_metrics(model: Any) -> dict[str, float]:
    """``accuracy.test``/``.val``/``.without_<m>``/``.drop_<m>``, training figures, and the model PID as
    :func:`part_metrics` with the prefix ``model_`` (``model_pid.<part>_bits``, ``model_significant.<part>``, ...)."""
    metrics = {"accuracy.test": model.test_accuracy, "accuracy.val": model.val_accuracy,
               "train.best_epoch": model.best_epoch, "train.n_samples": model.n_train, "time.seconds": model.seconds}
    for modality, value in model.accuracy_without.items():
        metrics[f"accuracy.without_{modality}"] = value
        metrics[f"accuracy.drop_{modality}"] = model.accuracy_drop(modality)
    metrics |= part_metrics(model.pid, prefix="model_")
    return {k: float(v) for k, v in metrics.items()}


@task(name="mlflow-log-selection", **_RETRIES)
@_fails_fast
def log_selection(tracking_uri: str, parent_run_id: str, reports: Sequence[Any], selection: Any, analysis: Any,
                  reference_path: str, error: str) -> None:
    """On the parent run: every model's figures, the reference table (versioned file), the recommendations with
    their support and selection scores and where each dataset falls among the references (``selection.png``, the
    parts as selection compares them), and the interaction analyses (tables, correlations, a figure)."""
    import pandas as pd
    from mlflow.entities import Metric, RunTag

    mlflow_client = client(tracking_uri)
    models = pd.DataFrame([{"dataset": r.dataset, "family": r.family, **model_metrics(r)} for r in reports])
    if not models.empty:
        mlflow_client.log_table(parent_run_id, data=models, artifact_file="models.json")
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    if error:
        tags["selection_error"] = error
    if selection is not None:
        rows = pd.DataFrame(selection.rows())
        if not rows.empty:
            mlflow_client.log_table(parent_run_id, data=rows, artifact_file="recommendations.json")
            placed = {name: rec.compared for name, rec in selection.recommendations.items()}
            if placed:
                references = {row.dataset: row.compared() for row in selection.reference.rows if row.placed}
                figure = report.selection_figure(references, placed,
                                                 {name: rec.nearest for name, rec in selection.recommendations.items()})
                mlflow_client.log_figure(parent_run_id, figure, "selection.png")
        reference_file = Location(reference_path)  # local or on the object store that holds the data
        mlflow_client.log_text(parent_run_id, reference_file.read_text(), f"reference/{reference_file.name}")
        tags["reference_key"] = selection.reference.key
        metrics.update({f"selection_score.{name}": score for name, score in selection.scores.items()})
        supports = {name: rec.support for name, rec in selection.recommendations.items() if rec.support is not None}
        metrics.update({f"selection_support.{name}": support for name, support in supports.items()})
        if supports:
            metrics["selection_support.min"] = min(supports.values())
        if selection.scores:
            metrics["selection_score.mean"] = sum(selection.scores.values()) / len(selection.scores)
            metrics["selection_score.min"] = min(selection.scores.values())
        comparison = selection.comparison()
        if comparison is not None:
            metrics.update({f"selection.{key}": value for key, value in asdict(comparison).items()})
            tags["selection.pid_free_families"] = ", ".join(selection.pid_free)
            mlflow_client.log_table(parent_run_id, artifact_file="selection.json", data=pd.DataFrame(
                [{"dataset": name, **asdict(baseline)} for name, baseline in sorted(selection.baselines.items())]))
    if analysis is not None and not analysis.agreement.empty:
        mlflow_client.log_table(parent_run_id, data=analysis.agreement, artifact_file="analysis/agreement.json")
        mlflow_client.log_table(parent_run_id, data=analysis.ablation, artifact_file="analysis/ablation.json")
        for name, corr in (("agreement_vs_relative_accuracy", analysis.agreement_vs_relative_accuracy),
                           ("agreement_vs_accuracy", analysis.agreement_vs_accuracy),
                           ("unique_vs_accuracy_drop", analysis.unique_vs_accuracy_drop)):
            metrics.update({f"analysis.{name}.{kind}": getattr(corr, kind) for kind in ("pearson", "spearman")
                            if math.isfinite(getattr(corr, kind))})
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "analysis.txt").write_text(analysis.summary() + "\n")
            analysis.figure().savefig(Path(folder) / "analysis.png", dpi=110)
            for path in sorted(Path(folder).iterdir()):
                mlflow_client.log_artifact(parent_run_id, str(path), artifact_path="analysis")
    mlflow_client.log_batch(parent_run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()],
                            tags=[RunTag(k, v) for k, v in _tags(tags).items()])
