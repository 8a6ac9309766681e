"""No run is left RUNNING: an interrupted or crashed flow ends its MLflow runs, a run left open by a process that
no longer exists is ended by the next run on the same host, and a tracking server that stops answering fails the run
in seconds, its runs ended FAILED by the next run once it answers again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from mlflow import MlflowClient

from tasks import tracking


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, MlflowClient(uri), tracking.experiment_id(uri, "endings")


def _dead_pid() -> str:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return str(child.pid)


def test_runs_of_a_vanished_process_on_this_host_are_ended_as_killed(store):
    uri, client, experiment = store
    mine = tracking.owner_tags()
    client.create_run(experiment, run_name="killed -9", tags={**mine, "pid": _dead_pid()})
    client.create_run(experiment, run_name="still running", tags=mine)
    client.create_run(experiment, run_name="other host", tags={"host": "elsewhere", "pid": _dead_pid()})
    client.create_run(experiment, run_name="no owner", tags={"host": mine["host"]})
    client.create_run(experiment, run_name="quoted host", tags={"host": "it's", "pid": _dead_pid()})

    assert tracking.kill_orphaned_runs(uri, experiment) == ["killed -9"]
    status = {run.info.run_name: run.info.status for run in client.search_runs([experiment])}
    assert status == {"killed -9": "KILLED", "still running": "RUNNING", "other host": "RUNNING",
                      "no owner": "RUNNING", "quoted host": "RUNNING"}


def test_an_interrupted_flow_ends_its_parent_and_open_children(store):
    uri, client, experiment = store
    parent = client.create_run(experiment, run_name="parent").info.run_id
    open_child = client.create_run(experiment, tags={"mlflow.parentRunId": parent}).info.run_id
    done_child = client.create_run(experiment, tags={"mlflow.parentRunId": parent}).info.run_id
    client.set_terminated(done_child, "FINISHED")

    assert tracking.end_open_runs(uri, parent, "KILLED") == 2
    assert client.get_run(parent).info.status == "KILLED"
    assert client.get_run(open_child).info.status == "KILLED"
    assert client.get_run(done_child).info.status == "FINISHED"


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, RuntimeError])
def test_the_pipeline_ends_its_runs_when_the_fan_out_is_interrupted(prefect_harness, tmp_path, monkeypatch,
                                                                   interrupt):
    from flows import _runtime
    from flows.params import QuantifyParams
    from flows.quantify import quantify_datasets

    from .conftest import CATALOG, tiny_params

    class Interrupted:
        def with_options(self, **_):
            def raise_(*args, **kwargs):
                raise interrupt("stopped by the test")
            return raise_

    monkeypatch.setattr(_runtime, "fan_out", Interrupted())
    monkeypatch.setattr(_runtime, "task_runner", lambda compute: None)
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    params = tiny_params(tmp_path)
    with pytest.raises(interrupt):
        quantify_datasets(QuantifyParams(**{k: getattr(params, k) for k in QuantifyParams.model_fields}))
    client = MlflowClient(params.tracking.tracking_uri)
    (run,) = client.search_runs([tracking.experiment_id(params.tracking.tracking_uri, "pidengine-quantify")])
    assert run.info.status == ("KILLED" if interrupt is KeyboardInterrupt else "FAILED")
    assert run.data.tags["host"] and run.data.tags["pid"].isdigit()


def _sleeper(**kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], **kwargs)


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_the_watcher_stops_the_server_when_its_parent_is_killed_and_only_then():
    parent, server = _sleeper(), _sleeper()
    watcher = subprocess.Popen([sys.executable, "-m", "flows._server_watch", str(parent.pid), str(server.pid)])
    try:
        time.sleep(1.5)
        assert server.poll() is None and watcher.poll() is None  # the parent lives: nothing is stopped
        parent.kill()
        parent.wait()
        assert server.wait(timeout=10) == -signal.SIGTERM
        assert watcher.wait(timeout=10) == 0
    finally:
        for process in (parent, server, watcher):
            process.kill()


def test_the_watcher_ends_with_the_server_and_leaves_the_parent_alone():
    parent, server = _sleeper(), _sleeper()
    watcher = subprocess.Popen([sys.executable, "-m", "flows._server_watch", str(parent.pid), str(server.pid)])
    try:
        server.kill()
        server.wait()
        assert watcher.wait(timeout=10) == 0
        assert parent.poll() is None
    finally:
        for process in (parent, server, watcher):
            process.kill()


def test_prefects_temporary_server_does_not_outlive_a_process_killed_with_minus_9(tmp_path):
    """The real thing: a process starts Prefect's temporary server as ``pidengine run`` does, then gets kill -9."""
    script = textwrap.dedent("""
        from flows._server_watch import stop_temporary_server_with_this_process
        import time
        print(stop_temporary_server_with_this_process(), flush=True)
        time.sleep(300)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        server_pid = int(parent.stdout.readline())
        assert "uvicorn" in " ".join(psutil.Process(server_pid).cmdline())
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _gone_within(server_pid, 15)
    finally:
        parent.kill()


def test_an_unreachable_tracking_server_fails_a_call_in_seconds_with_one_line():
    from .conftest import free_port

    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens: every connection is refused
    start = time.perf_counter()
    with pytest.raises(tracking.TrackingUnavailable) as raised:
        tracking.experiment_id(uri, "anything")
    elapsed = time.perf_counter() - start
    assert elapsed < 15  # MLflow's own retries: 247 s here
    message = str(raised.value)
    assert message == (f"the MLflow tracking server {uri} does not answer (Connection refused); start it again (or "
                       "use another --tracking-uri) and rerun: the next run ends this run's MLflow runs as FAILED")
    assert raised.value.__cause__ is None and raised.value.__context__ is None  # no MLflow/urllib3 traceback
    assert not set(tracking.HTTP_SETTINGS) & set(os.environ)  # set for the pipeline's call only


def test_the_users_own_mlflow_http_settings_win(monkeypatch):
    from mlflow.utils import rest_utils

    from .conftest import free_port

    used = []
    original = rest_utils._get_http_response_with_retries

    def spy(method, url, max_retries, backoff_factor, *args, **kwargs):
        used.append((max_retries, backoff_factor, kwargs["timeout"]))
        return original(method, url, max_retries, backoff_factor, *args, **kwargs)

    monkeypatch.setattr(rest_utils, "_get_http_response_with_retries", spy)
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(tracking.TrackingUnavailable):
        tracking.experiment_id(uri, "anything")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    with pytest.raises(tracking.TrackingUnavailable, match=r"\(Connection refused\)"):
        tracking.experiment_id(uri, "anything")
    assert used == [(2, 1, 8), (0, 1, 3)]
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"  # left as the user set it


def test_a_tracking_server_that_never_answers_fails_after_the_timeout(monkeypatch):
    import socket

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")  # the user's values, which win: one try of 1 s
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        start = time.perf_counter()
        with pytest.raises(tracking.TrackingUnavailable, match=r"does not answer \(waited 1 s per try\)"):
            tracking.experiment_id(f"http://127.0.0.1:{silent.getsockname()[1]}", "anything")
    assert time.perf_counter() - start < 10


def test_a_tracking_server_lost_mid_run_fails_the_run_fast_and_the_next_run_ends_its_runs_failed(
        prefect_harness, mlflow_server, tmp_path, monkeypatch, capsys):
    from cli.main import main
    from flows.params import ComputeParams, DataParams, RefreshParams, TrackingParams
    from flows.refresh import catalog_refresh

    (tmp_path / "catalog.yaml").write_text("datasets:\n  xor:\n    source: {kind: gate, gate: xor, n_samples: 400}\n")
    stopped = []
    original = tracking.pid_metrics

    def stop_the_server_first(record):  # called after the child run is created, before anything is logged to it
        if not stopped:
            mlflow_server.stop()
            stopped.append(time.perf_counter())
        return original(record)

    monkeypatch.setattr(tracking, "pid_metrics", stop_the_server_first)
    code = main(["run", "--catalog", str(tmp_path / "catalog.yaml"), "--data-dir", str(tmp_path / "data"),
                 "--results-dir", str(tmp_path / "results"), "--no-models", "--estimators", "exact", "--bootstrap",
                 "0", "--workers", "1", "--tracking-uri", mlflow_server.uri])
    failed_after = time.perf_counter() - stopped[0]
    assert code == 2
    assert failed_after < 30  # MLflow's own retries: ~4 minutes, then as long again to end the runs
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pidengine: error:")]
    assert errors == [f"pidengine: error: the MLflow tracking server {mlflow_server.uri} does not answer (Connection "
                      "refused); start it again (or use another --tracking-uri) and rerun: the next run ends this "
                      "run's MLflow runs as FAILED"]

    mlflow_server.start()  # the server comes back with the runs the outage left open
    client = MlflowClient(mlflow_server.uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "pidengine-benchmark"]
    left = {run.info.run_name: run.info.status for run in client.search_runs([experiment.experiment_id])}
    assert sorted(left.values()) == ["RUNNING", "RUNNING"]  # the parent and xor/exact
    assert len(list(tracking.open_runs_folder().glob("*.json"))) == 1
    data = DataParams(catalog=tmp_path / "catalog.yaml", data_dir=tmp_path / "data")
    state = catalog_refresh(RefreshParams(data=data, compute=ComputeParams(n_workers=1),
                                          tracking=TrackingParams(tracking_uri=mlflow_server.uri)), return_state=True)
    assert state.is_completed()  # the next run, of another flow and experiment
    ended = {run.info.run_name: run.info.status for run in client.search_runs([experiment.experiment_id])}
    assert ended == dict.fromkeys(left, "FAILED")
    assert list(tracking.open_runs_folder().glob("*.json")) == []
