"""The pipeline with its stores and result cache on a real S3 endpoint (moto's server on 127.0.0.1): two worker
processes, each in a private working folder of its own, and the flow host read and write only the bucket, never a
local copy of the data."""

from __future__ import annotations

import os

import pytest

from tests.flows.conftest import tiny_params

CATALOG = """
datasets:
  xor:
    source: {kind: gate, gate: xor, n_samples: 600, seed: 1}
  and:
    source: {kind: gate, gate: and, n_samples: 600, seed: 2}
"""


@pytest.fixture
def on_s3(prefect_harness, s3_server, tmp_path, monkeypatch):
    """The benchmark flow (exact and BATCH, no models) with ``data_dir`` and ``results_dir`` in the bucket, started
    from an empty working directory on a cluster of two worker processes, each working in an empty folder of its
    own; returns the parameters, the two runs' summaries, the flow host's folder, the workers' folders and the
    workers that ran the first run's tasks."""
    from distributed import Client, LocalCluster, get_task_stream

    from flows.benchmark import benchmark
    from flows.params import ComputeParams, DataParams, ModelParams

    (tmp_path / "catalog.yaml").write_text(CATALOG)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    root = f"s3://pidengine/{os.urandom(4).hex()}"
    with (LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp",
                       dashboard_address=None) as cluster, Client(cluster) as client):
        private = {}
        for number, worker in enumerate(sorted(client.scheduler_info()["workers"])):
            private[worker] = tmp_path / f"worker-{number}"
            private[worker].mkdir()
            client.run(os.chdir, str(private[worker]), workers=[worker])
        params = tiny_params(tmp_path, data=DataParams(catalog=tmp_path / "catalog.yaml", data_dir=f"{root}/data"),
                             estimators=["exact", "batch"], results_dir=f"{root}/results",
                             models=ModelParams(families=[]),
                             compute=ComputeParams(dask_address=cluster.scheduler_address))
        with get_task_stream(client) as stream:
            first = benchmark(params, return_state=True).result(raise_on_failure=False)
        second = benchmark(params, return_state=True).result(raise_on_failure=False)
    ran_on = {task["worker"] for task in stream.data}
    return params, first, second, work, private, ran_on


def test_stores_and_results_live_in_the_bucket_only(on_s3):
    from mlflow.tracking import MlflowClient

    from pidengine.io.location import Location
    from pidengine.io.store import DatasetStore

    params, first, second, work, private, ran_on = on_s3
    assert sorted((r.dataset, r.estimator, r.status, r.cached) for r in first.records) == [
        ("and", "batch", "ok", False), ("and", "exact", "ok", False),
        ("xor", "batch", "ok", False), ("xor", "exact", "ok", False)]
    # Both workers ran tasks, each in its own folder: what one wrote, the other read from the bucket.
    assert ran_on == set(private)
    # The second run reads every estimate back from the signed cache in the bucket.
    assert [(r.status, r.cached) for r in second.records] == [("ok", True)] * 4
    assert [r.values["synergy"] for r in second.records] == [r.values["synergy"] for r in first.records]
    store = DatasetStore(params.data.data_dir, "xor")
    assert store.current("raw").url.startswith("s3://pidengine/") and store.exists("codes")
    assert len(Location(params.results_dir).children()) == 4  # one signed result per estimate
    # Nothing written where the flow ran or where the workers work: no data/, no s3:/ folder.
    assert [list(folder.iterdir()) for folder in (work, *private.values())] == [[], [], []]
    client = MlflowClient(tracking_uri=params.tracking.tracking_uri)
    (exact,) = [r for r in first.records if (r.dataset, r.estimator) == ("xor", "exact")]
    run = client.get_run(exact.run_id)
    assert run.data.tags["input_store"] == store.current("codes").url
    # Credentials come from the environment and are never logged.
    logged = [*run.data.params.values(), *run.data.tags.values(),
              *client.get_run(first.parent_run_id).data.params.values()]
    assert not [value for value in logged if os.environ["AWS_SECRET_ACCESS_KEY"] in value]
