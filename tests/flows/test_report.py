"""`pidengine report` reads a tracked run back from MLflow: compared with the records the flow itself returned."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli.main import main
from pidengine.report import RunRecord, format_summary, pid_table


def _report(capsys, *arguments: str) -> tuple[int, str, str]:
    status = main(["report", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _uri(pipeline_run) -> str:
    return pipeline_run.params.tracking.tracking_uri


def test_json_holds_every_part_the_flow_computed(pipeline_run, capsys):
    summary = pipeline_run.summary
    status, out, _ = _report(capsys, "--tracking-uri", _uri(pipeline_run), "--run", summary.parent_run_id,
                             "--format", "json")
    assert status == 0
    runs = {(run["dataset"], run["estimator"]): run for run in json.loads(out)}
    assert set(runs) == {(r.dataset, r.estimator) for r in summary.records}
    for record in summary.records:
        run = runs[(record.dataset, record.estimator)]
        assert run["status"] == record.status
        if record.status != "ok":
            assert run["error"] and run["table"] == []
            continue
        expected = pid_table(record.values, record.true_pid)
        assert [row["part"] for row in run["table"]] == [row["part"] for row in expected]
        for got, want in zip(run["table"], expected):
            assert got.keys() == want.keys()
            for key, value in want.items():
                assert got[key] == (pytest.approx(value, abs=1e-12) if isinstance(value, float) else value)


def test_table_is_the_summary_the_run_printed(pipeline_run, capsys):
    summary = pipeline_run.summary
    status, out, _ = _report(capsys, "--tracking-uri", _uri(pipeline_run), "--run", summary.parent_run_id)
    assert status == 0
    title, table = out.rstrip("\n").split("\n", 1)
    assert summary.parent_run_id in title
    assert table == format_summary(summary.records)


def test_markdown_csv_and_figures_of_one_dataset(pipeline_run, capsys, tmp_path):
    summary = pipeline_run.summary
    uri, run = _uri(pipeline_run), summary.parent_run_id
    status, out, _ = _report(capsys, "--tracking-uri", uri, "--run", run, "--dataset", "xor", "--format", "md")
    assert status == 0
    rows = [line for line in out.splitlines() if line.startswith("| xor |")]
    exact = next(r for r in summary.records if r.dataset == "xor" and r.estimator == "exact")
    # 5 parts per estimator; a part whose interval does not clear its null is shown in italics
    assert len(rows) == 5 * sum(r.dataset == "xor" for r in summary.records)
    redundancy = next(r for r in rows if "| exact | R |" in r)
    assert ("*" in redundancy.split("|")[4]) == (exact.parts["redundancy"].significant is False)
    (tmp_path / "figures").mkdir()
    status, _, err = _report(capsys, "--tracking-uri", uri, "--run", run, "--out", str(tmp_path / "xor.csv"),
                             "--dataset", "xor", "--plot", str(tmp_path / "figures"))
    assert status == 0 and "wrote" in err
    header, *lines = (tmp_path / "xor.csv").read_text().splitlines()
    assert {"synergy_low", "shuffled_synergy", "significant_synergy", "true_synergy"} <= set(header.split(","))
    assert len(lines) == sum(r.dataset == "xor" for r in summary.records)
    for name in ("summary.png", "xor.png"):
        assert (tmp_path / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_line_errors_name_the_fix(pipeline_run, capsys, tmp_path):
    uri, run = _uri(pipeline_run), pipeline_run.summary.parent_run_id
    cases = [
        (["--run", run, "--dataset", "xr"], "has no dataset 'xr'; did you mean xor?"),
        (["--run", "0123abc"], "no run 0123abc"),
        (["--run", run, "--out", str(tmp_path / "table.xlsx")], "name a .txt or .csv or .json or .md file"),
        (["--run", run, "--plot", str(tmp_path / "absent")], "no such folder; create it first"),
        (["--experiment", "pidengine-benchmrk"], "did you mean pidengine-benchmark?"),
    ]
    for arguments, message in cases:
        status, _, err = _report(capsys, "--tracking-uri", uri, *arguments)
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1, (arguments, err)
    status, _, err = _report(capsys, "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}")
    assert status == 2 and "run pidengine run first" in err
    assert not (tmp_path / "none.db").exists()  # reading never creates a store


def test_latest_is_the_newest_flow_run_with_pid_results(tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    from pidengine.estimators.exact import ExactEstimator
    from tasks.tracking import log_pid_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("pidengine-benchmark")
    xor = np.zeros((2, 2, 2))
    for a in range(2):
        for b in range(2):
            xor[a, b, a ^ b] = 0.25
    values = ExactEstimator().estimate(xor).to_dict()
    parents = []
    for start, dataset in ((1_000, "older"), (2_000, "newer")):
        parent = client.create_run(experiment, start_time=start, tags={"kind": "flow"}).info.run_id
        log_pid_run(uri, experiment, parent, RunRecord(dataset, "exact", "ok", values), {}, {})
        parents.append(parent)
    client.create_run(experiment, start_time=3_000, tags={"kind": "flow"})  # a refresh: no PID runs
    status, out, _ = _report(capsys, "--tracking-uri", uri, "--format", "json")
    assert status == 0
    (run,) = json.loads(out)
    assert run["dataset"] == "newer"
    assert {row["part"]: row["bits"] for row in run["table"]}["synergy"] == pytest.approx(1.0, abs=1e-6)
