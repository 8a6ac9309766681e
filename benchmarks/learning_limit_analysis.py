"""Coverage, error and flag figures of the learning-curve candidates, from ``benchmarks/learning_limit.py`` records.

    python benchmarks/learning_limit_analysis.py runs.jsonl [more.jsonl ...] [--shuffled shuffled.jsonl]

Candidates (``g``: a part's plug-in at full minus at reduced training size, ``f`` the fraction; under a deficit
decaying like ``m^-a`` in the training size ``m`` the deficit left at full size is ``g / (f^-a - 1)``):

``base``        the estimate as it is: bias-corrected, basic bootstrap interval.
``flag``        ``base`` with a part flagged learning-limited when ``|g|`` exceeds both ``--threshold`` bits and
                ``--z`` paired-bootstrap standard deviations of ``g``; coverage is also given among unflagged parts.
``flag-run``    every part of a run flagged when any part of it is.
``flag-info``   the informations flagged instead (I(C1;Y) = R + U1, I(C2;Y) = R + U2, I(X1,X2;Y) = total, same test);
                R, U1, U2 flagged when either code information is, S and the total when any information is or
                when the joint models found less than a significant union (S reported 0): the estimator's rule.
``widen-a``     ``base`` with the interval extended, on the side the part is still moving, by ``g / (f^-a - 1)``.
``shift-a``     the point and interval moved by ``g / (f^-a - 1)`` (Richardson-style extrapolation).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

PARTS = ("redundancy", "unique1", "unique2", "synergy", "total")


def load(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]


def part_rows(record: dict, threshold: float, z: float) -> list[dict]:
    samples, reduced = np.asarray(record["samples"]), np.asarray(record["reduced_samples"])
    gain_sd = np.nanstd(samples - reduced, axis=0)
    # parts (rows) -> informations (columns): I(C1;Y) = R + U1, I(C2;Y) = R + U2, I(X1,X2;Y) = total
    mix = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]])
    info_gain = np.array([record["plugin"][p] - record["reduced_plugin"][p] for p in PARTS])
    info_gain, info_sd = info_gain @ mix, np.nanstd((samples - reduced) @ mix, axis=0)
    grew = np.abs(info_gain) > np.maximum(threshold, z * info_sd)
    # as the estimator: S and the total also when the joint models found less than a significant union (S = 0)
    short = record["plugin"]["synergy"] == 0.0 and record["significant"]["total"]
    info_flags = [grew[:2].any()] * 3 + [grew.any() or short] * 2
    rows = []
    for i, part in enumerate(PARTS):
        truth, value = record["truth"][part], record["corrected"][part]
        low, high = record["intervals"][part]
        gain = record["plugin"][part] - record["reduced_plugin"][part]
        rows.append(dict(set=record["set"], n=record["n"], seed=record["seed"], part=part, truth=truth, value=value,
                         low=low, high=high, gain=gain, gain_sd=float(gain_sd[i]),
                         flag=bool(abs(gain) > max(threshold, z * gain_sd[i])), fraction=record["fraction"],
                         flag_info=bool(info_flags[i])))
    return rows


def candidate(row: dict, name: str) -> tuple[float, float, float]:
    """(value, low, high) of a part under a candidate."""
    value, low, high, gain = row["value"], row["low"], row["high"], row["gain"]
    if name.startswith("flag") or name == "base":
        return value, low, high
    kind, a = name.split("-")
    deficit = gain / (row["fraction"] ** -float(a) - 1)
    if kind == "shift":
        return value + deficit, low + deficit, high + deficit
    return value, low + min(deficit, 0.0), high + max(deficit, 0.0)


def summarise(rows: list[dict], names: list[str]) -> list[str]:
    out = ["| group | candidate | median largest error (bits) | coverage | median width (bits) | flag on covered "
           "| flag on missed | coverage unflagged |", "|---|---|---|---|---|---|---|---|"]
    groups = defaultdict(list)
    for row in rows:
        groups[f"n = {row['n']}"].append(row)
        groups["all"].append(row)
    for group, members in groups.items():
        for name in names:
            runs = defaultdict(list)
            covered, widths = [], []
            for row in members:
                value, low, high = candidate(row, name)
                runs[(row["set"], row["n"], row["seed"])].append(abs(value - row["truth"]))
                covered.append(low <= row["truth"] <= high)
                widths.append(high - low)
            covered = np.array(covered)
            flags = np.array([row["flag"] for row in members])
            if name == "flag-run":
                flagged_runs = {(r["set"], r["n"], r["seed"]) for r in members if r["flag"]}
                flags = np.array([(r["set"], r["n"], r["seed"]) in flagged_runs for r in members])
            if name == "flag-info":
                flags = np.array([r["flag_info"] for r in members])
            largest = np.median([max(v) for v in runs.values()])
            line = (f"| {group} | {name} | {largest:.3f} | {covered.mean():.0%} of {len(covered)} "
                    f"| {np.median(widths):.3f}")
            if name.startswith("flag"):
                unflagged = covered[~flags]
                line += (f" | {flags[covered].mean() if covered.any() else float('nan'):.0%} of {covered.sum()} "
                         f"| {flags[~covered].mean() if (~covered).any() else float('nan'):.0%} of {(~covered).sum()} "
                         f"| {unflagged.mean() if len(unflagged) else float('nan'):.0%} of {len(unflagged)} |")
            else:
                line += " | | | |"
            out.append(line)
    return out


def refit_table(records: list[dict], refits: list[dict]) -> str:
    """Learning variability: each part's change when the same data is refitted with another estimator seed, and the
    coverage of the basic interval widened (in quadrature) by 1.96 refit standard deviations (``|change| / √2``)."""
    by_key = {(r["set"], r["n"], r["seed"]): r for r in records if r["model_seed"] == r["seed"]}
    changes, covered, widened, widths = defaultdict(list), [], [], []
    for refit in refits:
        base = by_key.get((refit["set"], refit["n"], refit["seed"]))
        if base is None:
            continue
        for part in PARTS:
            change = refit["corrected"][part] - base["corrected"][part]
            changes[part].append(abs(change))
            value, (low, high), truth = base["corrected"][part], base["intervals"][part], base["truth"][part]
            half = np.hypot((high - low) / 2, 1.96 * abs(change) / np.sqrt(2))
            covered.append(low <= truth <= high)
            widened.append(value - half <= truth <= value + half)
            widths.append(2 * half)
    lines = ["| refits | " + " | ".join(f"median abs change {p}" for p in PARTS)
             + " | coverage basic | coverage widened | median width widened |", "|---" * (len(PARTS) + 4) + "|",
             f"| {len(changes['total'])} | " + " | ".join(f"{np.median(changes[p]):.3f}" for p in PARTS)
             + f" | {np.mean(covered):.0%} of {len(covered)} | {np.mean(widened):.0%} | {np.median(widths):.3f} |"]
    return "\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--shuffled", nargs="*", type=Path, default=[])
    parser.add_argument("--threshold", type=float, default=0.02)
    parser.add_argument("--z", type=float, default=2.0)
    parser.add_argument("--detail", action="store_true", help="print every (set, n, seed, part)")
    parser.add_argument("--refits", nargs="*", type=Path, default=[],
                        help="runs of the same data with another estimator seed (--model-seed): learning variability")
    args = parser.parse_args()
    records = load(args.runs)
    rows = [row for record in records for row in part_rows(record, args.threshold, args.z)]
    names = ["base", "flag", "flag-run", "flag-info", "widen-1", "widen-0.5", "shift-1", "shift-0.5"]
    if args.detail:
        print("| set | n | seed | part | error | interval − truth | gain | gain sd | flag |")
        print("|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            print(f"| {row['set']} | {row['n']} | {row['seed']} | {row['part']} | {row['value'] - row['truth']:+.3f} "
                  f"| [{row['low'] - row['truth']:+.3f}, {row['high'] - row['truth']:+.3f}] | {row['gain']:+.3f} "
                  f"| {row['gain_sd']:.3f} | {'yes' if row['flag'] else ''} |")
        print()
    print("\n".join(summarise(rows, names)))
    print("\n| part | flagged | missed | flagged among missed | median implied exponent a (deficit = g / (2^a - 1)),"
          " flagged parts with error of the gain's sign | range |\n|---|---|---|---|---|---|")
    for part in PARTS:
        members = [r for r in rows if r["part"] == part]
        missed = [r for r in members if not r["low"] <= r["truth"] <= r["high"]]
        exponents = [np.log2(1 + r["gain"] / (r["truth"] - r["value"])) for r in members
                     if r["flag"] and r["gain"] * (r["truth"] - r["value"]) > 0]
        flagged = sum(r["flag"] for r in members)
        spread = f"{np.min(exponents):.2f}–{np.max(exponents):.2f}" if exponents else ""
        print(f"| {part} | {flagged} of {len(members)} | {len(missed)} | {sum(r['flag'] for r in missed)} "
              f"| {np.median(exponents) if exponents else float('nan'):.2f} ({len(exponents)}) | {spread} |")
    if args.refits:
        print(refit_table(records, load(args.refits)))
    times = [(r["seconds"], r["reduced_seconds"]) for r in records]
    total, reduced = np.sum(times, axis=0)
    print(f"\nextra time of the reduced fits: {reduced / (total - reduced):.0%} of the estimate without them "
          f"({len(times)} runs)")
    if args.shuffled:
        shuffled = load(args.shuffled)
        print("\n| permuted labels | significant parts | flagged parts | significant after shift-1 / shift-0.5 "
              "| significant after widen-1 / widen-0.5 |\n|---|---|---|---|---|")
        srows = [row for record in shuffled for row in part_rows(record, args.threshold, args.z)]
        counts = {name: sum(candidate(row, name)[1] > 0 for row in srows) for name in names}
        significant = sum(significant for record in shuffled for significant in record["significant"].values())
        print(f"| {len(shuffled)} runs, {len(srows)} parts | {significant} | {sum(row['flag'] for row in srows)}"
              f" / {sum(row['flag_info'] for row in srows)} (part / information flag) "
              f"| {counts['shift-1']} / {counts['shift-0.5']} | {counts['widen-1']} / {counts['widen-0.5']} |")


if __name__ == "__main__":
    main()
