import math
from pathlib import Path

import numpy as np
import pytest

from pidengine import ConfigError, InvalidJointError
from pidengine.io.location import Location
from pidengine.selection import ReferenceRow, normalized_pid, recommend, selection_score

REFERENCE = [
    ReferenceRow("redundant", {"redundancy": 1.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0},
                 {"late_fusion": 0.99, "early_fusion": 0.98, "agreement": 0.99, "tensor_fusion": 0.97}),
    ReferenceRow("synergistic", {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 2.0},
                 {"late_fusion": 0.50, "early_fusion": 0.95, "agreement": 0.52, "tensor_fusion": 0.97}),
]


def test_normalised_pid_is_a_distribution_and_ignores_noise_below_zero():
    assert normalized_pid({"redundancy": 1.0, "unique1": -1e-9, "unique2": 1.0, "synergy": 2.0}).tolist() == [
        0.25, 0.0, 0.25, 0.5]
    with pytest.raises(InvalidJointError, match="no part of the PID is above zero"):
        normalized_pid({"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0})
    with pytest.raises(InvalidJointError, match="lacks"):
        normalized_pid({"redundancy": 1.0})


def test_a_part_that_does_not_clear_its_null_counts_as_zero():
    pid = {"redundancy": 1.0, "unique1": 0.5, "unique2": 0.5, "synergy": 2.0}
    assert normalized_pid(pid, {"synergy": False, "redundancy": True}).tolist() == [0.5, 0.25, 0.25, 0.0]
    assert normalized_pid(pid, {}).tolist() == normalized_pid(pid).tolist() == [0.25, 0.125, 0.125, 0.5]
    with pytest.raises(InvalidJointError, match="clears its null"):
        normalized_pid(pid, dict.fromkeys(pid, False))


def test_significance_moves_a_dataset_to_another_reference():
    # Shares (0.4, 0, 0, 0.6): nearer "synergistic" (L1 0.8) than "redundant" (1.2). With its synergy not above the
    # null the dataset is all redundancy: distance 0 to "redundant".
    pid = {"redundancy": 0.4, "unique1": 0.0, "unique2": 0.0, "synergy": 0.6}
    assert recommend("d", pid, REFERENCE, k=1).nearest == "synergistic"
    masked = recommend("d", pid, REFERENCE, k=1, significant={"synergy": False, "redundancy": True})
    assert masked.nearest == "redundant" and masked.distance == pytest.approx(0.0)
    assert masked.compared == {**pid, "synergy": 0.0}
    # On the reference side: "mixed" is (0.5, 0, 0, 0.5) as estimated, all synergy once its redundancy is flagged.
    mixed = ReferenceRow("mixed", {"redundancy": 1.0, "unique1": 0.0, "unique2": 0.0, "synergy": 1.0},
                         {"late_fusion": 0.5, "early_fusion": 0.6, "agreement": 0.5, "tensor_fusion": 0.9},
                         {"redundancy": False, "unique1": False, "unique2": False, "synergy": True})
    only_synergy = {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 1.0}
    result = recommend("s", only_synergy, [REFERENCE[0], mixed], k=1)
    assert result.nearest == "mixed" and result.distance == pytest.approx(0.0) and result.families == ("tensor_fusion",)
    # A reference with no significant part has no place among the shares: it is left out, not an error.
    silent = ReferenceRow("silent", only_synergy, mixed.accuracy, dict.fromkeys(only_synergy, False))
    assert mixed.placed and not silent.placed
    result = recommend("s", only_synergy, [REFERENCE[0], silent], k=1)
    assert [name for name, _ in result.neighbours] == ["redundant"]
    with pytest.raises(ConfigError, match="no dataset with a significant part"):
        recommend("s", only_synergy, [silent], k=1)


def test_references_equally_near_are_pooled():
    # "u1-a" and "u1-b" coincide once their insignificant parts count as 0. Relative to each one's best, averaged:
    # late_fusion (1 + 0.6/0.9)/2 = 0.833, tensor_fusion (0.7/1.0 + 0.9/0.9)/2 = 0.85, early_fusion
    # (0.9/1.0 + 0.5/0.9)/2 = 0.728: tensor_fusion, then late_fusion; "u1-a" alone would give late_fusion.
    zero = {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}
    a = ReferenceRow("u1-a", {**zero, "unique1": 1.0, "synergy": 0.2},
                     {"late_fusion": 1.0, "tensor_fusion": 0.7, "early_fusion": 0.9}, {"synergy": False})
    b = ReferenceRow("u1-b", {**zero, "unique1": 2.0}, {"late_fusion": 0.6, "tensor_fusion": 0.9, "early_fusion": 0.5})
    far = ReferenceRow("r", {**zero, "redundancy": 1.0},
                       {"late_fusion": 0.9, "tensor_fusion": 0.9, "early_fusion": 1.0})
    result = recommend("d", {**zero, "unique1": 1.0, "redundancy": 0.1}, [far, b, a], k=2)
    assert (result.nearest, result.tied) == ("u1-a", ("u1-b",))
    assert result.families == ("tensor_fusion", "late_fusion")
    assert recommend("d", {**zero, "unique1": 1.0}, [far, a], k=1).families == ("late_fusion",)


def test_nearest_reference_by_l1_gives_its_best_families():
    result = recommend(
        "mostly-synergy", {"redundancy": 0.1, "unique1": 0.0, "unique2": 0.0, "synergy": 0.9}, REFERENCE, k=2
    )
    assert result.nearest == "synergistic"
    assert result.distance == pytest.approx(0.2)  # |0.1 - 0| + |0.9 - 1|
    assert result.families == ("tensor_fusion", "early_fusion")
    assert [name for name, _ in result.neighbours] == ["synergistic", "redundant"]
    assert result.neighbours[1][1] == pytest.approx(1.8)


def test_ties_go_to_the_family_stronger_over_the_whole_table_then_to_the_name():
    # On "redundant", late_fusion and agreement tie at 0.99; over both references agreement is stronger:
    # (0.99/0.99 + 0.52/0.97) / 2 = 0.768 against late_fusion's (1 + 0.50/0.97) / 2 = 0.758.
    result = recommend("r", {"redundancy": 1.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}, REFERENCE, k=2)
    assert result.families == ("agreement", "late_fusion")
    # With a tolerance of 0.01, early_fusion (0.98; strength (0.98/0.99 + 0.95/0.97)/2 = 0.985) joins the tie and wins.
    wide = recommend("r", {"redundancy": 1.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}, REFERENCE, k=2,
                     tie_tolerance=0.0101)
    assert wide.families == ("early_fusion", "agreement")
    same = [ReferenceRow("a", {"redundancy": 1.0, "unique1": 0, "unique2": 0, "synergy": 0}, {"x": 0.9, "w": 0.9})]
    assert recommend("b", same[0].pid, same, k=2).families == ("w", "x")


def test_selection_score():
    accuracy = {"late_fusion": 0.6, "early_fusion": 0.9, "tensor_fusion": 0.8}
    assert selection_score(("late_fusion", "tensor_fusion"), accuracy) == pytest.approx(100 * 0.8 / 0.9)
    assert selection_score(["early_fusion"], accuracy) == 100.0
    with pytest.raises(ConfigError, match="no accuracy"):
        selection_score(["agreement"], accuracy)
    with pytest.raises(ConfigError, match="empty"):
        recommend("x", {"redundancy": 1, "unique1": 0, "unique2": 0, "synergy": 0}, [])


PIDS = {
    "redundant": REFERENCE[0].pid,
    "synergistic": REFERENCE[1].pid,
    "new-synergy": {"redundancy": 0.2, "unique1": 0.0, "unique2": 0.0, "synergy": 0.8},
    "new-redundancy": {"redundancy": 0.9, "unique1": 0.1, "unique2": 0.0, "synergy": 0.0},
}
ACCURACY = {
    "redundant": REFERENCE[0].accuracy,
    "synergistic": REFERENCE[1].accuracy,
    "new-synergy": {"late_fusion": 0.55, "early_fusion": 0.90, "agreement": 0.56, "tensor_fusion": 0.93},
    "new-redundancy": {"late_fusion": 0.80, "early_fusion": 0.82, "agreement": 0.79, "tensor_fusion": 0.84},
}


def test_reference_table_round_trip_is_versioned_and_tamper_evident(tmp_path):
    from pidengine.selection import ReferenceTable, build_reference

    table, excluded = build_reference(PIDS, ACCURACY, ["redundant", "synergistic"], {"train": {"seed": 0}})
    assert excluded == {} and [r.dataset for r in table.rows] == ["redundant", "synergistic"]
    path = table.save(tmp_path)
    assert path.name == f"reference-{table.key}.json"
    assert (tmp_path / "reference.json").read_text() == path.read_text()
    loaded = ReferenceTable.load(tmp_path)
    assert loaded == table and loaded.key == table.key
    mtime = path.modified()
    table.save(tmp_path)  # same content, same key: nothing rewritten
    assert path.modified() == mtime
    # Other accuracies are another version; reference.json is replaced, the old version stays.
    changed, _ = build_reference(PIDS, {**ACCURACY, "redundant": {**ACCURACY["redundant"], "agreement": 0.5}},
                                 ["redundant", "synergistic"])
    assert changed.key != table.key and changed.save(tmp_path).exists() and path.exists()
    assert ReferenceTable.load(tmp_path).key == changed.key
    path.write_text(path.read_text().replace("0.99", "0.98"))
    with pytest.raises(ConfigError, match="does not match its key"):
        ReferenceTable.load(path)
    with pytest.raises(ConfigError, match="no reference table"):
        ReferenceTable.load(tmp_path / "elsewhere")


def test_a_forged_reference_table_is_refused_and_repaired(tmp_path, monkeypatch):
    import json
    from dataclasses import replace

    from pidengine.selection import ReferenceTable, build_reference

    table, _ = build_reference(PIDS, ACCURACY, ["redundant", "synergistic"])
    path = table.save(tmp_path)
    # The forger ranks late fusion first and recomputes the unkeyed content hash, as the integrity probe did.
    document = json.loads(path.read_text())
    document["rows"][0]["accuracy"]["late_fusion"] = 1.0
    first = replace(table.rows[0], accuracy=document["rows"][0]["accuracy"])
    document["key"] = replace(table, rows=(first, *table.rows[1:])).key
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=r"signature does not match .* PIDENGINE_RESULTS_KEY"):
        ReferenceTable.load(path)
    # A table built under another key is refused the same way; the rebuild (same content) repairs the file.
    monkeypatch.setenv("PIDENGINE_RESULTS_KEY", "another-results-key-value")
    table.save(tmp_path)
    monkeypatch.delenv("PIDENGINE_RESULTS_KEY")
    with pytest.raises(ConfigError, match="signature does not match"):
        ReferenceTable.load(tmp_path)
    assert ReferenceTable.load(table.save(tmp_path)) == table


def test_reference_leaves_out_datasets_without_every_family():
    from pidengine.selection import build_reference

    partial = {**ACCURACY, "synergistic": {"late_fusion": 0.5}}
    table, excluded = build_reference(PIDS, partial, ["redundant", "synergistic", "absent"])
    assert [r.dataset for r in table.rows] == ["redundant"]
    assert excluded == {"synergistic": "families not trained: ['agreement', 'early_fusion', 'tensor_fusion']",
                        "absent": "no dataset PID"}


def test_select_recommends_and_scores_every_other_dataset():
    from pidengine.selection import Selection, build_reference, select

    table, _ = build_reference(PIDS, ACCURACY, ["redundant", "synergistic"])
    selection = select(PIDS, ACCURACY, table, k=2)
    assert set(selection.recommendations) == {"new-synergy", "new-redundancy"}
    assert selection.recommendations["new-synergy"].families == ("tensor_fusion", "early_fusion")
    assert selection.recommendations["new-redundancy"].families == ("agreement", "late_fusion")
    # 100 × best recommended ÷ best overall, by hand.
    assert selection.scores["new-synergy"] == pytest.approx(100.0)
    assert selection.scores["new-redundancy"] == pytest.approx(100 * 0.80 / 0.84)
    rows = {row["dataset"]: row for row in selection.rows()}
    assert rows["new-redundancy"]["best_family"] == "tensor_fusion"
    assert rows["new-redundancy"]["nearest_reference"] == "redundant"
    assert "new-redundancy" in selection.table() and "min 95.2" in selection.table()
    partial, excluded = build_reference(PIDS, {**ACCURACY, "synergistic": {"late_fusion": 0.5}},
                                        ["redundant", "synergistic"])
    assert "left out: synergistic (families not trained" in Selection(partial, {}, {}, {}, excluded).table()


def test_a_dataset_is_never_its_own_reference():
    result = recommend("redundant", REFERENCE[0].pid, REFERENCE, k=1)
    assert result.nearest == "synergistic" and [n for n, _ in result.neighbours] == ["synergistic"]


def test_expected_random_score_is_the_mean_over_every_subset():
    from itertools import combinations

    from pidengine.selection import expected_random_score

    accuracy = {"a": 0.5, "b": 0.9, "c": 0.7, "d": 0.8, "e": 0.6}
    for k in (1, 2, 3, 5):
        subsets = list(combinations(accuracy, k))
        brute = np.mean([selection_score(subset, accuracy) for subset in subsets])
        assert expected_random_score(accuracy, k) == pytest.approx(brute)


def test_selection_reports_baselines_beside_its_scores():
    from pidengine.selection import build_reference, select

    table, _ = build_reference(PIDS, ACCURACY, ["redundant", "synergistic"])
    selection = select(PIDS, ACCURACY, table, k=2)
    # PID-free: the two families with the best mean accuracy relative to each reference row's best.
    relative = {f: np.mean([ACCURACY[d][f] / max(ACCURACY[d].values()) for d in ("redundant", "synergistic")])
                for f in ACCURACY["redundant"]}
    assert set(selection.pid_free) == set(sorted(relative, key=relative.get)[-2:])
    for name in ("new-synergy", "new-redundancy"):
        baseline = selection.baselines[name]
        assert baseline.pid == selection.scores[name]
        assert baseline.pid_free == pytest.approx(selection_score(selection.pid_free, ACCURACY[name]))
    summary = selection.comparison()
    differences = [b.pid - b.pid_free for b in selection.baselines.values()]
    assert summary.n_datasets == 2 and summary.difference == pytest.approx(np.mean(differences))
    assert min(differences) - 1e-9 <= summary.difference_low <= summary.difference_high <= max(differences) + 1e-9
    assert "PID-free choice" in selection.table() and "PID minus PID-free" in selection.table()


def test_the_shipped_reference_covers_the_default_catalog_and_the_grid_with_todays_settings():
    # The fallback of a run or recommend with no table of its own: it must stand for what `pidengine run` builds on
    # the default catalog's synthetic datasets and on the reference grid, significance flags included.
    from pidengine.catalog import DEFAULT_CATALOG, load_catalog
    from pidengine.models.settings import TrainSettings
    from pidengine.models.zoo import FAMILIES
    from pidengine.parts import ATOMS
    from pidengine.selection import REFERENCE_CATALOG, ReferenceTable

    table = ReferenceTable.shipped()
    catalog = load_catalog(Path(__file__).resolve().parents[1] / DEFAULT_CATALOG)
    grid = load_catalog(REFERENCE_CATALOG)
    assert grid.errors == {} and all(entry.is_synthetic for entry in grid.entries.values())
    synthetic = sorted([e.name for e in catalog.entries.values() if e.is_synthetic] + list(grid.entries))
    assert [row.dataset for row in table.rows] == synthetic
    assert all(set(row.significant) == set(ATOMS) for row in table.rows)
    assert set(table.families) == set(FAMILIES)
    assert table.provenance["train"] == TrainSettings().model_dump(mode="json")


def _run_outputs():
    """PIDS and ACCURACY as a pipeline run reports them: exact estimates (beside a BATCH one and a failed one, which
    selection leaves out) and one model report per (dataset, family)."""
    from pidengine.models.sweep import ModelReport
    from pidengine.report import RunRecord

    records = [RunRecord(name, "exact", "ok", {**pid, "total": sum(pid.values())}) for name, pid in PIDS.items()]
    records += [RunRecord("new-synergy", "batch", "ok", {**PIDS["new-redundancy"], "total": 1.0}),
                RunRecord("absent", "exact", "failed", error="featurize failed")]
    reports = [ModelReport(name, family, accuracy, accuracy, 1, 0.0, 100, {}, {})
               for name, per_family in ACCURACY.items() for family, accuracy in per_family.items()]
    return records, reports


def test_selection_from_a_run_builds_its_reference_table_or_finds_one(tmp_path):
    from pidengine.selection import ReferenceTable, build_reference, dataset_pids, select, select_from_run

    records, reports = _run_outputs()
    assert dataset_pids(records) == {name: {**pid, "total": sum(pid.values())} for name, pid in PIDS.items()}
    # Reference datasets named: their table is built, published under <data_dir>/reference, and selected with.
    built, path = select_from_run(records, reports, tmp_path, ["redundant", "synergistic", "absent"], k=2,
                                  provenance={"train": {"seed": 0}})
    table, _ = build_reference(PIDS, ACCURACY, ["redundant", "synergistic"])
    assert path.parent == Location(tmp_path / "reference") and path.name == f"reference-{built.reference.key}.json"
    assert built.reference.rows == table.rows and built.excluded == {"absent": "no dataset PID"}
    assert built.recommendations == select(PIDS, ACCURACY, table, k=2).recommendations
    provenance = built.reference.provenance
    assert provenance["train"] == {"seed": 0} and provenance["pid"] == "exact estimator on the codes, all samples"
    assert provenance["datasets"]["absent"] == {"codes": "codes-", "features": "raw-"}  # no store published
    # None named: the table published last is found, unless a table file is given.
    found, found_path = select_from_run(records, reports, tmp_path, k=2)
    assert found.reference == built.reference and found_path == path and found.excluded == {}
    ReferenceTable.shipped().restricted_to(["gate-xor", "gate-and"]).save(tmp_path / "mine")
    given, given_path = select_from_run(records, reports, tmp_path, table_file=tmp_path / "mine")
    assert given_path.parent == Location(tmp_path / "mine")
    assert [r.dataset for r in given.reference.rows] == ["gate-and", "gate-xor"]


def test_selection_from_a_run_counts_parts_below_their_null_as_zero(tmp_path):
    # The exact estimate's flat view carries `<part>_significant`; the reference rows keep the flags, and a dataset's
    # part that is not significant counts as 0: new-synergy (0.2 R, 0.8 S) with its synergy flagged is all
    # redundancy, and its nearest reference becomes "redundant".
    from pidengine.selection import ReferenceTable, dataset_significance, select_from_run

    records, reports = _run_outputs()
    flagged = {"new-synergy": {"synergy": False}, "synergistic": {"redundancy": False}}
    records = [type(r)(r.dataset, r.estimator, r.status, {
        **r.values, **{f"{part}_significant": flagged.get(r.dataset, {}).get(part, True) for part in PIDS[r.dataset]}})
        if r.status == "ok" and r.estimator == "exact" else r for r in records]
    assert dataset_significance(records)["new-synergy"] == {
        "redundancy": True, "unique1": True, "unique2": True, "synergy": False}
    selection, path = select_from_run(records, reports, tmp_path, ["redundant", "synergistic"], k=2)
    rows = {row.dataset: row for row in selection.reference.rows}
    assert rows["synergistic"].significant["redundancy"] is False and all(rows["redundant"].significant.values())
    assert selection.recommendations["new-synergy"].nearest == "redundant"
    assert selection.recommendations["new-synergy"].distance == pytest.approx(0.0)
    assert ReferenceTable.load(path) == selection.reference  # the flags are part of the saved table


def test_a_table_of_format_1_reads_without_flags(tmp_path):
    import json

    from pidengine.selection import ReferenceTable, build_reference

    table, _ = build_reference(PIDS, ACCURACY, ["redundant", "synergistic"])
    document = json.loads(table.to_json())
    assert all("significant" not in row for row in document["rows"])  # written as format 1 wrote it
    document["format"] = "pidengine-reference/1"
    assert ReferenceTable.from_json(json.dumps(document), signed=False) == table
    document["format"] = "pidengine-reference/0"
    with pytest.raises(ConfigError, match="not a pidengine-reference/2 document"):
        ReferenceTable.from_json(json.dumps(document), signed=False)


def test_tables_of_two_runs_combine_only_when_measured_alike():
    from dataclasses import replace

    from pidengine.selection import ReferenceTable, build_reference

    provenance = {"train": {"seed": 0}, "pid": "exact"}
    first, _ = build_reference(PIDS, ACCURACY, ["redundant"], {**provenance, "datasets": {"redundant": {"codes": "a"}}})
    second, _ = build_reference(PIDS, ACCURACY, ["synergistic"],
                                {**provenance, "datasets": {"synergistic": {"codes": "b"}}})
    both = ReferenceTable.combined([second, first])
    assert [row.dataset for row in both.rows] == ["redundant", "synergistic"] and both.families == first.families
    assert both.provenance == {**provenance, "datasets": {"redundant": {"codes": "a"}, "synergistic": {"codes": "b"}}}
    assert both == build_reference(PIDS, ACCURACY, ["redundant", "synergistic"], both.provenance)[0]
    with pytest.raises(ConfigError, match=r"their \['train'\] differ"):
        ReferenceTable.combined([first, replace(second, provenance={**provenance, "train": {"seed": 1}})])
    with pytest.raises(ConfigError, match=r"datasets \['redundant'\] are in more than one"):
        ReferenceTable.combined([first, first])
    with pytest.raises(ConfigError, match="other families"):
        ReferenceTable.combined([first, replace(second, families=("late_fusion",))])


def _flat(pid, half_widths=None, significant=None, confidence=0.95):
    """A flat view of an exact estimate (:func:`pidengine.parts.flatten_parts`): each part with an interval of
    ``half_widths[part]`` bits either side of it where given, at ``confidence``."""
    values = {**pid, "total": sum(pid.values()), "confidence": confidence}
    for part, half in (half_widths or {}).items():
        values |= {f"{part}_low": pid[part] - half, f"{part}_high": pid[part] + half}
    return values | {f"{part}_significant": flag for part, flag in (significant or {}).items()}


def test_part_spread_reads_each_interval_at_its_level():
    from pidengine.selection import part_spread

    pid = {"redundancy": 1.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.5}
    # (high - low) / (2 z): 0.8 / (2 × 1.959964) at 95 %, 0.8 / (2 × 1.644854) at 90 %; synergy has no interval.
    assert part_spread(_flat(pid, {"redundancy": 0.4})) == {"redundancy": pytest.approx(0.204085, abs=1e-6)}
    assert part_spread(_flat(pid, {"redundancy": 0.4}, confidence=0.9))["redundancy"] == pytest.approx(0.243183,
                                                                                                      abs=1e-6)
    assert part_spread(_flat(pid)) == {}
    unlevelled = {key: value for key, value in _flat(pid, {"redundancy": 0.4}).items() if key != "confidence"}
    with pytest.raises(InvalidJointError, match="no 'confidence'"):
        part_spread(unlevelled)


def test_support_is_one_far_from_any_boundary():
    from pidengine.selection import SUPPORT_DRAWS, part_spread

    # Shares (0.1, 0, 0, 0.9): L1 0.2 from "synergistic", 1.8 from "redundant", 2.0 from "unique"; intervals of
    # ±0.02 bits cannot move it across. U1 is not significant: it stays 0 however wide its interval (drawn, a U1 of
    # a few bits would move the dataset to "unique", whose best families differ).
    unique = ReferenceRow("unique", {"redundancy": 0.0, "unique1": 1.0, "unique2": 0.0, "synergy": 0.0},
                          {"late_fusion": 0.99, "early_fusion": 0.6, "agreement": 0.7, "tensor_fusion": 0.6})
    pid = {"redundancy": 0.1, "unique1": 0.5, "unique2": 0.0, "synergy": 0.9}
    significant = {"redundancy": True, "unique1": False, "unique2": False, "synergy": True}
    spread = part_spread(_flat(pid, {"redundancy": 0.02, "unique1": 10.0, "synergy": 0.02}))
    result = recommend("d", pid, [*REFERENCE, unique], k=2, significant=significant, spread=spread)
    assert result.families == ("tensor_fusion", "early_fusion") and result.nearest == "synergistic"
    assert result.support == 1.0 and result.support_draws == SUPPORT_DRAWS == 200


def test_support_between_two_references_is_the_chance_of_falling_on_the_recommended_side():
    from statistics import NormalDist

    from pidengine.selection import part_spread

    zero = {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}
    table = [ReferenceRow("all-r", {**zero, "redundancy": 1.0}, {"a": 0.9, "b": 0.5}),
             ReferenceRow("all-s", {**zero, "synergy": 1.0}, {"a": 0.5, "b": 0.8})]
    # R = S = 1: shares (0.5, 0, 0, 0.5), L1 1.0 from both, so they are pooled: "a" (1 + 0.5/0.8)/2 = 0.81 against
    # "b" (0.5/0.9 + 1)/2 = 0.78. A draw is nearer "all-r" (whose best is "a") exactly when R > S, L1 2S/(R+S)
    # against 2R/(R+S); with R, S independent and of equal spread (sd 0.5) that is half the draws, less half of
    # those where both fall below 0 (no part left: no recommendation), 0.5 - Φ(-2)²/2 = 0.4997.
    between = {**zero, "redundancy": 1.0, "synergy": 1.0}
    spread = part_spread(_flat(between, {"redundancy": 1.96 * 0.5, "synergy": 1.96 * 0.5}))
    result = recommend("d", between, table, k=1, spread=spread)
    assert (result.families, result.nearest, result.tied) == (("a",), "all-r", ("all-s",))
    expected = 0.5 - NormalDist().cdf(-2.0) ** 2 / 2
    assert result.support == pytest.approx(expected, abs=3 * math.sqrt(expected * (1 - expected) / 200))
    # Off the boundary, R = 1.2 and S = 1.0, both with sd 0.2: nearest "all-r" alone, and a draw stays on its side
    # when R - S > 0, probability Φ(0.2 / (0.2 √2)) = Φ(0.707) = 0.760 (R, S below 0: Φ(-5), never).
    off = {**zero, "redundancy": 1.2, "synergy": 1.0}
    spread = part_spread(_flat(off, {"redundancy": 1.959964 * 0.2, "synergy": 1.959964 * 0.2}))
    result = recommend("d", off, table, k=1, spread=spread, n_draws=2000)
    expected = NormalDist().cdf(1 / math.sqrt(2))
    assert result.families == ("a",) and result.tied == () and result.support_draws == 2000
    assert result.support == pytest.approx(expected, abs=3 * math.sqrt(expected * (1 - expected) / 2000))


def test_support_is_none_without_intervals():
    pid = {"redundancy": 0.1, "unique1": 0.0, "unique2": 0.0, "synergy": 0.9}
    for spread in (None, {}):
        result = recommend("d", pid, REFERENCE, k=2, spread=spread)
        assert result.support is None and result.support_draws == 0
        assert result.families == ("tensor_fusion", "early_fusion")


def test_selection_from_a_run_gives_each_recommendation_its_support(tmp_path):
    from pidengine.selection import dataset_spread, select_from_run

    # new-synergy (0.2 R, 0.8 S) is L1 0.4 from "synergistic" and 1.6 from "redundant"; ±0.02-bit intervals keep it
    # there. new-redundancy's estimate has no intervals: no support.
    records, reports = _run_outputs()
    records = [type(r)(r.dataset, r.estimator, r.status, _flat(PIDS[r.dataset], dict.fromkeys(PIDS[r.dataset], 0.02)))
               if r.dataset == "new-synergy" and r.estimator == "exact" else r for r in records]
    assert dataset_spread(records)["new-synergy"]["synergy"] == pytest.approx(0.04 / (2 * 1.959964))
    assert dataset_spread(records)["new-redundancy"] == {}
    selection, _ = select_from_run(records, reports, tmp_path, ["redundant", "synergistic"], k=2)
    rows = {row["dataset"]: row for row in selection.rows()}
    assert (rows["new-synergy"]["support"], rows["new-synergy"]["support_draws"]) == (1.0, 200)
    assert (rows["new-redundancy"]["support"], rows["new-redundancy"]["support_draws"]) == (None, 0)
    table = {line.split()[0]: line for line in selection.table().splitlines()}
    assert " 100% " in table["new-synergy"] and " - " in table["new-redundancy"]
    assert "support: the share of 200 draws" in selection.table()
