"""No run is left RUNNING: an interrupted or crashed flow ends its MLflow runs, and a run left open by a process
that no longer exists is ended by the next run on the same host."""

from __future__ import annotations

import subprocess
import sys

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

    assert tracking.kill_orphaned_runs(uri, experiment) == ["killed -9"]
    status = {run.info.run_name: run.info.status for run in client.search_runs([experiment])}
    assert status == {"killed -9": "KILLED", "still running": "RUNNING", "other host": "RUNNING",
                      "no owner": "RUNNING"}


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
    from flows import _pipeline
    from flows.params import QuantifyParams
    from flows.quantify import quantify_datasets

    from .conftest import CATALOG, tiny_params

    class Interrupted:
        def with_options(self, **_):
            def raise_(*args, **kwargs):
                raise interrupt("stopped by the test")
            return raise_

    monkeypatch.setattr(_pipeline, "fan_out", Interrupted())
    monkeypatch.setattr(_pipeline, "task_runner", lambda compute: None)
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    params = tiny_params(tmp_path)
    with pytest.raises(interrupt):
        quantify_datasets(QuantifyParams(**{k: getattr(params, k) for k in QuantifyParams.model_fields}))
    client = MlflowClient(params.tracking.tracking_uri)
    (run,) = client.search_runs([tracking.experiment_id(params.tracking.tracking_uri, "pidengine-quantify")])
    assert run.info.status == ("KILLED" if interrupt is KeyboardInterrupt else "FAILED")
    assert run.data.tags["host"] and run.data.tags["pid"].isdigit()
