"""The pipeline with its stores and result cache on a real S3 endpoint (moto's server on 127.0.0.1): the worker
processes and the flow host read and write only the bucket, never a local copy of the data."""

from __future__ import annotations

import os

import pytest

from tests.flows.conftest import tiny_params

CATALOG = """
datasets:
  xor:
    source: {kind: gate, gate: xor, n_samples: 600, seed: 1}
"""


@pytest.fixture
def on_s3(prefect_harness, s3_server, tmp_path, monkeypatch):
    """The benchmark flow (exact and BATCH, no models) with ``data_dir`` and ``results_dir`` in the bucket, started
    from an empty working directory; returns the parameters and the two runs' summaries."""
    from flows.benchmark import benchmark
    from flows.params import DataParams, ModelParams

    (tmp_path / "catalog.yaml").write_text(CATALOG)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    root = f"s3://pidengine/{os.urandom(4).hex()}"
    params = tiny_params(tmp_path, data=DataParams(catalog=tmp_path / "catalog.yaml", data_dir=f"{root}/data"),
                         estimators=["exact", "batch"], results_dir=f"{root}/results",
                         models=ModelParams(families=[]))
    first = benchmark(params, return_state=True).result(raise_on_failure=False)
    second = benchmark(params, return_state=True).result(raise_on_failure=False)
    return params, first, second, work


def test_stores_and_results_live_in_the_bucket_only(on_s3):
    from mlflow.tracking import MlflowClient

    from pidengine.io.location import Location
    from pidengine.io.store import DatasetStore

    params, first, second, work = on_s3
    assert [(r.dataset, r.estimator, r.status, r.cached) for r in first.records] == [
        ("xor", "exact", "ok", False), ("xor", "batch", "ok", False)]
    # The second run reads both estimates back from the signed cache in the bucket.
    assert [(r.status, r.cached) for r in second.records] == [("ok", True), ("ok", True)]
    assert [r.values["synergy"] for r in second.records] == [r.values["synergy"] for r in first.records]
    store = DatasetStore(params.data.data_dir, "xor")
    assert store.current("raw").url.startswith("s3://pidengine/") and store.exists("codes")
    assert len(Location(params.results_dir).children()) == 2  # one signed result per estimate
    assert list(work.iterdir()) == []  # nothing written where the flow ran: no data/, no s3:/ folder
    client = MlflowClient(tracking_uri=params.tracking.tracking_uri)
    run = client.get_run(first.records[0].run_id)
    assert run.data.tags["input_store"] == store.current("codes").url
    # Credentials come from the environment and are never logged.
    logged = [*run.data.params.values(), *run.data.tags.values(),
              *client.get_run(first.parent_run_id).data.params.values()]
    assert not [value for value in logged if os.environ["AWS_SECRET_ACCESS_KEY"] in value]
