"""Tables and figures of pipeline results: the PID table of one run, the summary across datasets, a stacked bar plot.

Pure functions over plain records (no tracking client, no orchestrator): the pipeline logs what they return, and a
notebook can call them on its own results. All values are in bits.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import pandas as pd

from pidengine.parts import ATOMS, PARTS

SHORT = {"redundancy": "R", "unique1": "U1", "unique2": "U2", "synergy": "S", "total": "total"}
COLOURS = {"redundancy": "#4c72b0", "unique1": "#55a868", "unique2": "#c44e52", "synergy": "#8172b2"}
Status = Literal["ok", "failed", "not available"]
# Differences between estimators smaller than this are not reported as disagreement, however narrow their intervals:
# two estimators of a deterministic gate both have zero-width intervals and differ by solver tolerance.
AGREEMENT_TOLERANCE_BITS = 0.02


@dataclass(frozen=True)
class RunRecord:
    """What happened to one (dataset, estimator) pair in a pipeline run.

    ``values`` is the estimator's flat result (parts in bits, ``<part>_low``/``<part>_high`` when intervals exist);
    empty unless ``status == "ok"``. ``error`` says why a run failed or an estimator was not available.
    """

    dataset: str
    estimator: str
    status: Status
    values: dict[str, Any] = field(default_factory=dict)
    true_pid: dict[str, float] | None = None
    error: str = ""
    seconds: float = 0.0
    cached: bool = False
    content_hash: str = ""
    run_id: str = ""


def pid_table(values: dict[str, Any], true_pid: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One row per part: ``part``, ``bits`` and, where known, ``low``, ``high``, ``std`` and ``true_bits``."""
    rows = []
    for part in PARTS:
        row: dict[str, Any] = {"part": part, "bits": float(values[part])}
        for suffix in ("low", "high", "std"):
            if values.get(f"{part}_{suffix}") is not None:
                row[suffix] = float(values[f"{part}_{suffix}"])
        if true_pid is not None and part in true_pid:
            row["true_bits"] = float(true_pid[part])
        rows.append(row)
    return rows


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of dicts as CSV text (columns in first-seen order)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def summary_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per (dataset, estimator): status, R, U1, U2, S, total (bits), intervals, truth, seconds, error."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"dataset": record.dataset, "estimator": record.estimator, "status": record.status}
        for part in PARTS:
            row[part] = float(record.values[part]) if record.status == "ok" else math.nan
        for part in PARTS:
            for suffix in ("low", "high"):
                value = record.values.get(f"{part}_{suffix}")
                row[f"{part}_{suffix}"] = float(value) if value is not None else math.nan
        for part in ATOMS:
            row[f"true_{part}"] = float(record.true_pid[part]) if record.true_pid else math.nan
        row.update(seconds=record.seconds, cached=record.cached, error=record.error, run_id=record.run_id)
        rows.append(row)
    return pd.DataFrame(rows)


def format_summary(records: Sequence[RunRecord]) -> str:
    """The summary as a fixed-width text table (bits), with the known truth of synthetic datasets below each one."""
    header = f"{'dataset':<24}{'estimator':<10}" + "".join(f"{SHORT[p]:>8}" for p in PARTS) + f"{'time':>8}  status"
    lines = ["PID per dataset and estimator (bits); (in brackets): not significant, its interval does not clear the "
             "null; 'shuffled' rows: the same estimate with the labels permuted (its bias floor); 'truth' rows: the "
             "known PID of synthetic sources", header]
    for index, record in enumerate(records):
        if record.status == "ok":
            faint = insignificant_parts(record)
            # A bracketed negative value fills all 8 characters: a space keeps it apart from its neighbour.
            values = "".join(
                f"{f' ({float(record.values[p]):.3f})' if p in faint else f'{float(record.values[p]):.3f}':>8}"
                for p in PARTS
            )
            cached = " (cached)" if record.cached else ""
            status = f"ok{cached}"
        else:
            values = "".join(f"{'-':>8}" for _ in PARTS)
            status = f"{record.status.upper()}: {record.error.splitlines()[0][:90] if record.error else ''}"
        lines.append(f"{record.dataset:<24}{record.estimator:<10}{values}{record.seconds:>7.1f}s  {status}")
        if record.status == "ok" and f"shuffled_{PARTS[0]}" in record.values:
            null = "".join(f"{float(record.values[f'shuffled_{p}']):>8.3f}" for p in PARTS)
            lines.append(f"{'':<24}{'shuffled':<10}{null}")
        last_of_dataset = index + 1 == len(records) or records[index + 1].dataset != record.dataset
        if record.true_pid and last_of_dataset:
            truth = (
                "".join(f"{record.true_pid[p]:>8.3f}" for p in ATOMS)
                + f"{sum(record.true_pid[p] for p in ATOMS):>8.3f}"
            )
            lines.append(f"{'':<24}{'truth':<10}{truth}")
    ok = sum(r.status == "ok" for r in records)
    failed = sum(r.status == "failed" for r in records)
    lines.append(f"{ok} of {len(records)} runs ok, {failed} failed, {len(records) - ok - failed} not available")
    return "\n".join(lines)


@dataclass(frozen=True)
class Agreement:
    """The difference ``first - second`` of one part between two estimators on one dataset, in bits.

    ``low`` and ``high`` bound it at the estimators' own confidence level, combining each side's distance from its
    estimate to its interval's end in quadrature (independent estimates).
    """

    dataset: str
    first: str
    second: str
    part: str
    difference: float
    low: float
    high: float

    @property
    def disagree(self) -> bool:
        """Whether the difference's interval clears :data:`AGREEMENT_TOLERANCE_BITS` on either side: the estimators
        disagree beyond their intervals by more than a difference that matters."""
        return self.low > AGREEMENT_TOLERANCE_BITS or self.high < -AGREEMENT_TOLERANCE_BITS


def estimator_agreement(records: Sequence[RunRecord]) -> list[Agreement]:
    """Every part's difference for every pair of estimators that both have intervals on the same dataset."""
    by_dataset: dict[str, list[RunRecord]] = {}
    for record in records:
        if record.status == "ok" and all(
            is_finite_number(record.values.get(f"{p}_{s}")) for p in PARTS for s in ("low", "high")
        ):
            by_dataset.setdefault(record.dataset, []).append(record)
    rows = []
    for dataset, group in by_dataset.items():
        for i, first in enumerate(group):
            for second in group[i + 1:]:
                for part in PARTS:
                    a, b = float(first.values[part]), float(second.values[part])
                    below = math.hypot(a - first.values[f"{part}_low"], second.values[f"{part}_high"] - b)
                    above = math.hypot(first.values[f"{part}_high"] - a, b - second.values[f"{part}_low"])
                    rows.append(Agreement(dataset, first.estimator, second.estimator, part, a - b, a - b - below,
                                          a - b + above))
    return rows


def format_disagreements(agreements: Sequence[Agreement]) -> str:
    """One warning line per (dataset, pair of estimators) that disagree beyond their intervals, naming the parts;
    empty when all agree."""
    grouped: dict[tuple[str, str, str], list[Agreement]] = {}
    for row in agreements:
        if row.disagree:
            grouped.setdefault((row.dataset, row.first, row.second), []).append(row)
    return "\n".join(
        f"warning: {dataset}: {first} and {second} disagree beyond their intervals on "
        + ", ".join(f"{SHORT[r.part]} ({r.difference:+.3f} bits, [{r.low:+.3f}, {r.high:+.3f}])" for r in rows)
        for (dataset, first, second), rows in grouped.items()
    )


def agreement_frame(agreements: Sequence[Agreement]) -> pd.DataFrame:
    """The agreement rows as a table (one row per dataset, pair and part, with ``disagree``)."""
    return pd.DataFrame([{**asdict(row), "disagree": row.disagree} for row in agreements],
                        columns=[*(f.name for f in fields(Agreement)), "disagree"])


def is_finite_number(value: Any) -> bool:
    """A real, finite number (not a bool, None or NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def stacked_bar_figure(
    bars: Sequence[tuple[str, dict[str, float]]],
    title: str = "Partial information decomposition",
    errors: Sequence[dict[str, tuple[float, float]] | None] | None = None,
    insignificant: Sequence[set[str]] | None = None,
):
    """A stacked bar per label: R, U1, U2, S (bits) stacked upward; a negative part is drawn below zero.

    Parameters
    ----------
    bars : sequence of (label, {part: bits})
    title : str
    errors : sequence of {part: (low, high)} or None, optional
        Intervals of the total, drawn as an error bar on each stack.
    insignificant : sequence of sets of part names, optional
        Per bar, the parts whose interval does not clear the null: drawn hatched and pale.

    Returns
    -------
    matplotlib.figure.Figure
        Built without pyplot (no display needed); save it with ``fig.savefig``.
    """
    from matplotlib.figure import Figure

    width = max(4.0, 0.55 * len(bars) + 2.0)
    fig = Figure(figsize=(width, 4.2), layout="constrained")
    ax = fig.add_subplot()
    positions = range(len(bars))
    up = [0.0] * len(bars)
    down = [0.0] * len(bars)
    for part in ATOMS:
        heights = [float(values.get(part, 0.0)) for _, values in bars]
        bottoms = [up[i] if h >= 0 else down[i] for i, h in enumerate(heights)]
        faint = [bool(insignificant and part in insignificant[i]) for i in positions]
        drawn = ax.bar(positions, heights, bottom=bottoms, color=COLOURS[part], label=SHORT[part], width=0.7)
        for patch, is_faint in zip(drawn, faint):
            if is_faint:
                patch.set_alpha(0.35)
                patch.set_hatch("///")
        for i, h in enumerate(heights):
            if h >= 0:
                up[i] += h
            else:
                down[i] += h
    if errors is not None:
        for i, interval in enumerate(errors):
            if interval and "total" in interval:
                low, high = interval["total"]  # a percentile interval need not contain the point estimate
                ax.vlines(i, low, high, color="black", linewidth=1.0)
                ax.hlines([low, high], i - 0.12, i + 0.12, color="black", linewidth=1.0)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(
        list(positions), [label for label, _ in bars], rotation=60 if len(bars) > 3 else 0,
        ha="right" if len(bars) > 3 else "center", fontsize=8,
    )
    ax.set_ylabel("bits")
    if insignificant and any(insignificant):
        title += "\nhatched: not significant (its interval does not clear the null)"
    ax.set_title(title, fontsize=10)
    ax.legend(ncols=4, fontsize=8, loc="upper right")
    return fig


def insignificant_parts(record: RunRecord) -> set[str]:
    """The parts whose ``<part>_significant`` flag is False (an estimator without the flag has none)."""
    return {part for part in PARTS if record.values.get(f"{part}_significant") is False}


def record_bars(record: RunRecord) -> list[tuple[str, dict[str, float]]]:
    """The bars of one run's plot: the estimate, and the known truth when the source has one."""
    bars = [(record.estimator, {p: float(record.values[p]) for p in ATOMS})]
    if record.true_pid:
        bars.append(("truth", {p: float(record.true_pid[p]) for p in ATOMS}))
    return bars


def accuracy_matrix(reports: Sequence[Any], failed: Sequence[tuple[str, str]] = ()) -> str:
    """Test accuracy of every (dataset, family) as a text matrix (``FAILED`` where training failed).

    ``reports`` are :class:`~pidengine.models.sweep.ModelReport` objects; ``failed`` lists (dataset, family) pairs.
    """
    families = list(dict.fromkeys([r.family for r in reports] + [f for _, f in failed]))
    datasets = list(dict.fromkeys([r.dataset for r in reports] + [d for d, _ in failed]))
    cells = {(r.dataset, r.family): f"{r.test_accuracy:.3f}" for r in reports}
    cells.update(dict.fromkeys(failed, "FAILED"))
    lines = [f"{'test accuracy':<24}" + "".join(f"{_short(f):>10}" for f in families)]
    for name in datasets:
        lines.append(f"{name:<24}" + "".join(f"{cells.get((name, f), '-'):>10}" for f in families))
    return "\n".join(lines)


def _short(family: str) -> str:
    return family.removesuffix("_fusion").replace("_", "")[:9]
