"""The tasks' own policies, called as plain functions (``.fn``): a failing family does not stop the others, a
failed data stage is named, and a retry is only for transient errors."""

from __future__ import annotations

import logging
import os
import pickle
import warnings

import pytest

from pidengine.catalog import load_catalog
from pidengine.exceptions import ConfigError
from pidengine.models.settings import TrainSettings
from pidengine.quantify import ExactSettings
from tasks._cache import load_or_compute
from tasks._retry import is_transient
from tasks.data import StageFailed, build_dataset
from tasks.models import train_models

CATALOG = """
datasets:
  xor:
    source: {kind: gate, gate: xor, n_samples: 400, seed: 1}
"""


@pytest.fixture()
def catalog(tmp_path):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    return load_catalog(tmp_path / "catalog.yaml")


def test_a_failing_family_leaves_the_others(tmp_path, catalog):
    entry = catalog.entries["xor"]
    reports = build_dataset.fn(entry, tmp_path / "data", tmp_path, ["ingest", "featurize"])
    assert [r.stage for r in reports] == ["raw", "codes"] and all(r.written for r in reports)
    outcomes, cached = train_models.fn(entry, tmp_path / "data", ["late_fusion", "no_such_family"],
                                       TrainSettings(hidden=8, max_epochs=3, batch_size=64),
                                       ExactSettings(n_bootstrap=10, n_permutations=0), tmp_path / "results")
    assert not cached
    assert outcomes["late_fusion"].family == "late_fusion" and outcomes["late_fusion"].test_accuracy > 0
    assert outcomes["late_fusion"].pid["n_resamples"] == 10  # measured as the datasets are, with these settings
    assert outcomes["no_such_family"].startswith("ConfigError: unknown model family 'no_such_family'")


def test_a_failed_stage_is_named(tmp_path, catalog):
    with pytest.raises(StageFailed) as raised:
        build_dataset.fn(catalog.entries["xor"], tmp_path / "data", tmp_path, ["featurize"])  # nothing ingested
    assert raised.value.stage == "featurize" and str(raised.value).startswith("StoreError: ")
    assert pickle.loads(pickle.dumps(raised.value)).stage == "featurize"  # it travels back from a Dask worker
    assert not is_transient(raised.value)


def test_transient_is_judged_by_the_cause():
    assert is_transient(OSError("disk")) and not is_transient(ConfigError("bad"))
    for cause, expected in ((OSError("disk"), True), (ConfigError("bad"), False)):
        try:
            raise StageFailed("ingest", str(cause)) from cause
        except StageFailed as exc:
            assert is_transient(exc) is expected


def test_a_result_failing_its_check_is_logged_and_recomputed(tmp_path, caplog):
    calls = []

    def compute():
        calls.append(1)
        return {"synergy": 1.0}

    first = load_or_compute(tmp_path, "pid-x", True, compute, dict, dict)
    path = tmp_path / "pid-x.json"
    path.write_text(path.read_text().replace("1.0", "42.0"))
    with caplog.at_level(logging.WARNING):
        second = load_or_compute(tmp_path, "pid-x", True, compute, dict, dict)
    assert first == ({"synergy": 1.0}, False) and second == ({"synergy": 1.0}, False) and len(calls) == 2
    assert f"{path} fails its integrity check" in caplog.text
    assert load_or_compute(tmp_path, "pid-x", True, compute, dict, dict) == ({"synergy": 1.0}, True)
    assert load_or_compute(tmp_path, "pid-x", False, compute, dict, dict).from_cache is False and len(calls) == 3


def test_figures_below_what_the_estimate_resolves_are_logged_as_zero():
    from pidengine.report import RunRecord
    from tasks.tracking import pid_metrics

    parts = {"redundancy": 3.08e-8, "unique1": 4.4e-16, "unique2": 0.25, "synergy": 0.75, "total": 1.0}
    certified = RunRecord("d", "exact", "ok", {**parts, "certified": True, "duality_gap_bits": 1e-7})
    metrics = pid_metrics(certified)
    assert (metrics["pid.redundancy_bits"], metrics["pid.unique1_bits"]) == (0.0, 0.0)
    assert (metrics["pid.unique2_bits"], metrics["diag.duality_gap_bits"]) == (0.25, 1e-7)  # the rest as it is
    uncertified = pid_metrics(RunRecord("d", "batch", "ok", parts))
    assert (uncertified["pid.redundancy_bits"], uncertified["pid.unique1_bits"]) == (3.08e-8, 0.0)


def test_a_task_tunes_any_worker_it_runs_on(monkeypatch):
    """An operator's worker gets the settings the pipeline relies on from the task itself (no cluster settings)."""
    import dask
    from distributed import Client, LocalCluster

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)  # the workers inherit this process's environment

    def inside_a_task() -> tuple[str | None, bool, str]:
        import dask
        from distributed import get_worker

        from tasks._dask import on_worker

        with on_worker():
            worker = get_worker()
            profiling = any(worker.periodic_callbacks[name].is_running() for name in ("profile", "profile-cycle"))
            return os.environ.get("OMP_WAIT_POLICY"), profiling, dask.config.get("scheduler")

    # Dask's own defaults (the pipeline's local cluster turns the profiler off in this process's configuration).
    with dask.config.set({"distributed.worker.profile.enabled": True}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        assert all(client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks).values())
        before = client.run(lambda: os.environ.get("OMP_WAIT_POLICY"))
        assert list(before.values()) == [None]  # a plain worker: nothing set
        assert client.submit(inside_a_task).result() == ("PASSIVE", False, "synchronous")


def test_a_sweep_logs_each_kind_of_warning_once(tmp_path, catalog, caplog, monkeypatch):
    import tasks.models
    from pidengine.exceptions import SparseTableWarning

    def warn_and_fail(inputs, family, settings, pid):  # each family's model PID on a small test split warns alike
        warnings.warn(f"sparse table for {family}", SparseTableWarning, stacklevel=1)
        raise ConfigError("not trained here")

    monkeypatch.setattr(tasks.models, "evaluate_family", warn_and_fail)
    entry = catalog.entries["xor"]
    build_dataset.fn(entry, tmp_path / "data", tmp_path, ["ingest", "featurize"])
    with caplog.at_level(logging.WARNING):
        train_models.fn(entry, tmp_path / "data", ["a", "b", "c"], TrainSettings(), ExactSettings(),
                        tmp_path / "results", use_cache=False)
    assert caplog.text.count("SparseTableWarning") == 1
    assert "xor models: SparseTableWarning: sparse table for a (and 2 more like it)" in caplog.text
