"""The hidden-code generator: its truth is the PID of (X1, X2, Y), checked against closed forms and by sampling."""

import numpy as np
import pytest

from pidengine.datasets.hidden_codes import LAYOUTS, CodeGeometry, hidden_code_law, hidden_codes
from pidengine.estimators import CVXEstimator, ExactEstimator
from pidengine.exceptions import ConfigError


def test_latent_law_with_sixteen_labels_has_one_bit_per_part():
    # Pre-label (r, a, b, s xor t) kept whole: one shared, two private and one XOR bit (closed form 1, 1, 1, 1).
    result = ExactEstimator().estimate(hidden_code_law(n_labels=16, random_state=3))
    for part in ("redundancy", "unique1", "unique2", "synergy"):
        assert getattr(result, part) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("law", ["latent", "random"])
def test_truth_agrees_with_a_second_solver(law):
    data = hidden_codes(10, law=law, n_labels=4, label_noise=0.1, code_skew=1.0, random_state=5)
    reference = CVXEstimator().estimate(hidden_code_law(law=law, n_labels=4, label_noise=0.1, code_skew=1.0,
                                                        random_state=_law_seed(5)))
    for part, value in data.true_pid.items():
        assert value == pytest.approx(getattr(reference, part), abs=1e-5)


def _law_seed(random_state):
    # hidden_codes draws the law's seed first from its generator.
    return int(np.random.default_rng(random_state).integers(2**31))


def test_pid_is_unchanged_by_a_finer_statistic_that_carries_only_nuisance():
    # Refining Q1 by an independent nuisance bit e (as X1 refines Q1) must leave every part unchanged:
    # the sufficiency argument of the module docstring, checked on the exact joint.
    law = hidden_code_law(law="random", n_labels=5, random_state=2)
    nuisance = np.array([0.3, 0.7])
    refined = (law[:, None, :, :] * nuisance[None, :, None, None]).reshape(-1, *law.shape[1:])
    coarse, fine = ExactEstimator().estimate(law), ExactEstimator().estimate(refined)
    for part in ("redundancy", "unique1", "unique2", "synergy", "total"):
        assert getattr(fine, part) == pytest.approx(getattr(coarse, part), abs=1e-6)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_codes_are_functions_of_the_features(layout):
    rng = np.random.default_rng(0)
    geometry = CodeGeometry.random(layout, 8, 24, 2.0, rng)
    codes = rng.integers(0, 8, 2000)
    x = geometry.sample(codes, rng)
    assert x.shape == (2000, 24)
    np.testing.assert_array_equal(geometry.code(x), codes)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_signal_coordinates_are_the_features_without_their_nuisance(layout):
    data = hidden_codes(3000, layout=layout, dim=32, nuisance=5.0, random_state=2)
    assert data.signal1.shape == data.signal2.shape == (3000, 6)  # two directions for each of the code's 3 bits
    assert data.signal1.var(axis=0).max() < 2.0  # unit-scale signal blocks
    # The rotation is orthogonal: what the signal coordinates leave out is the nuisance, 26 directions of
    # variance 25 each, and it is the same whatever the code.
    left_out = (data.x1**2).sum(axis=1) - (data.signal1**2).sum(axis=1)
    assert left_out.mean() / 26 == pytest.approx(25.0, rel=0.05)
    per_code = [left_out[data.latent1 == code].mean() / 26 for code in np.unique(data.latent1)]
    assert max(per_code) / min(per_code) < 1.15


def test_nuisance_dominates_the_leading_principal_components():
    data = hidden_codes(4000, layout="clusters", nuisance=3.0, random_state=1)
    centred = data.x1 - data.x1.mean(axis=0)
    top = np.linalg.svd(centred, full_matrices=False)[2][:6]  # six leading directions
    # The code is read from 6 signal directions; none of the 6 leading PCs is signal: projecting on them leaves the
    # code unpredictable from the centroids of the projected clusters (within-code spread ≈ between-code spread).
    projected = centred @ top.T
    within = np.mean([projected[data.latent1 == c].var(axis=0).sum() for c in range(8)])
    assert within / projected.var(axis=0).sum() > 0.95


def test_large_sample_of_the_codes_converges_to_the_truth():
    data = hidden_codes(200_000, law="random", n_labels=4, code_skew=1.0, random_state=7, dim=16)
    empirical = ExactEstimator().estimate_samples(data.latent1, data.latent2, data.y)
    for part, value in data.true_pid.items():
        assert getattr(empirical, part) == pytest.approx(value, abs=0.01)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dim": 8}, "dim"),
        ({"layout": "rings"}, "layout"),
        ({"law": "latent", "n_codes": 4}, "8 codes"),
        ({"n_codes": 6, "law": "random"}, "power of two"),
        ({"n_labels": 1}, "n_labels"),
        ({"label_noise": 1.5}, "label_noise"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        hidden_codes(100, **kwargs)
