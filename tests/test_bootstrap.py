import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pidengine import ConfigError
from pidengine.bootstrap import bootstrap_pid, permutation_null
from pidengine.datasets import CANONICAL
from pidengine.estimators import ExactEstimator
from pidengine.estimators.intervals import information_lower_bounds
from pidengine.parts import PARTS


def sample_from(pmf: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    flat = rng.choice(pmf.size, size=n, p=pmf.ravel())
    return np.unravel_index(flat, pmf.shape)


def test_intervals_cover_the_generating_pid_and_shrink_with_n():
    gate = CANONICAL["and"]
    truth = gate.expected()
    small = bootstrap_pid(*sample_from(gate.pmf, 400, seed=1), n_resamples=200, random_state=0)
    large = bootstrap_pid(*sample_from(gate.pmf, 6400, seed=2), n_resamples=200, random_state=0)
    for part in ("redundancy", "synergy", "total"):
        low, high = large.intervals[part]
        assert low <= truth[part] <= high, part
        width_small = np.subtract(*small.intervals[part][::-1])
        width_large = high - low
        # Standard errors scale as n^-1/2: 16 times the data, about a quarter of the width.
        assert 0.15 < width_large / width_small < 0.45, part
    assert large.n_failed == 0 and large.samples.shape == (200, len(PARTS))


def test_reproducible_for_a_seed():
    x1, x2, y = sample_from(CANONICAL["xor"].pmf, 300, seed=3)
    a = bootstrap_pid(x1, x2, y, n_resamples=30, random_state=7)
    b = bootstrap_pid(x1, x2, y, n_resamples=30, random_state=7)
    np.testing.assert_array_equal(a.samples, b.samples)


def test_progress_counts_the_resamples_and_permutations_and_changes_nothing():
    x1, x2, y = sample_from(CANONICAL["xor"].pmf, 300, seed=3)
    events = []
    shown = bootstrap_pid(x1, x2, y, n_resamples=60, n_permutations=30, random_state=7,
                          progress=lambda *event: events.append(event))
    # In tenths (at least MIN_SHOWN_BATCH tables a step), each stage ending at its count, every table certified.
    assert events == [("bootstrap resamples", 20, 60, 20), ("bootstrap resamples", 40, 60, 40),
                      ("bootstrap resamples", 60, 60, 60), ("label permutations", 20, 30, 20),
                      ("label permutations", 30, 30, 30)]
    quiet = bootstrap_pid(x1, x2, y, n_resamples=60, n_permutations=30, random_state=7)
    np.testing.assert_allclose(shown.samples, quiet.samples, atol=1e-9)
    np.testing.assert_allclose(shown.null, quiet.null, atol=1e-9)


def dirichlet_joint(shape: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random joint and its PID (the exact solver on the joint itself: the truth its samples estimate)."""
    pmf = np.random.default_rng(seed).dirichlet(np.full(np.prod(shape), 0.5)).reshape(shape)
    truth = ExactEstimator().estimate(pmf)
    return pmf, np.array([getattr(truth, part) for part in PARTS])


@pytest.mark.filterwarnings("ignore::pidengine.exceptions.SparseTableWarning")
def test_bias_correction_shrinks_the_plug_in_bias_of_a_sparse_table():
    # 8 x 8 x 4 cells from 1,000 samples: the plug-in synergy is ~0.1 bits too high.
    pmf, truth = dirichlet_joint((8, 8, 4), seed=0)
    plugin, corrected = [], []
    for rep in range(8):
        boot = bootstrap_pid(*sample_from(pmf, 1000, seed=rep), n_resamples=100, random_state=rep)
        plugin.append([getattr(boot.estimate, part) for part in PARTS])
        corrected.append([boot.corrected[part] for part in PARTS])
    plugin_bias, corrected_bias = np.mean(plugin, axis=0) - truth, np.mean(corrected, axis=0) - truth
    synergy = PARTS.index("synergy")
    assert plugin_bias[synergy] > 0.05
    assert abs(corrected_bias[synergy]) < 0.5 * plugin_bias[synergy]


def test_basic_intervals_cover_the_truth():
    pmf, truth = dirichlet_joint((4, 4, 3), seed=0)
    covered = []
    for rep in range(20):
        boot = bootstrap_pid(*sample_from(pmf, 1000, seed=100 + rep), n_resamples=100, random_state=rep)
        covered += [boot.intervals[part][0] - 1e-9 <= t <= boot.intervals[part][1] + 1e-9
                    for part, t in zip(PARTS, truth)]
    assert np.mean(covered) >= 0.8  # nominal 0.95; 100 (sample, part) pairs


def test_information_lower_bounds_hold_the_generating_informations():
    # One-sided 95 % bounds of I(X1; Y) = R + U1, I(X2; Y) = R + U2 and I(X1, X2; Y) of the law that drew the rows.
    pmf, truth = dirichlet_joint((4, 4, 3), seed=1)
    informations = {"x1": truth[0] + truth[1], "x2": truth[0] + truth[2], "joint": truth[4]}
    held, gaps = [], []
    for rep in range(20):
        boot = bootstrap_pid(*sample_from(pmf, 1000, seed=200 + rep), n_resamples=100, random_state=rep)
        held += [boot.information_lower[name] <= value + 1e-9 for name, value in informations.items()]
        gaps += [value - boot.information_lower[name] for name, value in informations.items()]
        assert boot.to_dict()["information_lower_joint"] == boot.information_lower["joint"]
    assert np.mean(held) >= 0.85  # nominal 0.95; 60 (sample, information) pairs
    assert np.median(gaps) < 0.1  # a bound, not a trivial one: within about two standard errors of the truth


def test_information_lower_bounds_of_codes_bound_what_the_features_carry():
    # Codes that merge values lose information (data processing), and their bound still lies below the features'.
    pmf, truth = dirichlet_joint((6, 6, 3), seed=2)
    x1, x2, y = sample_from(pmf, 2000, seed=3)
    boot = bootstrap_pid(x1 // 2, x2 // 3, y, n_resamples=100, random_state=0)
    assert boot.information_lower["x1"] <= truth[0] + truth[1]
    assert boot.information_lower["x2"] <= truth[0] + truth[2]
    assert boot.information_lower["joint"] <= truth[4]


def test_information_bounds_take_the_larger_of_the_bootstrap_and_the_shuffle_bias():
    # I(X1; Y) = R + U1 = 0.5 estimated; resamples centred 0.05 above (bootstrap bias 0.05), their 95 % quantile
    # 0.1 above their centre; the permuted labels' I(X1; Y) averages 0.12 (a larger bias, as on a sparse table).
    point = np.array([0.3, 0.2, 0.1, 0.4, 1.0])
    replicates = point + np.linspace(-0.05, 0.15, 201)[:, None] * np.array([1, 0, 0, 0, 0])
    null = np.tile([0.1, 0.02, 0.0, 0.0, 0.12], (50, 1))
    plain = information_lower_bounds(point, replicates, 0.95)
    spread = np.quantile(np.linspace(-0.05, 0.15, 201), 0.95, method="weibull") - 0.05
    assert plain["x1"] == pytest.approx(0.5 - 0.05 - spread)  # 2 I - I*_0.95, a basic interval's end
    shuffled = information_lower_bounds(point, replicates, 0.95, null)
    assert shuffled["x1"] == pytest.approx(0.5 - 0.12 - spread)
    assert shuffled["joint"] == pytest.approx(1.0 - 0.12)  # no spread, and the null's bias
    assert shuffled["x2"] == pytest.approx(0.4 - 0.1 - spread)  # R + U2, R's spread and the null's R + U2


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pidengine.exceptions.SparseTableWarning")
def test_information_bounds_of_a_sparse_table_hold_zero_with_the_permutation_null():
    # 576 cells for 300 rows of independent labels: every information is 0. The bootstrap alone under-corrects the
    # plug-in bias (a resample never fills a cell the sample left empty), the shuffle bias does not.
    rng = np.random.default_rng(1)
    with_null, bootstrap_only = [], []
    for rep in range(10):
        x1, x2, y = rng.integers(0, 12, 300), rng.integers(0, 12, 300), rng.integers(0, 4, 300)
        boot = bootstrap_pid(x1, x2, y, n_resamples=60, n_permutations=30, random_state=rep)
        with_null += [bound <= 0 for bound in boot.information_lower.values()]
        plain = information_lower_bounds([getattr(boot.estimate, part) for part in PARTS], boot.samples, 0.95)
        bootstrap_only += [bound <= 0 for bound in plain.values()]
    assert np.mean(with_null) >= 0.9  # nominal 0.95; 30 (sample, information) pairs (measured: 1.0)
    assert np.mean(bootstrap_only) < 0.8  # measured: 0.67


@pytest.mark.filterwarnings("ignore::pidengine.exceptions.SparseTableWarning")
def test_independent_labels_are_rarely_significant_and_real_synergy_is():
    # Y independent of (X1, X2) with 108 cells for 300 samples: the bootstrap alone under-corrects the bias here
    # (its synergy interval clears 0 about half the time); the permutation test holds the level.
    rng = np.random.default_rng(0)
    flags = []
    for rep in range(20):
        x1, x2, y = rng.integers(0, 6, 300), rng.integers(0, 6, 300), rng.integers(0, 3, 300)
        boot = bootstrap_pid(x1, x2, y, n_resamples=100, n_permutations=50, random_state=rep)
        flags += list(boot.significant.values())
    assert np.mean(flags) <= 0.1
    xor = bootstrap_pid(*sample_from(CANONICAL["xor"].pmf, 500, seed=5), n_resamples=100, n_permutations=50,
                        random_state=0)
    assert xor.significant["synergy"] and not xor.significant["redundancy"]
    assert {f"shuffled_{part}" for part in PARTS} <= set(xor.to_dict())


@pytest.mark.parametrize("kwargs, match", [
    ({"n_resamples": 1}, "n_resamples"), ({"n_permutations": -1}, "n_permutations"),
    ({"confidence": 1.5}, "confidence"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        bootstrap_pid([0, 1], [0, 1], [0, 1], **kwargs)


def test_cli_bootstrap_json(tmp_path):
    x1, x2, y = sample_from(CANONICAL["or"].pmf, 500, seed=4)
    path = tmp_path / "or.npz"
    np.savez(path, x1=x1, x2=x2, y=y)
    exe = str(Path(sys.executable).with_name("pidengine"))
    out = subprocess.run(
        [exe, "pid", "--samples", str(path), "--bootstrap", "40", "--json"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["synergy_low"] <= payload["synergy"] <= payload["synergy_high"]
    assert payload["n_resamples"] == 40 and isinstance(payload["synergy_significant"], bool)
    assert "plugin_synergy" in payload


def test_permuted_totals_are_the_plug_in_information_of_the_permuted_labels():
    from sklearn.metrics import mutual_info_score

    x1, x2, y = sample_from(CANONICAL["xor"].pmf, 3000, seed=4)
    null = permutation_null(x1, x2, y, n_permutations=3, random_state=7)
    rng = np.random.default_rng(7)
    # An independent plug-in estimate of I(X1, X2; Y_pi) in nats, from scikit-learn, for the same permutations.
    expected = [mutual_info_score(x1 * 2 + x2, rng.permutation(y)) / np.log(2) for _ in range(3)]
    np.testing.assert_allclose(null[:, PARTS.index("total")], expected, atol=1e-9)
    assert (null[:, PARTS.index("synergy")] < 0.01).all()  # XOR's 1 bit of synergy is gone with the permutation


def test_permutation_null_matches_the_miller_bias_on_average():
    # 6 x 6 cells, 3 labels, 2,000 samples, Y independent of (X1, X2): E I_hat ~ (36 - 1)(3 - 1) / (2 n ln 2) bits.
    rng = np.random.default_rng(0)
    n = 2000
    expected = 35 * 2 / (2 * n * np.log(2))
    null = permutation_null(rng.integers(0, 6, n), rng.integers(0, 6, n), rng.integers(0, 3, n), n_permutations=20,
                            random_state=0)
    assert null[:, PARTS.index("total")].mean() == pytest.approx(expected, rel=0.25)
