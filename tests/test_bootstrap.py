import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pidengine import ConfigError
from pidengine.bootstrap import PARTS, bootstrap_pid, shuffled_pid
from pidengine.datasets import CANONICAL


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


@pytest.mark.parametrize("kwargs, match", [({"n_resamples": 1}, "n_resamples"), ({"confidence": 1.5}, "confidence")])
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
    assert payload["n_resamples"] == 40


def test_shuffled_total_is_the_plug_in_information_of_the_permuted_labels():
    from sklearn.metrics import mutual_info_score

    x1, x2, y = sample_from(CANONICAL["xor"].pmf, 3000, seed=4)
    null = shuffled_pid(x1, x2, y, random_state=7)
    permuted = np.random.default_rng(7).permutation(y)
    # An independent plug-in estimate of I(X1, X2; Y_pi) in nats, from scikit-learn.
    assert null.total == pytest.approx(mutual_info_score(x1 * 2 + x2, permuted) / np.log(2), abs=1e-9)
    assert null.check() is None and null.synergy < 0.01  # XOR's 1 bit of synergy is gone with the permutation


def test_shuffled_pid_matches_the_miller_bias_on_average():
    # 6 x 6 cells, 3 labels, 2,000 samples, Y independent of (X1, X2): E I_hat ~ (36 - 1)(3 - 1) / (2 n ln 2) bits.
    rng = np.random.default_rng(0)
    n = 2000
    expected = 35 * 2 / (2 * n * np.log(2))
    totals = [shuffled_pid(rng.integers(0, 6, n), rng.integers(0, 6, n), rng.integers(0, 3, n), random_state=seed).total
              for seed in range(20)]
    assert np.mean(totals) == pytest.approx(expected, rel=0.25)
