"""Fast checks of the pipeline's edges, no Prefect server: preflight failures, the CLI, the layers, the deployments,
the report functions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cli.main import main
from flows.preflight import PreflightError, check_dask_address, check_tracking_uri
from pidengine.parts import PARTS
from pidengine.report import (
    RunRecord,
    estimator_agreement,
    format_disagreements,
    format_summary,
    pid_figure,
    pid_table,
    summary_figure,
    summary_frame,
)

ROOT = Path(__file__).resolve().parents[2]


def test_unreachable_tracking_uri_fails_fast():
    start = time.perf_counter()
    with pytest.raises(PreflightError, match="unreachable"):
        check_tracking_uri("http://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - start < 10


def test_tracking_uri_in_a_missing_folder(tmp_path):
    with pytest.raises(PreflightError, match="does not exist"):
        check_tracking_uri(f"sqlite:///{tmp_path}/nowhere/mlflow.db")
    (tmp_path / "junk.db").write_text("not a database, but long enough to have a header " * 4)
    with pytest.raises(PreflightError, match="not an SQLite database"):
        check_tracking_uri(f"sqlite:///{tmp_path}/junk.db")
    assert check_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db") == f"sqlite:///{tmp_path}/mlflow.db"


def test_unreachable_dask_address_fails_fast():
    start = time.perf_counter()
    with pytest.raises(PreflightError, match=r"no Dask scheduler answers at tcp://127\.0\.0\.1:9"):
        check_dask_address("tcp://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - start < 15


def test_cli_run_fails_before_any_work(tmp_path, capsys):
    code = main(["run", "--catalog", str(ROOT / "data_catalog.yaml"), "--data-dir", str(tmp_path / "data"),
                 "--tracking-uri", "http://127.0.0.1:9"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pidengine: error: tracking URI http://127.0.0.1:9 is unreachable") and "\n" not in err
    assert not (tmp_path / "data").exists()
    assert main(["run", "--datasets", "no-such-dataset", "--catalog", str(ROOT / "data_catalog.yaml")]) == 2
    assert "no dataset 'no-such-dataset'" in capsys.readouterr().err


def test_run_help_lists_the_parameters(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for option in ("--catalog", "--data-dir", "--datasets", "--estimators", "--tracking-uri", "--dask-address",
                   "--workers", "--results-dir", "--no-cache", "--flow"):
        assert option in out


def test_library_modules_import_no_orchestration():
    code = ("import sys, pidengine.quantify, pidengine.report, cli.main; "
            "print(','.join(m for m in ('prefect', 'mlflow', 'flows', 'tasks', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_deployments_are_valid():
    from prefect.flows import load_flow_from_entrypoint

    document = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    names = {d["name"] for d in document["deployments"]}
    assert {"nightly-benchmark", "catalog-refresh"} <= names
    for deployment in document["deployments"]:
        assert deployment["enforce_parameter_schema"] is True
        for schedule in deployment.get("schedules", []):  # on-demand deployments have none
            assert schedule["timezone"] and schedule["cron"]
        path, _, name = deployment["entrypoint"].partition(":")
        flow = load_flow_from_entrypoint(str(ROOT / path) + ":" + name)
        flow.validate_parameters(deployment["parameters"])  # raises on a parameter the flow would reject


def test_deploy_refuses_a_missing_project_folder_before_any_run(prefect_harness, monkeypatch, tmp_path):
    import asyncio

    from prefect.deployments.steps.core import run_steps

    build = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())["build"]  # what prefect deploy runs
    for folder in (None, tmp_path):
        if folder is None:
            monkeypatch.delenv("PIDENGINE_PROJECT_DIR", raising=False)
        else:
            monkeypatch.setenv("PIDENGINE_PROJECT_DIR", str(folder))
        with pytest.raises(Exception) as raised:
            asyncio.run(run_steps(build, print_function=lambda *_: None))
        assert "PIDENGINE_PROJECT_DIR must name the pidengine project folder" in str(raised.value.__cause__)
    monkeypatch.setenv("PIDENGINE_PROJECT_DIR", str(ROOT))
    asyncio.run(run_steps(build, print_function=lambda *_: None))


def test_report_functions():
    values = {"redundancy": 0.3, "unique1": 0.0, "unique2": -0.01, "synergy": 0.5, "total": 0.79,
              "total_low": 0.8, "total_high": 0.9}
    truth = {"redundancy": 0.311, "unique1": 0.0, "unique2": 0.0, "synergy": 0.5}
    rows = pid_table(values, truth)
    assert [r["part"] for r in rows] == ["redundancy", "unique1", "unique2", "synergy", "total"]
    assert rows[4]["low"] == 0.8 and rows[0]["true_bits"] == 0.311 and rows[4]["true_bits"] == pytest.approx(0.811)
    flagged = pid_table({**values, "synergy_significant": False, "shuffled_synergy": 0.6})
    assert (flagged[3]["significant"], flagged[3]["shuffled_bits"]) == (False, 0.6)  # exported beside the bits
    assert "significant" not in flagged[0] and "shuffled_bits" not in flagged[0]  # not invented where unknown
    records = [RunRecord("and", "exact", "ok", values, truth, seconds=1.0),
               RunRecord("bad", "exact", "failed", error="ConfigError: no file")]
    text = format_summary(records)
    assert "truth" in text and "FAILED: ConfigError: no file" in text and "1 of 2 runs ok, 1 failed" in text
    frame = summary_frame(records)
    assert list(frame["status"]) == ["ok", "failed"] and frame.loc[0, "total_low"] == 0.8
    assert {"shuffled_synergy", "significant_synergy"} <= set(frame.columns)


def test_the_dataset_figure_shows_each_estimator_with_interval_floor_and_truth_and_no_legend_over_bars():
    truth = {"redundancy": 0.311, "unique1": 0.0, "unique2": 0.0, "synergy": 0.5}
    exact_values = {"redundancy": 0.3, "unique1": 0.01, "unique2": 0.0, "synergy": 0.5, "total": 0.81,
                    **{f"{p}_{side}": v for p in PARTS for side, v in (("low", -0.1), ("high", 0.9))},
                    **{f"shuffled_{p}": 0.05 for p in PARTS}}
    batch_values = {"redundancy": 0.2, "unique1": 0.05, "unique2": 0.05, "synergy": 0.4, "total": 0.7}
    figure = pid_figure([RunRecord("and", "exact", "ok", exact_values, truth),
                         RunRecord("and", "batch", "ok", batch_values, truth),
                         RunRecord("and", "crossfit", "failed", error="x")])
    ax = figure.axes[0]
    assert len(ax.patches) == 2 * len(PARTS)  # one bar per (estimator, part); the failed run is left out
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["exact", "batch", "truth", "95 % interval",
                                                          "shuffled labels"]
    figure.draw_without_rendering()
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1  # beside the axes, never over a bar
    assert ax.get_title() == "and"


def test_the_summary_figure_grows_in_height_and_marks_truth_and_insignificant_parts():
    values = {"redundancy": 0.3, "unique1": 0.02, "unique2": 0.0, "synergy": 0.5, "total": 0.82,
              "unique1_significant": False}
    truth = {"redundancy": 0.3, "unique1": 0.0, "unique2": 0.0, "synergy": 0.5}
    records = [RunRecord(f"set{i}", "exact", "ok", values, truth if i == 0 else None) for i in range(30)]
    figure = summary_figure(records)
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:3] == ["set0 / exact", "set0 / truth", "set1 / exact"] and len(labels) == 31
    assert figure.get_size_inches()[0] * 110 <= 1000  # 1,000 px wide at the dpi it is saved with
    texts = [t.get_text() for t in ax.texts]
    assert texts[:5] == ["0.300", "(0.020)", "0.000", "0.500", "0.820"]


def test_parts_that_are_not_significant_are_bracketed_and_hatched():
    values = {"redundancy": 0.3, "unique1": 0.02, "unique2": -0.01, "synergy": 0.5, "total": 0.81,
              "redundancy_significant": True, "unique1_significant": False, "unique2_significant": False,
              "synergy_significant": True, "total_significant": True}
    record = RunRecord("and", "crossfit", "ok", values)
    row = format_summary([record]).splitlines()[2]
    assert "0.300" in row and "(0.020)" in row and "(-0.010)" in row and "(0.500)" not in row
    figure = pid_figure([record])
    hatched = [part for part, patch in zip(PARTS, figure.axes[0].patches) if patch.get_hatch()]
    assert hatched == ["unique1", "unique2"]


def test_estimators_that_disagree_beyond_their_intervals_are_named():
    def record(estimator: str, dataset: str, centre: dict[str, float], half_width: float) -> RunRecord:
        values = {**centre, **{f"{p}_low": v - half_width for p, v in centre.items()},
                  **{f"{p}_high": v + half_width for p, v in centre.items()}}
        return RunRecord(dataset, estimator, "ok", values)

    parts = ("redundancy", "unique1", "unique2", "synergy", "total")
    exact = record("exact", "digits", dict(zip(parts, (1.0, 0.2, 0.2, 0.1, 1.5))), 0.1)
    batch = record("batch", "digits", dict(zip(parts, (0.5, 0.2, 0.25, 0.1, 1.05))), 0.2)
    no_intervals = RunRecord("digits", "other", "ok", dict(zip(parts, (0.0,) * 5)))
    rows = estimator_agreement([exact, batch, no_intervals])
    assert [(r.first, r.second) for r in rows] == [("exact", "batch")] * 5
    redundancy = rows[0]
    # 0.5 bits apart; the interval of the difference adds the half-widths in quadrature: sqrt(0.1^2 + 0.2^2).
    assert redundancy.difference == pytest.approx(0.5)
    assert (redundancy.low, redundancy.high) == pytest.approx((0.5 - 0.05 ** 0.5, 0.5 + 0.05 ** 0.5))
    assert [r.part for r in rows if r.disagree] == ["redundancy", "total"]
    text = format_disagreements(rows)
    assert text.startswith("warning: digits: exact and batch disagree") and "R (+0.500" in text and "U2" not in text
    assert format_disagreements(estimator_agreement([exact])) == ""
    # Zero-width intervals (deterministic data) that differ by less than the tolerance agree.
    sharp = [record(name, "gate", dict(zip(parts, (1.0, 0.0, 0.0, shift, 1.0 + shift))), 0.0)
             for name, shift in (("exact", 0.0), ("batch", 0.01))]
    assert format_disagreements(estimator_agreement(sharp)) == ""


def test_a_run_without_any_reference_selects_with_the_shipped_table(tmp_path):
    from flows.params import ModelParams
    from pidengine.selection import SHIPPED_REFERENCE, ReferenceTable
    from tasks.selection import analyse_models, select_models

    def selected(models: ModelParams):
        return select_models.fn([], [], tmp_path, models.reference_datasets([]), models.reference_table, models.top_k,
                                models.train)

    outcome = selected(ModelParams())
    assert outcome.error == "" and outcome.reference_path == str(SHIPPED_REFERENCE)
    assert outcome.selection.reference == ReferenceTable.shipped()
    assert "undefined (n = 0" in analyse_models.fn([], []).summary()
    # A table named with --reference-table is used as it is, even where one is published.
    ReferenceTable.shipped().restricted_to(["gate-xor", "gate-and"]).save(tmp_path / "mine")
    outcome = selected(ModelParams(reference_table=tmp_path / "mine"))
    assert [row.dataset for row in outcome.selection.reference.rows] == ["gate-and", "gate-xor"]


def test_the_reference_datasets_are_those_named_else_the_synthetic_entries_of_the_run(tmp_path):
    from flows.params import ModelParams
    from pidengine.catalog import load_catalog
    from tasks.selection import select_models

    (tmp_path / "catalog.yaml").write_text("""
datasets:
  xor: {source: {kind: gate, gate: xor, n_samples: 600, seed: 1}}
  and: {source: {kind: gate, gate: and, n_samples: 600, seed: 1}}
  digits: {source: {kind: digits, halves: left_right}}
""")
    entries = load_catalog(tmp_path / "catalog.yaml").select([])
    assert ModelParams().reference_datasets(entries) == ["and", "xor"]
    assert ModelParams(reference=["xor", "digits"]).reference_datasets(entries) == ["xor", "digits"]
    assert ModelParams(reference_table=tmp_path / "mine").reference_datasets(entries) == []
    # The selection task reports an error of the data as its outcome: a reference dataset without a PID.
    outcome = select_models.fn([], [], tmp_path, ["xor"], None, 3, ModelParams().train)
    assert outcome.selection is None and "no reference dataset" in outcome.error


@pytest.mark.parametrize("dashboard", [False, True])
def test_the_local_cluster_serves_a_dashboard_only_when_asked(dashboard):
    import urllib.error
    import urllib.request

    from distributed import LocalCluster

    from flows._runtime import task_runner
    from flows.params import ComputeParams

    kwargs = {**task_runner(ComputeParams(dashboard=dashboard)).cluster_kwargs, "n_workers": 0}
    with LocalCluster(**kwargs) as cluster:
        listeners = [sock.getsockname()[:2] for sock in cluster.scheduler.http_server._sockets.values()]
        assert {host for host, _ in listeners} == {"127.0.0.1"}  # loopback only, whatever the flag
        port = listeners[0][1]
        try:
            status = urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10).status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status == (200 if dashboard else 404)


@pytest.fixture
def protected_server():
    """An HTTP server whose /health answers 200 only to alice:S3cret-pw (basic authentication)."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    expected = "Basic " + base64.b64encode(b"alice:S3cret-pw").decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.headers.get("Authorization") == expected else 401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_credentials_are_used_never_shown(protected_server, monkeypatch):
    from flows.preflight import move_credentials_to_environment, redact

    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):  # restored after the test, set or not
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    with_password = f"http://alice:S3cret-pw@{protected_server}"
    assert check_tracking_uri(with_password) == with_password  # the preflight accepts a URI with credentials
    assert redact(with_password) == f"http://alice:***@{protected_server}"
    with pytest.raises(PreflightError) as refused:
        check_tracking_uri(f"http://alice:wrong-pw@{protected_server}")
    assert "HTTP 401" in str(refused.value) and "wrong-pw" not in str(refused.value)
    bare = move_credentials_to_environment(with_password)
    assert bare == f"http://{protected_server}" and "S3cret" not in bare
    assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == ("alice", "S3cret-pw")
    assert check_tracking_uri(bare) == bare  # MLflow's variables authenticate, as they do for its client


def test_the_selection_figure_places_each_pid_by_its_shares():
    import numpy as np

    from pidengine.report import selection_figure

    zero = {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}
    reference = {"xor": {**zero, "synergy": 1.0}, "xor-8": {**zero, "synergy": 3.0},
                 "copy": {**zero, "redundancy": 1.0}, "unique": {**zero, "unique1": 0.5, "unique2": 0.5}}
    datasets = {"mixed": {"redundancy": 0.25, "unique1": 0.5, "unique2": 0.0, "synergy": 0.25}}
    figure = selection_figure(reference, datasets, {"mixed": "copy"})
    ax = figure.axes[0]
    placed = {tuple(np.round(c.get_offsets()[0], 6)): c for c in ax.collections if len(c.get_offsets())}
    height = round(np.sqrt(3) / 2, 6)
    # synergy at (1, 0), redundancy at the apex, uniqueness at the origin; R=S=1/4, U=1/2 at (0.375, 0.25 * height)
    assert set(placed) == {(1.0, 0.0), (0.5, height), (0.0, 0.0), (0.375, round(0.25 * height, 6))}
    labels = [t.get_text() for t in ax.texts]
    assert "xor\nxor-8" in labels  # coinciding references share one marker and one label
    assert "mixed (U1 100% of U)" in labels  # the U1/U2 split the triangle hides, written where unbalanced
    (dashed,) = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert np.allclose(dashed.get_xydata(), [[0.375, 0.25 * np.sqrt(3) / 2], [0.5, np.sqrt(3) / 2]])


def test_each_dataset_is_one_progress_line_in_the_flow_process():
    from flows._runtime import _progress_line
    from flows._summary import ModelOutcome, StageOutcome

    records = [RunRecord("digits", "exact", "ok", seconds=10.24), RunRecord("digits", "batch", "ok", cached=True),
               RunRecord("digits", "crossfit", "failed", error="boom")]
    models = [ModelOutcome("digits", "late_fusion", report=object()), ModelOutcome("digits", "tensor", error="x")]
    assert _progress_line("digits", [], records, models) == (
        "digits: exact ok 10.2 s, batch ok (cached), crossfit FAILED; models 1 of 2 ok")
    failed = [StageOutcome("broken", "ingest", error="no file missing.npz\ndetail")]
    assert _progress_line("broken", failed, [], []) == "broken: ingest FAILED: no file missing.npz"
