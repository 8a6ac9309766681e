import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from pidengine.datasets import CANONICAL, gate_samples

# The console script installed next to the interpreter running the tests (.venv/bin/pidengine).
PIDENGINE = str(Path(sys.executable).with_name("pidengine"))


def run(*args: str) -> subprocess.CompletedProcess:
    """The installed console script in a child process (for the contracts: exit codes, one-line stderr)."""
    return subprocess.run([PIDENGINE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli(capsys):
    """``pidengine ARGS`` in this process (same entry point, without paying for a fresh interpreter each time)."""

    def invoke(*args: str) -> subprocess.CompletedProcess:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's --help and usage errors
            code = exc.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(["pidengine", *args], code, out.out, out.err)

    return invoke


def test_pid_json_contract(tmp_path):
    path = tmp_path / "and.npy"
    np.save(path, 3.0 * CANONICAL["and"].pmf)  # any positive total mass
    out = run("pid", "--joint", str(path), "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    expected = CANONICAL["and"].expected()
    for key in ("redundancy", "unique1", "unique2", "synergy", "total"):
        assert payload[key] == pytest.approx(expected[key], abs=1e-6)


def test_pid_table_from_samples(cli, tmp_path):
    path = tmp_path / "samples.npz"
    x1 = np.array(["a", "b"] * 50)
    x2 = np.repeat([0, 1], 50)
    np.savez(path, x1=x1, x2=x2, y=(x1 == "a") ^ (x2 == 1))
    out = cli("pid", "--samples", str(path))
    assert out.returncode == 0, out.stderr
    assert "100 samples" in out.stdout
    synergy_line = next(line for line in out.stdout.splitlines() if line.strip().startswith("synergy"))
    assert float(synergy_line.split()[1]) == pytest.approx(1.0, abs=1e-6)
    assert "certified" in out.stdout


@pytest.mark.parametrize(
    "content, args, message",
    [
        (np.array([[[0.5, -0.5]]]), ["--joint"], "negative"),
        (np.full((2, 2, 2), np.nan), ["--joint"], "NaN"),
        (np.ones((3, 3)), ["--joint"], "3 dimensions"),
        (np.zeros((2, 2, 2)), ["--joint"], "zero total"),
        (None, ["--joint"], "does not exist"),
        (np.ones((2, 2, 2)), ["--samples"], "single array"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(cli, tmp_path, content, args, message):
    path = tmp_path / "input.npy"
    if content is not None:
        np.save(path, content)
    out = cli("pid", *args, str(path))
    assert out.returncode != 0
    assert out.stderr.count("\n") == 1 and message in out.stderr
    assert "Traceback" not in out.stderr


def test_pid_writes_its_table_and_figure_for_the_samples_given(cli, tmp_path):
    import csv

    data = gate_samples("and", 800, random_state=0)  # AND of two fair bits: R 0.311, S 0.5, no unique information
    np.savez(tmp_path / "and.npz", x1=data.latent1, x2=data.latent2, y=data.y)
    out = cli("pid", "--samples", str(tmp_path / "and.npz"), "--bootstrap", "50", "--permutations", "20",
              "--out", str(tmp_path / "and.csv"), "--plot", str(tmp_path / "and.png"))
    assert out.returncode == 0, out.stderr
    rows = {row["part"]: row for row in csv.DictReader((tmp_path / "and.csv").open())}
    assert list(rows) == ["redundancy", "unique1", "unique2", "synergy", "total"]
    assert float(rows["synergy"]["bits"]) == pytest.approx(0.5, abs=0.06)
    assert float(rows["redundancy"]["low"]) <= float(rows["redundancy"]["bits"]) <= float(rows["redundancy"]["high"])
    assert (rows["synergy"]["significant"], rows["unique1"]["significant"]) == ("True", "False")
    assert float(rows["total"]["shuffled_bits"]) < 0.05  # the permuted-label floor travels with the table
    bound = next(line for line in out.stdout.splitlines() if line.startswith("at least (95%, one-sided)"))
    joint_bound = float(bound.rsplit(">= ", 1)[1].split()[0])
    # Below the estimate it bounds, and near I(X1, X2; Y) = H(AND) = 0.811 bits (this sample's plug-in: 0.838).
    assert joint_bound < float(rows["total"]["bits"]) and joint_bound == pytest.approx(0.811, abs=0.05)
    assert (tmp_path / "and.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = cli("pid", "--samples", str(tmp_path / "and.npz"), "--out", str(tmp_path / "and.json"))
    document = json.loads((tmp_path / "and.json").read_text())
    assert document["units"] == "bits" and document["table"][3]["part"] == "synergy"
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize(("option", "name", "message"), [
    ("--out", "table.txt", "name a .csv or .json file"),
    ("--out", "missing/table.csv", "folder"),
    ("--plot", "figure.pdf", "name a .png file"),
])
def test_pid_refuses_an_output_it_cannot_write_before_any_work(cli, tmp_path, option, name, message):
    data = gate_samples("xor", 200, random_state=0)
    np.savez(tmp_path / "xor.npz", x1=data.latent1, x2=data.latent2, y=data.y)
    out = cli("pid", "--samples", str(tmp_path / "xor.npz"), option, str(tmp_path / name))
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""  # refused before the estimate


def test_samples_of_different_lengths_exit_with_one_line(cli, tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, x1=np.arange(3), x2=np.arange(4), y=np.arange(3))
    out = cli("pid", "--samples", str(path))
    assert out.returncode != 0 and "different lengths" in out.stderr and out.stderr.count("\n") == 1


def test_continuous_samples_exit_2_with_one_line(cli, tmp_path):
    path = tmp_path / "gaussian.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x1=rng.normal(size=500), x2=rng.normal(size=500), y=rng.integers(0, 2, 500))
    out = cli("pid", "--samples", str(path))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("pidengine: error: x1 has 500 non-integer float values, e.g. ")
    assert "discretise" in out.stderr


def test_integer_valued_float_samples_are_accepted_without_warning(cli, tmp_path):
    path = tmp_path / "xor.npz"
    data = gate_samples("xor", 1000, random_state=0)  # 1000 samples of a 2 x 2 x 2 table: well sampled
    np.savez(path, x1=data.latent1.astype(np.float64), x2=data.latent2.astype(np.float32), y=data.y.astype(float))
    out = cli("pid", "--samples", str(path), "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert json.loads(out.stdout)["synergy"] == pytest.approx(1.0, abs=0.01)


def test_sparse_samples_warn_on_one_line_and_still_answer(tmp_path):
    path = tmp_path / "sparse.npz"
    rng = np.random.default_rng(1)
    np.savez(path, x1=rng.integers(0, 30, 300), x2=rng.integers(0, 30, 300), y=rng.integers(0, 3, 300))
    out = run("pid", "--samples", str(path), "--json")  # a real process: Python's own warning display included
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_samples"] == 300
    [line] = out.stderr.splitlines()  # one line, printed once
    assert line.startswith("pidengine: warning: sparse table: 300 samples for ")
    assert "biased upward by up to about" in line and "for a bias of 0.05 bits" in line


def test_usage_error_is_one_line():
    out = run("pid")
    assert out.returncode != 0 and out.stderr.count("\n") == 1


def test_examples_and_help(cli):
    out = cli("examples", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {row["name"] for row in rows} == set(CANONICAL)
    assert max(row["max_abs_error_bits"] for row in rows) < 1e-6
    help_text = cli("--help").stdout
    assert "pid" in help_text and "examples" in help_text


def test_solver_flags_need_the_cvxpy_estimator(cli, tmp_path):
    path = tmp_path / "xor.npy"
    np.save(path, CANONICAL["xor"].pmf)
    out = cli("pid", "--joint", str(path), "--solver", "ECOS")
    assert out.returncode != 0 and "--estimator cvxpy" in out.stderr and out.stderr.count("\n") == 1
    out = cli("pid", "--joint", str(path), "--estimator", "cvxpy", "--solver", "ECOS", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["solver"] == "ECOS"



def test_progress_shows_the_exact_iterations_and_needs_the_exact_estimator(cli, tmp_path, caplog):
    path = tmp_path / "joint.npy"
    np.save(path, np.random.default_rng(0).dirichlet(np.ones(8 * 8 * 3)).reshape(8, 8, 3))
    caplog.set_level("DEBUG", logger="pidengine.progress")
    out = cli("pid", "--joint", str(path), "--progress", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["certified"]
    assert any(r.getMessage().startswith("exact: iteration 1/") for r in caplog.records)
    out = cli("pid", "--joint", str(path), "--estimator", "cvxpy", "--progress")
    assert out.returncode != 0 and "--progress applies only to --estimator exact" in out.stderr


CATALOG = """
datasets:
  xor:
    source: {kind: gate, gate: xor, n_samples: 300}
  missing-file:
    source: {kind: npz, path: nowhere.npz}
  broken:
    source: {kind: gate, gate: xor, n_samples: 0}
"""


def test_catalog_validate_names_each_broken_entry(cli, tmp_path):
    (tmp_path / "c.yaml").write_text(CATALOG)
    out = cli("catalog", "validate", "--catalog", str(tmp_path / "c.yaml"))
    assert out.returncode == 2
    assert "1 of 3 entries valid" in out.stdout
    assert "broken: source.gate.n_samples" in out.stderr and "missing-file: dataset 'missing-file'" in out.stderr
    listing = cli("catalog", "list", "--catalog", str(tmp_path / "c.yaml"))
    assert listing.returncode == 0 and "xor" in listing.stdout and "INVALID" in listing.stdout


def test_ingest_and_featurize_go_on_past_a_broken_dataset(cli, tmp_path):
    (tmp_path / "c.yaml").write_text(CATALOG)
    args = ("--catalog", str(tmp_path / "c.yaml"), "--data-dir", str(tmp_path / "data"))
    out = cli("ingest", *args)
    assert out.returncode == 2
    assert "xor: raw written" in out.stdout and "missing-file: FAILED" in out.stdout
    assert "broken:" in out.stderr
    assert cli("ingest", *args, "--only", "xor").stdout.count("raw unchanged") == 1
    featurized = cli("featurize", *args, "--only", "xor")
    assert featurized.returncode == 0 and "codes written" in featurized.stdout
    unknown = cli("ingest", *args, "--only", "nope")
    assert unknown.returncode == 2 and "no dataset 'nope'" in unknown.stderr
    listing = {line.split()[0]: line.split()[1:] for line in cli("catalog", "list", *args).stdout.splitlines()[2:]}
    assert listing["xor"][:4] == ["raw", "codes", "300", "2"]  # its stores, the catalog's n_samples, two labels
    assert listing["missing-file"][0] == "-"  # never ingested


def test_recommend_prints_the_nearest_references_and_their_best_families(cli, tmp_path):
    from pidengine.selection import ReferenceRow, ReferenceTable

    (tmp_path / "c.yaml").write_text(CATALOG)
    args = ("--catalog", str(tmp_path / "c.yaml"), "--data-dir", str(tmp_path / "data"))
    cli("ingest", *args, "--only", "xor")
    cli("featurize", *args, "--only", "xor")
    zero = {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}
    table = ReferenceTable((
        ReferenceRow("all-synergy", {**zero, "synergy": 1.0},
                     {"late_fusion": 0.5, "tensor_fusion": 0.99, "early_fusion": 0.97}),
        ReferenceRow("all-redundancy", {**zero, "redundancy": 1.0},
                     {"late_fusion": 0.99, "tensor_fusion": 0.9, "early_fusion": 0.98}),
        ReferenceRow("half-half", {**zero, "redundancy": 0.5, "synergy": 0.5},
                     {"late_fusion": 0.7, "tensor_fusion": 0.9, "early_fusion": 0.95}),
    ), ("early_fusion", "late_fusion", "tensor_fusion"))
    table.save(tmp_path / "data" / "reference")
    # XOR codes: the PID is (nearly) all synergy, so "all-synergy" is nearest (L1 ≈ 0), then "half-half" (≈ 1).
    out = cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"), "--top-k", "2")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines if line.startswith(("  all-", "  half"))] == [
        "all-synergy", "half-half", "all-redundancy"]
    assert "1. tensor_fusion" in out.stdout and "2. early_fusion" in out.stdout
    # Only XOR's synergy clears its null, so every draw of its PID has the shares (0, 0, 0, 1): all 200 agree.
    assert "support: 100% (200 of 200 draws of the PID within its intervals give these families)" in out.stdout
    document = json.loads(cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"), "--json").stdout)
    assert document["nearest"] == "all-synergy" and document["distance"] < 0.05
    assert document["recommended"] == ["tensor_fusion", "early_fusion", "late_fusion"]
    assert document["pid_bits"]["synergy"] == pytest.approx(1.0, abs=0.05) and document["reference_key"] == table.key
    assert document["significant"] == {"redundancy": False, "unique1": False, "unique2": False, "synergy": True}
    assert (document["support"], document["support_draws"]) == (1.0, 200)
    # Strongest on average relative to each row's best: early_fusion (0.98/0.99, 0.97/0.99, 0.95/0.95).
    assert document["pid_free"][0] == "early_fusion" and len(document["pid_free"]) == 3
    drawn = cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"), "--plot",
                str(tmp_path / "xor.png"))
    assert drawn.returncode == 0 and (tmp_path / "xor.png").read_bytes()[:4] == b"\x89PNG"
    not_png = cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"), "--plot",
                  str(tmp_path / "xor.pdf"))
    assert not_png.returncode == 2 and "name a .png file" in not_png.stderr
    fewer = json.loads(cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"), "--json",
                           "--reference", "all-redundancy", "half-half").stdout)
    assert fewer["nearest"] == "half-half" and [n["dataset"] for n in fewer["neighbours"]] == [
        "half-half", "all-redundancy"]
    missing = cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"),
                  "--reference-table", str(tmp_path / "none"))
    assert missing.returncode == 2 and "no reference table" in missing.stderr
    moved = cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"),
                "--reference", str(tmp_path / "data" / "reference"))
    assert moved.returncode == 2 and "with --reference-table" in moved.stderr
    unknown = cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"), "--reference", "nope")
    assert unknown.returncode == 2 and "no dataset ['nope']" in unknown.stderr
    # With no table published under the data folder, the table shipped with pidengine is used and named.
    (tmp_path / "data" / "reference" / "reference.json").unlink()
    shipped = json.loads(cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"), "--json").stdout)
    assert shipped["reference_table"].endswith("pidengine/data/reference.json")
    # On its synergy corner every reference whose only significant part is synergy is as near: they are pooled.
    assert shipped["distance"] == pytest.approx(0.0) and len(shipped["tied"]) >= 2
    assert "ref-s-8y-5k-noise0.5" in [shipped["nearest"], *shipped["tied"]]
    pooled = cli("recommend", "--dataset", "xor", "--data-dir", str(tmp_path / "data"))
    assert f"pooled with the {len(shipped['tied'])} references as near" in pooled.stdout
    unfeaturised = cli("recommend", "--dataset", "nope", "--data-dir", str(tmp_path / "data"))
    assert unfeaturised.returncode == 2 and "no dataset 'nope'" in unfeaturised.stderr
