"""Tables and figures of pipeline results: the PID table of one run, the summary across datasets, their figures.

Pure functions over plain records (no tracking client, no orchestrator): the pipeline logs what they return, and a
notebook can call them on its own results. All values are in bits.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import pandas as pd

from pidengine.parts import ATOMS, PARTS, PartEstimate, flat_key, read_parts

SHORT = {"redundancy": "R", "unique1": "U1", "unique2": "U2", "synergy": "S", "total": "total"}
# One colour per estimator of a dataset, in the order of its runs (matplotlib's tab10, colour-blind friendly enough
# for the three or four estimators a dataset has).
ESTIMATOR_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
Status = Literal["ok", "failed"]
# Differences between estimators smaller than this are not reported as disagreement, however narrow their intervals:
# two estimators of a deterministic gate both have zero-width intervals and differ by solver tolerance.
AGREEMENT_TOLERANCE_BITS = 0.02


@dataclass(frozen=True)
class RunRecord:
    """What happened to one (dataset, estimator) pair in a pipeline run.

    ``values`` is the estimator's flat result (:mod:`pidengine.parts`: its parts in bits with their intervals,
    significance and null where computed, and its diagnostics); empty unless ``status == "ok"``. ``error`` says why
    a run failed.
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

    @functools.cached_property
    def parts(self) -> dict[str, PartEstimate]:
        """The figures of each part (empty unless ok); read once, as the tables and figures ask for them often."""
        return read_parts(self.values) if self.status == "ok" else {}


def truth_with_total(true_pid: dict[str, float] | None) -> dict[str, float]:
    """A known PID (four parts) with its total; empty when the source has no known PID."""
    return {**true_pid, "total": sum(true_pid[p] for p in ATOMS)} if true_pid else {}


def pid_table(values: dict[str, Any], true_pid: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One row per part: ``part``, ``bits`` and, where known, ``low``, ``high``, ``std``, ``shuffled_bits`` (the
    estimate on permuted labels), ``significant`` and ``true_bits``."""
    truth = truth_with_total(true_pid)
    rows = []
    for part, estimate in read_parts(values).items():
        row: dict[str, Any] = {"part": part, "bits": float(estimate.value)}
        for name in ("low", "high", "std"):
            if getattr(estimate, name) is not None:
                row[name] = float(getattr(estimate, name))
        if estimate.shuffled is not None:
            row["shuffled_bits"] = float(estimate.shuffled)
        if isinstance(estimate.significant, bool):
            row["significant"] = estimate.significant
        if part in truth:
            row["true_bits"] = float(truth[part])
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
    """One row per (dataset, estimator): status, R, U1, U2, S, total (bits), intervals, shuffled-label floor,
    significance, truth, seconds, error."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"dataset": record.dataset, "estimator": record.estimator, "status": record.status}
        parts = {part: record.parts.get(part, PartEstimate(math.nan)) for part in PARTS}
        row.update({part: _number(parts[part].value) for part in PARTS})
        row.update({flat_key(part, name): _number(getattr(parts[part], name))
                    for part in PARTS for name in ("low", "high")})
        for part in PARTS:
            row[flat_key(part, "shuffled")] = _number(parts[part].shuffled)
            row[f"significant_{part}"] = parts[part].significant
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
        if record.status == "ok" and all(record.parts[p].shuffled is not None for p in PARTS):
            null = "".join(f"{float(record.parts[p].shuffled):>8.3f}" for p in PARTS)
            lines.append(f"{'':<24}{'shuffled':<10}{null}")
        last_of_dataset = index + 1 == len(records) or records[index + 1].dataset != record.dataset
        if record.true_pid and last_of_dataset:
            known = truth_with_total(record.true_pid)
            truth = "".join(f"{known[p]:>8.3f}" for p in PARTS)
            lines.append(f"{'':<24}{'truth':<10}{truth}")
    ok = sum(r.status == "ok" for r in records)
    failed = sum(r.status == "failed" for r in records)
    lines.append(f"{ok} of {len(records)} runs ok, {failed} failed")
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
            is_finite_number(getattr(record.parts[p], s)) for p in PARTS for s in ("low", "high")
        ):
            by_dataset.setdefault(record.dataset, []).append(record)
    rows = []
    for dataset, group in by_dataset.items():
        for i, first in enumerate(group):
            for second in group[i + 1:]:
                for part in PARTS:
                    one, two = first.parts[part], second.parts[part]
                    a, b = float(one.value), float(two.value)
                    below = math.hypot(a - one.low, two.high - b)
                    above = math.hypot(one.high - a, b - two.low)
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


def _number(value: float | None) -> float:
    return float(value) if value is not None else math.nan


def is_finite_number(value: Any) -> bool:
    """A real, finite number (not a bool, None or NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pid_figure(records: Sequence[RunRecord], title: str = ""):
    """One dataset's PID: per part, a bar per estimator with its interval and its shuffled-label floor, and the
    truth where it is known.

    Parameters
    ----------
    records : sequence of RunRecord
        The runs of one dataset (those not ``ok`` are left out).
    title : str, optional
        Default: the dataset's name.

    Returns
    -------
    matplotlib.figure.Figure
        Built without pyplot (no display needed); save it with ``fig.savefig``. Parts whose interval does not clear
        their null are drawn hatched and pale; the legend sits beside the axes, never over a bar.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ok = [r for r in records if r.status == "ok"]
    fig = Figure(figsize=(8.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    slot = 0.8 / max(len(ok), 1)
    handles = []
    for j, record in enumerate(ok):
        colour = ESTIMATOR_COLOURS[j % len(ESTIMATOR_COLOURS)]
        xs = [i - 0.4 + slot * (j + 0.5) for i in range(len(PARTS))]
        heights = [float(record.values[p]) for p in PARTS]
        faint = insignificant_parts(record)
        drawn = ax.bar(xs, heights, slot * 0.9, color=colour)
        for patch, part in zip(drawn, PARTS):
            if part in faint:
                patch.set_alpha(0.35)
                patch.set_hatch("///")
        for x, part in zip(xs, PARTS):
            low, high, null = record.parts[part].low, record.parts[part].high, record.parts[part].shuffled
            if is_finite_number(low) and is_finite_number(high):  # a percentile interval may miss its estimate
                ax.vlines(x, float(low), float(high), color="black", linewidth=1.0)
            if is_finite_number(null):
                ax.hlines(float(null), x - slot * 0.45, x + slot * 0.45, color="0.25", linewidth=1.4,
                          linestyles=(0, (1, 1)))
        handles.append(Patch(color=colour, label=record.estimator))
    known = truth_with_total(next((r.true_pid for r in ok if r.true_pid), None))
    if known:
        for i, part in enumerate(PARTS):
            ax.hlines(known[part], i - 0.45, i + 0.45, color="black", linewidth=2.0)
        handles.append(Line2D([], [], color="black", linewidth=2.0, label="truth"))
    if any(is_finite_number(r.parts[p].low) for r in ok for p in PARTS):
        handles.append(Line2D([], [], color="black", linewidth=1.0, label="95 % interval"))
    if any(is_finite_number(r.parts[p].shuffled) for r in ok for p in PARTS):
        handles.append(Line2D([], [], color="0.25", linewidth=1.4, linestyle=(0, (1, 1)),
                              label="shuffled labels"))
    if any(insignificant_parts(r) for r in ok):
        handles.append(Patch(facecolor="white", edgecolor="0.4", hatch="///", label="not significant"))
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(range(len(PARTS)), [f"{p}\n({SHORT[p]})" if p != "total" else p for p in PARTS], fontsize=9)
    ax.set_ylabel("bits")
    ax.set_title(title or (ok[0].dataset if ok else ""), fontsize=10)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def dataset_figures(records: Sequence[RunRecord]) -> dict[str, Any]:
    """:func:`pid_figure` of each dataset with a successful run, its estimators side by side: ``{dataset: Figure}``."""
    ok = [r for r in records if r.status == "ok"]
    datasets = dict.fromkeys(r.dataset for r in ok)
    return {dataset: pid_figure([r for r in ok if r.dataset == dataset]) for dataset in datasets}


def summary_figure(records: Sequence[RunRecord], title: str = "PID per dataset and estimator"):
    """Every (dataset, estimator) as a row of a heat map: R, U1, U2 and S coloured by their share of the total,
    the bits written in each cell; a truth row under each synthetic dataset. Legible at 1,000 px for any number
    of datasets (the figure grows in height, not width).

    Returns
    -------
    matplotlib.figure.Figure
        Values in brackets (and grey) did not clear their null.
    """
    import numpy as np
    from matplotlib.figure import Figure

    rows: list[tuple[str, str, dict[str, float], set[str]]] = []  # dataset, row name, bits per part, faint parts
    ok = [r for r in records if r.status == "ok"]
    for index, record in enumerate(ok):
        rows.append((record.dataset, record.estimator, {p: float(record.values[p]) for p in PARTS},
                     insignificant_parts(record)))
        last_of_dataset = index + 1 == len(ok) or ok[index + 1].dataset != record.dataset
        if record.true_pid and last_of_dataset:
            rows.append((record.dataset, "truth", truth_with_total(record.true_pid), set()))
    shares = np.array([[values[p] / values["total"] if values["total"] > 1e-9 else 0.0 for p in ATOMS]
                       for _, _, values, _ in rows]).reshape(len(rows), len(ATOMS))
    fig = Figure(figsize=(8.0, 1.3 + 0.26 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.clip(shares, 0.0, 1.0), cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto",
                      extent=(-0.5, len(ATOMS) - 0.5, len(rows) - 0.5, -0.5))
    for i, (_, name, values, faint) in enumerate(rows):
        for j, part in enumerate(PARTS):
            text = f"{values[part]:.3f}" if abs(values[part]) >= 0.0005 else "0.000"  # never "-0.000"
            dark = j < len(ATOMS) and shares[i, j] > 0.6
            colour = ("0.8" if dark else "0.55") if part in faint else ("white" if dark else "black")
            ax.text(j, i, f"({text})" if part in faint else text, ha="center", va="center", fontsize=8,
                    color=colour, fontweight="bold" if name == "truth" else "normal")
    for i in range(1, len(rows)):
        if rows[i][0] != rows[i - 1][0]:  # a line between datasets
            ax.axhline(i - 0.5, color="0.3", linewidth=0.8)
    ax.set_xlim(-0.5, len(PARTS) - 0.5)
    ax.set_xticks(range(len(PARTS)), [SHORT[p] for p in PARTS], fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)), [f"{dataset} / {name}" for dataset, name, _, _ in rows], fontsize=8)
    ax.set_title(f"{title} (bits); colour: share of the total; (grey): not significant", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=min(1.0, 6.0 / max(len(rows), 1)), label="share of the total")
    return fig


def selection_figure(reference: dict[str, dict[str, float]], datasets: dict[str, dict[str, float]],
                     nearest: dict[str, str] | None = None, title: str = "Model selection: normalised PID"):
    """Where selection looks: the reference datasets and the datasets to choose for, on the triangle of the shares
    of redundancy, uniqueness (U1 + U2) and synergy, each dataset joined to the reference whose families it was
    recommended.

    Parameters
    ----------
    reference, datasets : {name: {part: bits}}
        PIDs (R, U1, U2, S) of the reference datasets and of the datasets selected for; parts below zero count as 0,
        as in :func:`pidengine.selection.normalized_pid`.
    nearest : {dataset: reference name}, optional
        The reference each dataset's recommendation came from (a dashed line).

    Returns
    -------
    matplotlib.figure.Figure
        Selection measures L1 distances between the four shares; the triangle adds U1 and U2, so the share of U1
        in the uniqueness is written beside a dataset where it is unbalanced (below 1/4 or above 3/4).
    """
    import math

    from matplotlib.figure import Figure

    from pidengine.selection import normalized_pid

    def place(pid: dict[str, float]) -> tuple[float, float, float]:
        r, u1, u2, s = normalized_pid(pid)
        return s + r / 2, r * math.sqrt(3) / 2, (u1 / (u1 + u2) if u1 + u2 > 1e-9 else 0.5)

    fig = Figure(figsize=(8.0, 7.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1, 0.5, 0], [0, 0, math.sqrt(3) / 2, 0], color="black", linewidth=0.8)
    for x, y, text, align in ((-0.03, 0.03, "unique\n(U1 + U2)", "right"), (1.03, 0.03, "synergy\n(S)", "left"),
                              (0.5, math.sqrt(3) / 2 + 0.03, "redundancy (R)", "center")):
        ax.text(x, y, text, ha=align, va="bottom", fontsize=9, fontweight="bold")
    points = {name: place(pid) for name, pid in reference.items()}
    # Reference sets often coincide (every pure-synergy gate sits on one corner): one marker and one label for each
    # place, the names stacked.
    places: list[list[str]] = []
    for name, (x, y, _) in points.items():
        close = next((names for names in places if math.dist(points[names[0]][:2], (x, y)) < 0.08), None)
        if close is None:
            places.append([name])
        else:
            close.append(name)
    for names in places:
        x, y, _ = points[names[0]]
        ax.scatter(x, y, s=28, color="0.55", marker="s", zorder=2)
        ax.annotate("\n".join(sorted(names)), (x, y), xytext=(4, -3), textcoords="offset points", fontsize=7,
                    color="0.4", va="top")
    for name, pid in datasets.items():
        x, y, u1_share = place(pid)
        if nearest and nearest.get(name) in points:
            ax.plot([x, points[nearest[name]][0]], [y, points[nearest[name]][1]], color="#1f77b4", linewidth=0.8,
                    linestyle="--", zorder=1)
        ax.scatter(x, y, s=46, color="#1f77b4", marker="o", zorder=3)
        unbalanced = f" (U1 {u1_share:.0%} of U)" if not 0.25 <= u1_share <= 0.75 else ""
        ax.annotate(name + unbalanced, (x, y), xytext=(5, 3), textcoords="offset points", fontsize=8,
                    color="#1f4e79")
    ax.scatter([], [], s=28, color="0.55", marker="s", label="reference datasets")
    ax.scatter([], [], s=46, color="#1f77b4", marker="o", label="datasets (dashed: the reference recommended from)")
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.set_xlim(-0.22, 1.22)
    ax.set_ylim(-0.14, math.sqrt(3) / 2 + 0.08)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{title} (shares of R + U1 + U2 + S)", fontsize=10)
    return fig


def insignificant_parts(record: RunRecord) -> set[str]:
    """The parts whose significance flag is False (an estimator without the flag has none)."""
    return {part for part, estimate in record.parts.items() if estimate.significant is False}


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
