"""The corpus of bad inputs: each is refused with exit 2 and one line on stderr that says what is wrong (and, where
there is one, the fix) - never a traceback, never a silent result."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli.main import main
from pidengine.io.store import DatasetStore

GOOD_CATALOG = "  xor:\n    source: {kind: gate, gate: xor, n_samples: 200}\n"


@pytest.fixture
def files(tmp_path):
    xor = np.zeros((2, 2, 2))
    for a in range(2):
        for b in range(2):
            xor[a, b, a ^ b] = 0.25
    arrays = {
        "complex.npy": xor.astype(complex), "nan.npy": np.where(xor > 0, np.nan, 0.0), "negative.npy": -xor,
        "zero.npy": np.zeros((2, 2, 2)), "flat.npy": np.ones((2, 2)), "empty-axis.npy": np.zeros((0, 2, 2)),
        "strings.npy": np.array([[["a", "b"]]]),
    }
    for name, array in arrays.items():
        np.save(tmp_path / name, array)
    codes = np.arange(40) % 2
    np.savez(tmp_path / "archive.npz", x1=codes, x2=codes, y=codes)
    np.savez(tmp_path / "empty.npz")
    np.savez(tmp_path / "one-class.npz", x1=codes, x2=codes, y=np.zeros_like(codes))
    np.savez(tmp_path / "no-y.npz", x1=codes, x2=codes)
    np.savez(tmp_path / "floats.npz", x1=np.linspace(0, 1, 40), x2=codes, y=codes)
    np.savez(tmp_path / "lengths.npz", x1=codes, x2=codes[:-1], y=codes)
    np.savez(tmp_path / "nan-samples.npz", x1=np.r_[np.nan, codes[1:]], x2=codes, y=codes)
    (tmp_path / "text.npy").write_text("not an array")
    (tmp_path / "truncated.npy").write_bytes((tmp_path / "nan.npy").read_bytes()[:100])
    (tmp_path / "truncated.npz").write_bytes((tmp_path / "archive.npz").read_bytes()[:200])
    catalogs = {
        "not-yaml.yaml": "datasets: [unclosed\n",
        "python-tag.yaml": "datasets: !!python/object/apply:os.system ['true']\n",
        "unknown-kind.yaml": "datasets:\n  a:\n    source: {kind: teleport}\n",
        "huge.yaml": "datasets:\n  a:\n    source: {kind: gate, gate: xor, n_samples: 1e11}\n",
        "empty-npz.yaml": f"datasets:\n  a:\n    source: {{kind: npz, path: {tmp_path / 'empty.npz'}}}\n{GOOD_CATALOG}",
        "truncated-npz.yaml": f"datasets:\n  a:\n    source: {{kind: npz, path: {tmp_path / 'truncated.npz'}}}\n"
                              f"{GOOD_CATALOG}",
        "good.yaml": f"datasets:\n{GOOD_CATALOG}",
    }
    for name, text in catalogs.items():
        (tmp_path / name).write_text(text)
    return tmp_path


PID = [
    ("missing file", "--joint {t}/nowhere.npy", "nowhere.npy does not exist"),
    ("text named .npy", "--joint {t}/text.npy", "not a NumPy .npy/.npz file"),
    ("truncated .npy", "--joint {t}/truncated.npy", "damaged or unreadable NumPy data"),
    ("archive as joint", "--joint {t}/archive.npz", "pass one .npy array"),
    ("complex joint", "--joint {t}/complex.npy", "must hold real numbers, got dtype complex128"),
    ("string joint", "--joint {t}/strings.npy", "must hold real numbers"),
    ("NaN joint", "--joint {t}/nan.npy", "contains NaN or inf"),
    ("negative joint", "--joint {t}/negative.npy", "negative mass"),
    ("zero joint", "--joint {t}/zero.npy", "zero total mass"),
    ("2-D joint", "--joint {t}/flat.npy", "must have 3 dimensions"),
    ("empty axis", "--joint {t}/empty-axis.npy", "is empty"),
    ("huge tol", "--joint {t}/zero.npy --tol 1e300", "at most 0.001"),
    ("negative tol", "--joint {t}/zero.npy --tol -1", "positive number of bits"),
    ("NaN tol", "--joint {t}/zero.npy --tol nan", "positive number of bits"),
    ("bootstrap of a joint", "--joint {t}/zero.npy --bootstrap 10", "use it with --samples"),
    ("progress with cvxpy", "--joint {t}/zero.npy --estimator cvxpy --progress", "--progress applies only"),
    ("unknown estimator", "--joint {t}/zero.npy --estimator magic", "invalid choice: 'magic'"),
    ("storage URL", "--joint s3://bucket/joint.npy", "is a storage URL"),
    ("truncated .npz", "--samples {t}/truncated.npz", "damaged"),
    ("empty .npz", "--samples {t}/empty.npz", "has no array 'x1'"),
    ("array as samples", "--samples {t}/nan.npy", "is a single array"),
    ("missing label", "--samples {t}/no-y.npz", "has no array 'y'"),
    ("continuous samples", "--samples {t}/floats.npz", "non-integer float values"),
    ("unequal lengths", "--samples {t}/lengths.npz", "different lengths"),
    ("NaN samples", "--samples {t}/nan-samples.npz", "contain NaN or inf"),
    ("one class", "--samples {t}/one-class.npz", "single value (0)"),
    ("one class, bootstrap", "--samples {t}/one-class.npz --bootstrap 10", "at least two labels"),
    ("one resample", "--samples {t}/archive.npz --bootstrap 1", "n_resamples must be an integer from 2"),
    ("unbounded resamples", "--samples {t}/archive.npz --bootstrap 1000000000", "from 2 to 100000"),
    ("negative resamples", "--samples {t}/archive.npz --bootstrap -5", "must be an integer"),
]
CATALOG = [
    ("catalog missing", "catalog validate --catalog {t}/nowhere.yaml", "does not exist"),
    ("not YAML", "catalog validate --catalog {t}/not-yaml.yaml", "not-yaml.yaml"),
    ("python tag", "catalog validate --catalog {t}/python-tag.yaml", "python-tag.yaml"),
    ("unknown kind", "catalog validate --catalog {t}/unknown-kind.yaml", "teleport"),
    ("1e11 samples", "catalog validate --catalog {t}/huge.yaml", "n_samples"),
    ("ingest unknown name", "ingest --catalog {t}/good.yaml --data-dir {t}/data --only nope", "no dataset 'nope'"),
    ("ingest to an unknown scheme", "ingest --catalog {t}/good.yaml --data-dir nosuch://x",
     "--data-dir: nosuch://x: no filesystem for 'nosuch://'"),
    ("recommend unknown dataset", "recommend --dataset xoor --data-dir {t}/data", "no dataset 'xoor'"),
]
RUN = [
    ("one resample", "run --catalog {t}/good.yaml --bootstrap 1", "n_bootstrap must be 0"),
    ("ftp tracking", "run --catalog {t}/good.yaml --tracking-uri ftp://x", "scheme 'ftp' is not one MLflow"),
    ("no workers", "run --catalog {t}/good.yaml --workers 0", "--workers: Input should be greater than or equal to 1"),
    ("bad dask address", "run --catalog {t}/good.yaml --dask-address 127.0.0.1",
     "--dask-address: '127.0.0.1' is not a Dask scheduler address"),
    ("unknown dataset", "run --catalog {t}/good.yaml --datasets nope", "no dataset 'nope'"),
    ("results where no backend is installed", "run --catalog {t}/good.yaml --results-dir gs://bucket/r",
     "gs://bucket/r: Please install gcsfs"),
    ("data on an unknown scheme", "run --catalog {t}/good.yaml --data-dir nosuch://bucket/x",
     "nosuch://bucket/x: no filesystem for 'nosuch://'"),
]


def _refused(argv: str, files, capsys) -> str:
    try:
        code = main(argv.format(t=files).split())
    except SystemExit as exit:  # argparse's usage errors
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    # one line per problem: the CLI's error line, or `catalog validate`'s "<catalog>: <entry>: <problem>"
    assert lines and all(line.startswith(("pidengine: error: ", str(files))) for line in lines), err
    return err


@pytest.mark.parametrize(("case", "argv", "expected"), PID, ids=[case for case, _, _ in PID])
def test_pid_refuses_bad_input_in_one_line(case, argv, expected, files, capsys):
    err = _refused(f"pid {argv}", files, capsys)
    assert len(err.strip().splitlines()) == 1 and expected in err


@pytest.mark.parametrize(("case", "argv", "expected"), CATALOG + RUN, ids=[c for c, _, _ in CATALOG + RUN])
def test_catalog_ingest_and_run_refuse_bad_input_in_one_line(case, argv, expected, files, capsys):
    assert expected in _refused(argv, files, capsys)
    assert not list(files.glob("s3*")) and not list(files.glob("memory*")) and not list(files.glob("file*"))


@pytest.mark.parametrize("catalog", ["empty-npz.yaml", "truncated-npz.yaml"])
def test_ingest_reports_a_broken_dataset_and_goes_on(catalog, files, capsys):
    err = _refused(f"ingest --catalog {{t}}/{catalog} --data-dir {{t}}/data", files, capsys)
    assert err.startswith("pidengine: error: a: ") and DatasetStore(files / "data", "xor").exists("raw")


def test_masses_near_the_float_limit_are_normalised_not_overflowed(files, capsys):
    xor_at_the_limit = np.where(np.isnan(np.load(files / "nan.npy")), 1e308, 0.0)  # sums to inf as floats
    np.save(files / "huge.npy", xor_at_the_limit)
    assert main(["pid", "--joint", str(files / "huge.npy"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["synergy"] == pytest.approx(1.0, abs=1e-6) and result["certified"]
