"""The flows end to end on a tiny catalog: Dask fan-out, MLflow runs equal to the library's figures, failures,
artifacts and caching."""

from __future__ import annotations

import json
import re

import pytest

from pidengine import ExactEstimator
from pidengine.bootstrap import bootstrap_pid
from pidengine.io.store import DatasetStore
from pidengine.stages import joint_of_codes

PARTS = ("redundancy", "unique1", "unique2", "synergy", "total")


def mlflow_runs(run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=run.params.tracking.tracking_uri)
    experiment = client.get_experiment_by_name("pidengine-benchmark")
    runs = client.search_runs([experiment.experiment_id],
                              filter_string=f"tags.mlflow.parentRunId = '{run.summary.parent_run_id}'")
    return client, {(r.data.tags["dataset"], r.data.tags["estimator"]): r for r in runs if "estimator" in r.data.tags}


def model_runs(run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=run.params.tracking.tracking_uri)
    experiment = client.get_experiment_by_name("pidengine-benchmark")
    runs = client.search_runs([experiment.experiment_id],
                              filter_string=f"tags.mlflow.parentRunId = '{run.summary.parent_run_id}' "
                                            "and tags.kind = 'model'")
    return client, {(r.data.tags["dataset"], r.data.tags["family"]): r for r in runs}


def test_flow_ends_failed_with_a_summary_of_every_pair(pipeline_run):
    summary = pipeline_run.summary
    assert pipeline_run.state.is_failed() and "broken" in pipeline_run.state.message
    status = {(r.dataset, r.estimator): r.status for r in summary.records}
    estimators = ("exact", "batch", "crossfit")
    assert status == {
        **{(name, estimator): "ok" for name in ("xor", "latent") for estimator in estimators},
        **{("broken", estimator): "failed" for estimator in estimators},
    }
    # the failed stage is named, and nothing after it ran
    assert [(s.stage, "missing.npz" in s.error) for s in summary.stages if s.dataset == "broken"] == [("ingest", True)]
    # both data stages of both good datasets ran on the Dask workers and published their stores
    for name in ("xor", "latent"):
        assert DatasetStore(pipeline_run.root / "data", name).exists("codes")


def test_logged_exact_metrics_equal_the_library(pipeline_run):
    _client, runs = mlflow_runs(pipeline_run)
    for name in ("xor", "latent"):
        codes = DatasetStore(pipeline_run.root / "data", name).open("codes").load()
        table = joint_of_codes(codes)
        expected = ExactEstimator().estimate(table.pmf, n_samples=table.n_samples)
        boot = bootstrap_pid(codes["x1"].values, codes["x2"].values, codes["y"].values, n_resamples=10,
                             n_permutations=50, random_state=0)
        metrics = runs[(name, "exact")].data.metrics
        gap = max(1e-9, expected.certificate.duality_gap)  # figures below the certified gap are logged as 0
        for column, part in enumerate(PARTS):
            assert metrics[f"plugin.{part}_bits"] == pytest.approx(getattr(expected, part), abs=gap)
            assert metrics[f"pid.{part}_bits"] == pytest.approx(boot.corrected[part], abs=gap)
            assert metrics[f"pid.{part}_low_bits"] == pytest.approx(boot.intervals[part][0], abs=gap)
            assert metrics[f"pid.{part}_high_bits"] == pytest.approx(boot.intervals[part][1], abs=gap)
            assert metrics[f"significant.{part}"] == float(boot.significant[part])
            assert metrics[f"shuffled.{part}_bits"] == pytest.approx(boot.null[:, column].mean(), abs=gap)
        true = DatasetStore(pipeline_run.root / "data", name).open("raw").attrs["true_pid_bits"]
        assert metrics["true.synergy_bits"] == pytest.approx(true["synergy"])
    assert runs[("xor", "exact")].data.metrics["pid.synergy_bits"] == pytest.approx(1.0, abs=0.02)


def test_logged_batch_metrics_equal_the_task_result(pipeline_run):
    _, runs = mlflow_runs(pipeline_run)
    for record in pipeline_run.summary.records:
        if record.estimator == "batch" and record.status == "ok":
            metrics = runs[(record.dataset, "batch")].data.metrics
            for part in PARTS:
                assert metrics[f"pid.{part}_bits"] == pytest.approx(record.values[part], abs=1e-12)
                assert metrics[f"pid.{part}_low_bits"] <= metrics[f"pid.{part}_high_bits"]
            parts = sum(metrics[f"pid.{p}_bits"] for p in PARTS[:4])
            assert parts == pytest.approx(metrics["pid.total_bits"], abs=1e-6)


def test_logged_crossfit_metrics_carry_plugin_and_significance(pipeline_run):
    _, runs = mlflow_runs(pipeline_run)
    for record in pipeline_run.summary.records:
        if record.estimator == "crossfit" and record.status == "ok":
            metrics = runs[(record.dataset, "crossfit")].data.metrics
            gap = max(1e-12, record.values["duality_gap_bits"])  # R, U1, U2 come from the exact solver
            for part in PARTS:
                assert metrics[f"pid.{part}_bits"] == pytest.approx(record.values[part], abs=gap)
                assert metrics[f"plugin.{part}_bits"] == pytest.approx(record.values[f"plugin_{part}"], abs=gap)
                assert metrics[f"significant.{part}"] == float(record.values[f"{part}_significant"])
                assert metrics[f"pid.{part}_low_bits"] <= metrics[f"pid.{part}_high_bits"]
    xor = runs[("xor", "crossfit")].data.metrics
    # XOR of two fair bits: one bit of synergy, nothing else; the flags must say so.
    assert xor["pid.synergy_bits"] == pytest.approx(1.0, abs=0.15)
    assert (xor["significant.synergy"], xor["significant.redundancy"], xor["significant.unique1"]) == (1.0, 0.0, 0.0)
    exact = runs[("xor", "exact")].data.metrics
    assert (
        exact["significant.synergy"], exact["significant.redundancy"], exact["significant.unique1"]
    ) == (1.0, 0.0, 0.0)


def test_runs_tags_params_and_artifacts(pipeline_run):
    client, runs = mlflow_runs(pipeline_run)
    good = runs[("latent", "exact")]
    assert good.info.status == "FINISHED"
    raw = DatasetStore(pipeline_run.root / "data", "latent").open("raw")
    assert good.data.tags["content_hash"] == raw.attrs["content_hash"]
    assert good.data.tags["code_version"] and good.data.tags["flow_run_id"]
    # The store version each estimate read, as the estimator registry says: the codes, or the raw features.
    store = DatasetStore(pipeline_run.root / "data", "latent")
    assert good.data.tags["input_store"] == store.current("codes").url
    assert runs[("latent", "batch")].data.tags["input_store"] == store.current("raw").url
    assert good.data.tags["kind"] == "pid" and good.info.run_name == "latent/exact"
    record = next(r for r in pipeline_run.summary.records if (r.dataset, r.estimator) == ("latent", "exact"))
    assert not record.cached and record.seconds > 0
    # MLflow's Duration column shows the computation, not only the logging
    assert good.info.end_time - good.info.start_time >= 1000 * record.seconds
    assert good.data.params["exact.n_bootstrap"] == "10"
    assert {a.path for a in client.list_artifacts(good.info.run_id)} == {"pid.json", "pid.csv", "pid.png"}
    with open(client.download_artifacts(good.info.run_id, "pid.json")) as handle:
        document = json.loads(handle.read())
    assert document["units"] == "bits" and [row["part"] for row in document["table"]] == list(PARTS)

    failed = runs[("broken", "exact")]
    assert failed.info.status == "FAILED"
    assert "missing.npz" in failed.data.tags["error"]

    parent = client.get_run(pipeline_run.summary.parent_run_id)
    assert parent.info.status == "FAILED"  # one dataset failed; the others completed
    assert re.fullmatch(r"benchmark \d{4}-\d\d-\d\d \d\d:\d\d", parent.info.run_name)
    assert parent.data.tags["kind"] == "flow" and parent.data.tags["flow_run_name"]
    assert parent.data.tags["flow"] == "benchmark" and parent.data.params["estimators"] == "exact,batch,crossfit"
    assert parent.data.params["exact.n_bootstrap"] == "10" and parent.data.params["models.top_k"] == "1"
    description = parent.data.tags["mlflow.note.content"]  # the run page's description: the summary table
    assert description.startswith("```") and "latent" in description and "crossfit" in description
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # opens on the runs table
    assert {"summary.json", "summary.csv", "summary.png", "stages.json", "agreement.csv"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id)}
    assert "agreement.disagreeing_parts" in parent.data.metrics
    assert {"path": "summary.json", "type": "table"} in json.loads(parent.data.tags["mlflow.loggedArtifacts"])
    import pandas as pd

    table = pd.read_json(client.download_artifacts(parent.info.run_id, "summary.json"), orient="split")
    assert len(table) == 9 and set(table["status"]) == {"ok", "failed"}


def test_one_model_run_per_pair_equal_to_the_library(pipeline_run):
    from pidengine.catalog import load_catalog
    from pidengine.models.sweep import evaluate_family
    from pidengine.stages import model_inputs
    from tests.flows.conftest import TINY_FAMILIES

    _client, runs = model_runs(pipeline_run)
    assert set(runs) == {(d, f) for d in ("xor", "latent", "broken") for f in TINY_FAMILIES}
    assert {k: r.info.status for k, r in runs.items() if k[0] == "broken"} == {
        ("broken", f): "FAILED" for f in TINY_FAMILIES
    }
    assert "missing.npz" in runs[("broken", "elementwise")].data.tags["error"]
    assert all(r.info.status == "FINISHED" for k, r in runs.items() if k[0] != "broken")
    entry = load_catalog(pipeline_run.root / "catalog.yaml").entries["latent"]
    again = evaluate_family(
        model_inputs(entry, pipeline_run.root / "data"), "elementwise", pipeline_run.params.models.train,
        pipeline_run.params.models.pid,
    )
    metrics = runs[("latent", "elementwise")].data.metrics
    assert metrics["accuracy.test"] == pytest.approx(again.test_accuracy, abs=1e-12)
    for part in PARTS:  # the model PID is estimated as the run's datasets are: bias-corrected, with intervals
        assert metrics[f"model_pid.{part}_bits"] == pytest.approx(again.pid[part], abs=1e-9)
        assert metrics[f"model_plugin.{part}_bits"] == pytest.approx(again.pid[f"plugin_{part}"], abs=1e-9)
        assert metrics[f"model_significant.{part}"] == float(again.pid[f"{part}_significant"])
    assert metrics["accuracy.drop_x1"] == pytest.approx(again.accuracy_drop("x1"), abs=1e-12)
    assert runs[("latent", "elementwise")].data.params["train.max_epochs"] == "25"
    # XOR: additive late fusion cannot represent it; elementwise (multiplicative) fusion can.
    assert runs[("xor", "late_fusion")].data.metrics["accuracy.test"] < 0.7
    assert runs[("xor", "elementwise")].data.metrics["accuracy.test"] > 0.95


def test_selection_from_the_reference_table(pipeline_run):
    from pidengine.selection import ReferenceTable, selection_score

    summary = pipeline_run.summary
    table = ReferenceTable.load(pipeline_run.root / "data" / "reference")
    assert [row.dataset for row in table.rows] == ["xor"]
    assert summary.reference_path.endswith(f"reference-{table.key}.json")
    # xor's best family (by accuracy) is what latent is recommended, and the score follows from the logged accuracies.
    assert summary.selection.recommendations["latent"].families == (table.rows[0].ranked_families()[0],)
    _, runs = model_runs(pipeline_run)
    accuracy = {f: runs[("latent", f)].data.metrics["accuracy.test"] for f in ("late_fusion", "elementwise")}
    expected = selection_score(summary.selection.recommendations["latent"].families, accuracy)
    from mlflow.tracking import MlflowClient

    mlflow_client = MlflowClient(tracking_uri=pipeline_run.params.tracking.tracking_uri)
    parent = mlflow_client.get_run(summary.parent_run_id)
    assert parent.data.metrics["selection_score.latent"] == pytest.approx(expected)
    assert parent.data.metrics["selection.pid"] == pytest.approx(expected)
    assert {"selection.pid_free", "selection.random", "selection.difference_low"} <= set(parent.data.metrics)
    assert parent.data.tags["reference_key"] == table.key
    # With one reference every draw of latent's PID is nearest it: support 1, logged beside the score.
    assert summary.selection.recommendations["latent"].support == 1.0
    assert parent.data.metrics["selection_support.latent"] == parent.data.metrics["selection_support.min"] == 1.0
    with open(mlflow_client.download_artifacts(parent.info.run_id, "recommendations.json")) as handle:
        logged_rows = json.load(handle)
    assert dict(zip(logged_rows["columns"], logged_rows["data"][0]))["support"] == 1.0
    artifacts = {a.path for a in mlflow_client.list_artifacts(parent.info.run_id)}
    assert {"models.json", "recommendations.json", "reference", "analysis", "selection.png"} <= artifacts
    logged = mlflow_client.download_artifacts(parent.info.run_id, f"reference/reference-{table.key}.json")
    with open(logged) as handle:
        assert ReferenceTable.from_json(handle.read()) == table
    assert "Model selection" in summary.table() and "elementwise" in summary.table()


def test_rerun_reads_cached_estimates_and_models(pipeline_run):
    from flows.models import model_sweep
    from flows.params import DataParams, ModelSweepParams
    from tests.flows.conftest import tiny_params

    params = ModelSweepParams(**dict(tiny_params(
        pipeline_run.root,
        data=DataParams(catalog=pipeline_run.root / "catalog.yaml", data_dir=pipeline_run.root / "data",
                        datasets=["xor", "latent"]),
        estimators=["exact", "batch"],
    )))
    summary = model_sweep(params)
    assert [r.status for r in summary.records] == ["ok"] * 4
    assert all(r.cached for r in summary.records) and all(m.cached for m in summary.models)
    first = {(r.dataset, r.estimator): r.values for r in pipeline_run.summary.records if r.status == "ok"}
    for record in summary.records:
        assert record.values == first[(record.dataset, record.estimator)]
    assert {(m.dataset, m.family): m.report for m in summary.models} == {
        (m.dataset, m.family): m.report for m in pipeline_run.summary.models if m.dataset != "broken"}
    assert summary.selection.reference.key == pipeline_run.summary.selection.reference.key
    assert not any(s.report.written for s in summary.stages)  # the stores were current: nothing rewritten


def test_a_tampered_cached_estimate_is_recomputed_not_used(pipeline_run):
    from flows.params import DataParams, QuantifyParams
    from flows.quantify import quantify_datasets
    from tests.flows.conftest import tiny_params

    fields = dict(tiny_params(pipeline_run.root, estimators=["exact"],
                              data=DataParams(catalog=pipeline_run.root / "catalog.yaml",
                                              data_dir=pipeline_run.root / "data", datasets=["xor"])))
    params = QuantifyParams(**{name: value for name, value in fields.items() if name in QuantifyParams.model_fields})
    (cached,) = list((pipeline_run.root / "results").glob("pid-xor-exact-*.json"))
    document = json.loads(cached.read_text())
    truth = document["payload"]["values"]["synergy"]
    document["payload"]["values"]["synergy"] = 42.0  # the signature is left as it was
    cached.write_text(json.dumps(document))
    summary = quantify_datasets(params)
    (record,) = summary.records
    assert record.status == "ok" and not record.cached
    assert record.values["synergy"] == pytest.approx(truth) and record.values["synergy"] != 42.0
    assert json.loads(cached.read_text())["payload"]["values"]["synergy"] == pytest.approx(truth)  # repaired
    assert not any(path.suffix != ".json" for path in (pipeline_run.root / "results").iterdir())  # no pickles
