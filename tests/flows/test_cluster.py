"""A run on an existing Dask cluster fails loud, never waits in silence: a scheduler without workers, at the start or
after the workers are lost, fails the run after ``--no-workers-timeout`` seconds with one line naming the scheduler
and the fix. Real schedulers and workers (``distributed.LocalCluster`` in this process), no fakes."""

from __future__ import annotations

import time

import pytest
from distributed import LocalCluster
from mlflow import MlflowClient

from .conftest import tiny_params

CATALOG = "datasets:\n  xor:\n    source: {kind: gate, gate: xor, n_samples: 400, seed: 1}\n"


def _cluster(n_workers: int) -> LocalCluster:
    """Scheduler and workers in this process (the patched library function below runs on the worker), on TCP as a
    remote cluster is. No dashboard: a scheduler serving one in this process makes every later one serve it too."""
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False, protocol="tcp",
                        host="127.0.0.1", dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False})


def test_a_scheduler_without_workers_fails_the_run_after_the_timeout_in_one_line(prefect_harness, tmp_path, capsys):
    from cli.main import main

    (tmp_path / "catalog.yaml").write_text(CATALOG)
    with _cluster(n_workers=0) as cluster:
        address = cluster.scheduler_address
        start = time.perf_counter()
        code = main(["run", "--catalog", str(tmp_path / "catalog.yaml"), "--data-dir", str(tmp_path / "data"),
                     "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--dask-address", address,
                     "--no-workers-timeout", "2"])
        elapsed = time.perf_counter() - start
    assert code == 2
    assert 2 <= elapsed < 20
    err = capsys.readouterr().err.splitlines()
    assert f"pidengine: the Dask scheduler at {address} has no workers; waiting up to 2 s for one" in err
    assert err[-1] == (f"pidengine: error: no Dask workers at {address} for 2 s: start `dask worker {address}` or drop "
                       "--dask-address")
    assert not (tmp_path / "data").exists()  # before any work


def test_a_worker_that_joins_while_the_run_waits_is_used(tmp_path):
    from flows.preflight import check_dask_address

    with _cluster(n_workers=0) as cluster:
        waiting = []

        def start_a_worker(line: str) -> None:
            waiting.append(line)
            cluster.scale(1)

        assert check_dask_address(cluster.scheduler_address, wait_for_workers=60, notify=start_a_worker) == 1
    assert len(waiting) == 1


def test_workers_lost_mid_run_fail_the_run_after_the_timeout(prefect_harness, tmp_path, monkeypatch):
    from flows._runtime import NoWorkers
    from flows.benchmark import benchmark
    from flows.params import ComputeParams, ModelParams
    from flows.preflight import no_workers_message
    from pidengine import stages
    from pidengine.quantify import EstimatorSettings, ExactSettings
    from tasks import tracking

    (tmp_path / "catalog.yaml").write_text(CATALOG)
    with _cluster(n_workers=1) as cluster:
        address = cluster.scheduler_address
        lost = []
        ingest = stages.ingest

        def lose_every_worker(*args, **kwargs):  # runs on the worker, in its task's thread
            if not lost:
                cluster.scale(0)
                lost.append(time.perf_counter())
            return ingest(*args, **kwargs)

        monkeypatch.setattr(stages, "ingest", lose_every_worker)
        params = tiny_params(tmp_path, estimators=["exact"], models=ModelParams(families=[]),
                             settings=EstimatorSettings(exact=ExactSettings(n_bootstrap=0)),
                             compute=ComputeParams(dask_address=address, no_workers_timeout=3))
        with pytest.raises(NoWorkers) as raised:
            benchmark(params)
        failed_after = time.perf_counter() - lost[0]
    assert str(raised.value) == no_workers_message(address, 3)
    assert str(raised.value) == (f"no Dask workers at {address} for 3 s: start `dask worker {address}` or drop "
                                 "--dask-address")
    assert 3 <= failed_after < 30  # instead of waiting for a worker forever
    uri = params.tracking.tracking_uri
    (parent,) = MlflowClient(uri).search_runs([tracking.experiment_id(uri, "pidengine-benchmark")])
    assert parent.info.status == "FAILED"


def test_a_local_cluster_whose_workers_died_is_named_as_such():
    from distributed import Client

    from flows._runtime import NoWorkers, WorkerWatch

    class Lines:
        def __init__(self) -> None:
            self.said: list[str] = []

        def warning(self, message: str, *args: object) -> None:
            self.said.append(message % args)

    logger = Lines()
    with _cluster(n_workers=0) as cluster, Client(cluster, set_as_default=False) as client:
        watch = WorkerWatch(client, timeout=1, remote=False, logger=logger, poll_seconds=0.1)
        with pytest.raises(NoWorkers) as raised:
            while True:
                watch.check()
                time.sleep(0.05)
    assert str(raised.value) == (f"no Dask workers in the local cluster at {cluster.scheduler_address} for 1 s: its "
                                 "worker processes died and were not restarted (out of memory? see the log above)")
    assert logger.said == [f"no Dask workers at {cluster.scheduler_address}: the run fails unless one joins within "
                           "1 s"]  # said once, at once


REFUSAL = ("--dask-address tcp://127.0.0.1:9 needs a Prefect API server its workers reach: set PREFECT_API_URL to one "
           "(`prefect server start --host 0.0.0.0`, then PREFECT_API_URL=http://HOST:4200/api here and on the workers)")


def test_a_remote_cluster_without_a_prefect_server_is_refused_before_any_work(tmp_path):
    """Prefect's temporary server would be this process's alone; workers keep the first API they were told."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "catalog.yaml").write_text(CATALOG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")  # no profile that sets PREFECT_API_URL
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # this checkout's code, wherever it is installed from
    run = subprocess.run(
        [str(Path(sys.executable).parent / "pidengine"), "run", "--catalog", str(tmp_path / "catalog.yaml"),
         "--data-dir", str(tmp_path / "data"), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--dask-address", "tcp://127.0.0.1:9"],  # nothing listens there: the refusal comes first
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == f"pidengine: error: {REFUSAL}"
    assert not (tmp_path / "data").exists() and not (tmp_path / "prefect" / "prefect.db").exists()


def test_a_flow_run_refuses_it_too(tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows._plan import prepare
    from flows.params import ComputeParams, DataParams, TrackingParams
    from flows.preflight import PreflightError

    (tmp_path / "catalog.yaml").write_text(CATALOG)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(PreflightError) as refused:
        prepare(DataParams(catalog=tmp_path / "catalog.yaml"),
                TrackingParams(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"),
                ComputeParams(dask_address="tcp://127.0.0.1:9"))
    assert str(refused.value) == REFUSAL
