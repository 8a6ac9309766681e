"""One Prefect test harness and one pipeline run per session, shared by the flow tests.

Starting Prefect's API server takes ~20 s here and each flow run starts a Dask cluster, so the flows run once
(session fixture) on a three-entry catalog (two tiny synthetic datasets and one broken entry) and the tests read
what they logged.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CATALOG = """
datasets:
  xor:
    source: {kind: gate, gate: xor, n_samples: 600, seed: 1}
  latent:
    source: {kind: latent_concept, n_redundant: 1, n_unique1: 1, n_unique2: 0, n_synergy: 1, dim1: 8, dim2: 6,
             n_samples: 900, seed: 3}
    featurize: {n_clusters: 6, n_components: 3}
  broken:
    source: {kind: npz, path: missing.npz}
"""


@dataclass
class PipelineRun:
    root: Path
    params: object
    state: object
    summary: object


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    import flows  # noqa: F401  (Prefect startup settings before Prefect is imported)

    with prefect_test_harness(server_startup_timeout=180):
        yield


TINY_FAMILIES = ["late_fusion", "elementwise"]


def tiny_params(root: Path, **overrides):
    """Benchmark parameters sized for a test: few bootstrap resamples, a tiny BATCH, three-fold cross-fitting and two
    small model families,
    with ``xor`` as the only reference dataset so ``latent`` gets a recommendation and a selection score."""
    from flows.params import BenchmarkParams, ComputeParams, DataParams, ModelParams, TrackingParams
    from pidengine.models.settings import TrainSettings
    from pidengine.quantify import BatchSettings, CrossFitSettings, EstimatorSettings, ExactSettings

    fields = dict(
        data=DataParams(catalog=root / "catalog.yaml", data_dir=root / "data"),
        estimators=["exact", "batch", "crossfit"],  # crossfit is opt-in: run it here so its tracking is tested
        settings=EstimatorSettings(
            exact=ExactSettings(n_bootstrap=10),
            batch=BatchSettings(hidden_dim=8, embed_dim=4, max_epochs=2, align_max_epochs=1, batch_size=64,
                                max_train_samples=300, max_eval_samples=200, device="cpu"),
            crossfit=CrossFitSettings(n_folds=3, n_bootstrap=20),
        ),
        compute=ComputeParams(n_workers=2),
        tracking=TrackingParams(tracking_uri=f"sqlite:///{root / 'mlflow.db'}"),
        results_dir=root / "results",
        models=ModelParams(families=TINY_FAMILIES,
                           train=TrainSettings(hidden=16, max_epochs=25, patience=4, batch_size=128,
                                               learning_rate=5e-3),
                           reference=["xor"], top_k=1),
    )
    fields.update(overrides)
    return BenchmarkParams(**fields)


@pytest.fixture(scope="session")
def pipeline_run(prefect_harness, tmp_path_factory) -> PipelineRun:
    """The benchmark flow on the tiny catalog: a LocalCluster with two worker processes, MLflow in SQLite."""
    from flows.benchmark import benchmark

    root = tmp_path_factory.mktemp("pipeline")
    (root / "catalog.yaml").write_text(CATALOG)
    params = tiny_params(root)
    state = benchmark(params, return_state=True)
    return PipelineRun(root, params, state, state.result(raise_on_failure=False))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """A real ``mlflow server`` on 127.0.0.1 storing under ``root`` (it accepts any basic-authentication header),
    which a test can stop and start again on the same port and store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        # Without its job runner (7 more processes) the server answers in ~10 s here instead of ~23 s.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers",
             "1", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}", "--artifacts-destination",
             str(self.root / "art")],
            cwd=self.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    pytest.fail("the MLflow server did not start")
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def mlflow_server(tmp_path):
    """A running :class:`MlflowServer` storing under ``tmp_path/server``."""
    root = tmp_path / "server"
    root.mkdir()
    server = MlflowServer(root)
    server.start()
    yield server
    server.stop()
