"""``pidengine report``: the PID results of a tracked run, read back from MLflow and printed or written.

A flow run is one MLflow parent run (tag ``kind=flow``) with one child run per (dataset, estimator) (tag
``kind=pid``) whose ``pid.json`` artifact holds the estimator's flat result and the known truth. This module reads
them back into :class:`~pidengine.report.RunRecord` objects, so that every table and figure is drawn by the same
functions as during the run.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli._parsing import check_output, local_path
from pidengine.exceptions import ConfigError
from pidengine.io.results import write_atomically
from pidengine.report import RunRecord

FORMATS = ("table", "csv", "json", "md")
_SUFFIX_FORMATS = {".txt": "table", ".csv": "csv", ".json": "json", ".md": "md"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # No default here: it is pidengine run's own (flows.params), read when the command runs so that --help stays fast.
    parser.add_argument("--tracking-uri", metavar="URI",
                        help="the MLflow tracking store pidengine run logged to (default: the one it logs to by "
                        "default)")
    parser.add_argument("--experiment", metavar="NAME",
                        help="look for the latest run in this experiment only (default: every pidengine experiment)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", metavar="ID", help="a flow's parent run id, or one (dataset, estimator) run id")
    which.add_argument("--latest", action="store_true",
                       help="the latest flow run that estimated a PID (the default)")
    parser.add_argument("--dataset", nargs="+", metavar="NAME", help="only these datasets (default: all)")
    parser.add_argument("--format", choices=FORMATS,
                        help="table (as the run printed it), csv (a row per dataset and estimator), json or md (a row "
                        "per part of each); every format but table carries intervals, shuffled floor, significance and "
                        "truth; default: table, or the --out file's suffix")
    parser.add_argument("--out", type=local_path, metavar="FILE",
                        help="write to FILE (.txt, .csv, .json or .md) instead of printing")
    parser.add_argument("--plot", type=local_path, metavar="DIR",
                        help="also draw summary.png and one <dataset>.png per dataset into DIR")


def run(args: argparse.Namespace) -> int:
    output_format = args.format or (_SUFFIX_FORMATS.get(args.out.suffix) if args.out else None) or "table"
    if args.out is not None:
        check_output(args.out, tuple(_SUFFIX_FORMATS))
    if args.plot is not None and not args.plot.is_dir():
        raise ConfigError(f"--plot {args.plot}: no such folder; create it first")
    from flows.params import DEFAULT_TRACKING_URI

    # One pid.json per run is read: MLflow's download bar would print a line for each.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    tracked = TrackedRun.find(_reachable(args.tracking_uri or DEFAULT_TRACKING_URI), args.run, args.experiment)
    records = tracked.records(args.dataset)
    text = render(records, output_format, tracked.describe())
    if args.out is not None:
        write_atomically(args.out, text)
        print(f"wrote {args.out} ({len(records)} runs of {tracked.describe()})", file=sys.stderr)
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    if args.plot is not None:
        _draw(records, args.plot)
    return 0


def _reachable(uri: str) -> str:
    """The tracking URI, checked as the pipeline checks it; an SQLite file must exist (reading never creates one)."""
    from flows.preflight import check_tracking_uri, resolve_tracking_uri

    resolved = resolve_tracking_uri(uri)
    if resolved.startswith("sqlite:///") and not Path(resolved[len("sqlite:///"):]).is_file():
        raise ConfigError(f"no tracking store at {resolved[len('sqlite:///'):]}: run pidengine run first, or pass "
                          "the --tracking-uri it logged to")
    return check_tracking_uri(uri)


class TrackedRun:
    """One flow run in MLflow (or one child run of it) and the PID records it holds."""

    def __init__(self, client: Any, run: Any, children: list[Any]) -> None:
        self.client, self.run, self.children = client, run, children

    @classmethod
    def find(cls, tracking_uri: str, run_id: str | None, experiment: str | None) -> TrackedRun:
        from mlflow.exceptions import MlflowException

        from tasks.tracking import client as tracking_client

        client = tracking_client(tracking_uri)
        if run_id is not None:
            try:
                run = client.get_run(run_id)
            except MlflowException:
                raise ConfigError(f"no run {run_id} in {tracking_uri}; leave out --run for the latest") from None
            if run.data.tags.get("kind") == "pid":
                return cls(client, run, [run])
            return cls(client, run, _pid_children(client, run))
        return cls._latest(client, tracking_uri, experiment)

    @classmethod
    def _latest(cls, client: Any, tracking_uri: str, experiment: str | None) -> TrackedRun:
        from flows.params import EXPERIMENTS

        names = [experiment] if experiment else [name for kind, name in EXPERIMENTS.items() if kind != "refresh"]
        found = [e for e in (client.get_experiment_by_name(name) for name in names) if e is not None]
        if experiment and not found:
            known = [e.name for e in client.search_experiments()]
            close = difflib.get_close_matches(experiment, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; experiments there: {', '.join(known)}"
            raise ConfigError(f"no experiment {experiment!r} in {tracking_uri}{hint}")
        ids = [e.experiment_id for e in found]
        # Newest first; a refresh flow or a run that failed before any estimate has no PID runs to show.
        for run in client.search_runs(ids, "tags.kind = 'flow'", order_by=["attributes.start_time DESC"],
                                      max_results=20) if ids else []:
            children = _pid_children(client, run)
            if children:
                return cls(client, run, children)
        raise ConfigError(f"no pidengine run with PID results in {tracking_uri} ({', '.join(names)}): run "
                          "pidengine run first, or pass the --tracking-uri it logged to")

    def describe(self) -> str:
        return f"run {self.run.info.run_name!r} ({self.run.info.run_id})"

    def records(self, datasets: Sequence[str] | None = None) -> list[RunRecord]:
        """The PID records, in the order the run listed its datasets and estimators; only ``datasets`` if given."""
        available = list(dict.fromkeys(child.data.tags.get("dataset", "") for child in self.children))
        unknown = [name for name in datasets or () if name not in available]
        if unknown:
            close = difflib.get_close_matches(unknown[0], available, n=1)
            hint = f"did you mean {close[0]}?" if close else f"it has {', '.join(available)}"
            raise ConfigError(f"{self.describe()} has no dataset {unknown[0]!r}; {hint}")
        chosen = [child for child in self.children if not datasets or child.data.tags.get("dataset") in datasets]
        return sorted((self._record(child) for child in chosen), key=self._position)

    def _position(self, record: RunRecord) -> tuple[int, int, str, str]:
        params = self.run.data.params
        datasets = params.get("data.datasets", "").split(",")
        estimators = params.get("estimators", "").split(",")
        return (datasets.index(record.dataset) if record.dataset in datasets else len(datasets),
                estimators.index(record.estimator) if record.estimator in estimators else len(estimators),
                record.dataset, record.estimator)

    def _record(self, child: Any) -> RunRecord:
        tags = child.data.tags
        common = dict(dataset=tags.get("dataset", ""), estimator=tags.get("estimator", ""),
                      seconds=float(child.data.metrics.get("time.seconds", 0.0)), cached=tags.get("cached") == "true",
                      content_hash=tags.get("content_hash", ""), run_id=child.info.run_id)
        if tags.get("status") != "ok":
            return RunRecord(status="failed", error=tags.get("error", child.info.status), **common)
        with tempfile.TemporaryDirectory() as folder:
            document = json.loads(Path(self.client.download_artifacts(child.info.run_id, "pid.json", folder))
                                  .read_text())
        return RunRecord(status="ok", values=document["values"], true_pid=document.get("true_pid_bits"), **common)


def _pid_children(client: Any, run: Any) -> list[Any]:
    return client.search_runs([run.info.experiment_id],
                              f"tags.mlflow.parentRunId = '{run.info.run_id}' and tags.kind = 'pid'",
                              max_results=10_000)


def render(records: Sequence[RunRecord], output_format: str, source: str) -> str:
    """The records as the run's summary table, CSV or JSON (a row per dataset and estimator), or Markdown (a row per
    part, with its interval, shuffled floor, significance and truth)."""
    from pidengine import report

    if output_format == "table":
        return f"{source}\n{report.format_summary(records)}"
    if output_format == "csv":
        return report.summary_frame(records).to_csv(index=False)
    if output_format == "json":
        return json.dumps([{"dataset": r.dataset, "estimator": r.estimator, "status": r.status, "run_id": r.run_id,
                            "units": "bits", "error": r.error,
                            "table": report.pid_table(r.values, r.true_pid) if r.status == "ok" else []}
                           for r in records], indent=2) + "\n"
    return _markdown(records, source)


def _markdown(records: Sequence[RunRecord], source: str) -> str:
    from pidengine.report import SHORT, pid_table

    lines = [f"PID of {source}, bits; *not significant*: the part's interval does not clear its null", "",
             "| dataset | estimator | part | bits | interval | shuffled | truth |", "|---|---|---|---|---|---|---|"]
    for record in records:
        if record.status != "ok":
            lines.append(f"| {record.dataset} | {record.estimator} | | failed: {record.error.splitlines()[0]} | | | |")
            continue
        for row in pid_table(record.values, record.true_pid):
            value = f"{row['bits']:.3f}"
            value = f"*{value}*" if row.get("significant") is False else value
            interval = f"[{row['low']:.3f}, {row['high']:.3f}]" if "low" in row and "high" in row else ""
            lines.append(f"| {record.dataset} | {record.estimator} | {SHORT[row['part']]} | {value} | {interval} | "
                         f"{_cell(row.get('shuffled_bits'))} | {_cell(row.get('true_bits'))} |")
    return "\n".join(lines) + "\n"


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _draw(records: Sequence[RunRecord], folder: Path) -> None:
    """summary.png across datasets and one figure per dataset, as the run logged them."""
    from pidengine import report

    ok = [r for r in records if r.status == "ok"]
    if not ok:
        raise ConfigError("no successful PID run to draw")
    figures = {"summary.png": report.summary_figure(ok)}
    figures.update({f"{dataset}.png": figure for dataset, figure in report.dataset_figures(ok).items()})
    for name, figure in figures.items():
        write_atomically(folder / name, lambda path, figure=figure: figure.savefig(path, dpi=110, format="png"))
    print(f"drew {len(figures)} figures into {folder}", file=sys.stderr)
