"""A password given in the tracking URI is used and found nowhere after a run: not on the console, not in Prefect's
database or logs, not in the MLflow store, not in the results or data folders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from flows.preflight import move_credentials_to_environment, with_credentials
from pidengine.exceptions import ConfigError

PLANTED = "Planted-pw-7f3a"
CATALOG = "datasets:\n  xor:\n    source: {kind: gate, gate: xor, n_samples: 400, seed: 1}\n"


def test_a_database_password_travels_in_the_environment_not_in_parameters(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    full = f"postgresql://alice:{PLANTED}@db.example:5432/runs"
    masked = move_credentials_to_environment(full)
    assert masked == "postgresql://alice:***@db.example:5432/runs"
    assert os.environ["MLFLOW_TRACKING_URI"] == full
    assert with_credentials(masked) == full  # where the flow runs, from the environment
    assert with_credentials("sqlite:///mlflow.db") == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://alice:other@elsewhere:5432/runs")
    with pytest.raises(ConfigError, match="set MLFLOW_TRACKING_URI") as refused:
        with_credentials(masked)
    assert "other" not in str(refused.value)


def _files_holding(folder: Path, secret: bytes) -> list[str]:
    return [str(path) for path in folder.rglob("*") if path.is_file() and secret in path.read_bytes()]


def test_a_planted_password_is_found_nowhere_after_a_run(mlflow_server, tmp_path):
    port = mlflow_server.port
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_LOGGING_LEVEL="DEBUG",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))  # this checkout's code, wherever it is installed
    run = subprocess.run(
        [str(Path(sys.executable).parent / "pidengine"), "run", "--catalog", str(tmp_path / "catalog.yaml"),
         "--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results"), "--no-models",
         "--estimators", "exact", "--bootstrap", "0", "--workers", "1",
         "--tracking-uri", f"http://alice:{PLANTED}@127.0.0.1:{port}"],
        cwd=tmp_path, env=env, capture_output=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert b"alice:***@" in run.stdout + run.stderr or b"127.0.0.1" in run.stdout  # the URI is shown, masked
    secret = PLANTED.encode()
    assert secret not in run.stdout and secret not in run.stderr
    assert (tmp_path / "prefect").is_dir()  # Prefect's database and logs live here
    assert _files_holding(tmp_path, secret) == []  # Prefect's home, results, data and the MLflow server's store
    from mlflow import MlflowClient

    server = MlflowClient(f"http://127.0.0.1:{port}")
    runs = server.search_runs([e.experiment_id for e in server.search_experiments()])
    assert len(runs) >= 2  # the parent and the xor/exact run reached the server


@pytest.fixture
def database_store(tmp_path, monkeypatch):
    """A ``postgresql://alice:<password>@127.0.0.1:PORT/runs`` tracking URI that works without a database server:
    MLflow's tracking-store registry (the plugin mechanism) maps the scheme to an SQLite store here, and the port is
    a real listener, for the preflight's connection check. Yields the URI and the URIs MLflow's client was made
    with."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking._tracking_service import utils

    store = SqlAlchemyStore(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri())
    made_with: list[str] = []

    def build(store_uri, artifact_uri=None):
        made_with.append(store_uri)
        return store

    monkeypatch.setitem(utils._tracking_store_registry._registry, "postgresql", build)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # restored after the test: the URI with its password goes here
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"postgresql://alice:{PLANTED}@127.0.0.1:{listener.getsockname()[1]}/runs", made_with


def test_a_database_password_reaches_no_prefect_record_and_no_mlflow_run(prefect_harness, database_store, tmp_path):
    from mlflow import MlflowClient
    from prefect.client.orchestration import get_client

    from flows.benchmark import benchmark
    from flows.params import ComputeParams, ModelParams, TrackingParams
    from pidengine.quantify import EstimatorSettings, ExactSettings

    from .conftest import tiny_params

    full, made_with = database_store
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    masked = move_credentials_to_environment(full)  # as `pidengine run --tracking-uri` does
    params = tiny_params(tmp_path, estimators=["exact"], models=ModelParams(families=[]),
                         settings=EstimatorSettings(exact=ExactSettings(n_bootstrap=0)),
                         compute=ComputeParams(n_workers=1), tracking=TrackingParams(tracking_uri=masked))
    state = benchmark(params, return_state=True)
    assert state.is_completed(), state.message
    parent_id = state.result().parent_run_id

    assert made_with and all(uri == full for uri in made_with)  # credentials restored where a client is made
    with get_client(sync_client=True) as prefect:
        flow_runs = prefect.read_flow_runs()
        recorded = [json.dumps(run.parameters, default=str) for run in flow_runs]
        recorded += [run.state.message or "" for run in flow_runs if run.state]
        task_runs = prefect.read_task_runs()
        recorded += [run.name + json.dumps(run.task_inputs, default=str) for run in task_runs]
        recorded += [log.message for log in prefect.read_logs()]
    assert sum("alice:***@" in text for text in recorded) >= 2  # the run's and the fan-out's parameters, masked
    assert [text for text in recorded if PLANTED in text] == []
    mlflow_runs = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_runs(
        [e.experiment_id for e in MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()])
    assert {run.info.run_id for run in mlflow_runs} >= {parent_id}
    assert len(mlflow_runs) == 2  # the parent and xor/exact
    for run in mlflow_runs:
        assert PLANTED not in json.dumps([run.data.params, run.data.tags])
