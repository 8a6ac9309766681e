"""A password given in the tracking URI is used and found nowhere after a run: not on the console, not in Prefect's
database or logs, not in the MLflow store, not in the results or data folders."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flows.preflight import PreflightError, move_credentials_to_environment, with_credentials

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
    with pytest.raises(PreflightError, match="set MLFLOW_TRACKING_URI") as refused:
        with_credentials(masked)
    assert "other" not in str(refused.value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real MLflow server (it accepts any basic-authentication header) storing under ``tmp_path``; yields its
    port."""
    root = tmp_path / "server"
    root.mkdir()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "art")],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("the MLflow server did not start")
            time.sleep(0.5)
    yield port
    server.terminate()
    server.wait(timeout=30)


def _files_holding(folder: Path, secret: bytes) -> list[str]:
    return [str(path) for path in folder.rglob("*") if path.is_file() and secret in path.read_bytes()]


def test_a_planted_password_is_found_nowhere_after_a_run(mlflow_server, tmp_path):
    port = mlflow_server
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_LOGGING_LEVEL="DEBUG")
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
