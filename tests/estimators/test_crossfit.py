"""The cross-fitted estimator on hidden-code data (known PID), its pieces, and its refusals."""

import numpy as np
import pytest

from pidengine.datasets.hidden_codes import hidden_codes
from pidengine.estimators.crossfit import CrossFitEstimator, code_pair_posteriors, kl_kmeans
from pidengine.estimators.posterior import PosteriorSettings
from pidengine.exceptions import ConfigError, InvalidJointError, LearningLimitedWarning
from pidengine.parts import PARTS, read_parts

FAST = PosteriorSettings(capacities=((1, 32),), max_epochs=60, patience=8)


@pytest.fixture(scope="module")
def easy():
    # Learnable at this size: small nuisance, few features; the unimodal parts are what the codes must keep.
    return hidden_codes(1500, layout="clusters", law="latent", n_labels=4, dim=16, nuisance=0.5, random_state=0)


@pytest.fixture(scope="module")
def estimate(easy):
    return CrossFitEstimator(n_bootstrap=40, posterior=FAST).estimate(easy.x1, easy.x2, easy.y)


def test_unimodal_parts_are_recovered(easy, estimate):
    for part in ("redundancy", "unique1", "unique2"):
        assert getattr(estimate, part) == pytest.approx(easy.true_pid[part], abs=0.08)


def test_parts_add_up_and_synergy_is_a_lower_bound(easy, estimate):
    assert sum(estimate.atoms().values()) == pytest.approx(estimate.total, abs=1e-9)
    # The joint information is a held-out lower bound: it may fall short of the truth, never far above it.
    assert estimate.total <= easy.true_pid["total"] + 0.1
    assert estimate.plugin["synergy"] >= 0


def test_information_lower_bounds_lie_below_the_true_informations(easy, estimate):
    truth = easy.true_pid
    bounds = estimate.information_lower
    assert bounds["x1"] <= truth["redundancy"] + truth["unique1"]
    assert bounds["x2"] <= truth["redundancy"] + truth["unique2"]
    assert bounds["joint"] <= truth["total"]
    # The unimodal informations are learnable here: their bounds come near what is there, below their estimates.
    assert bounds["x1"] > truth["redundancy"] + truth["unique1"] - 0.15
    assert bounds["x1"] <= estimate.redundancy + estimate.unique1
    assert estimate.to_dict()["information_lower_x2"] == bounds["x2"]


def test_the_code_table_is_certified(estimate):
    certificate = estimate.diagnostics.certificate
    assert certificate.certified and abs(certificate.duality_gap) <= certificate.tol
    flat = estimate.to_dict()
    assert flat["certified"] and flat["duality_gap_bits"] == certificate.duality_gap


def test_intervals_hold_their_estimates(estimate):
    for part in PARTS:
        low, high = estimate.intervals[part]
        assert low <= high
        assert low - 0.02 <= getattr(estimate, part) <= high + 0.02


def test_shuffled_labels_flag_nothing(easy):
    permuted = np.random.default_rng(1).permutation(easy.y)
    # Held-out joint models find nothing, less than the codes' (bias-floor) union: the result says S is only bounded.
    with pytest.warns(UserWarning, match="only bounded below"):
        result = CrossFitEstimator(n_bootstrap=40, posterior=FAST).estimate(easy.x1, easy.x2, permuted)
    assert result.diagnostics.synergy_bounded_only
    assert not any(result.significant.values())
    assert abs(result.total) < 0.05
    # Nothing to learn, so nothing grows with the training data: no part is called learning-limited.
    assert not any(result.learning.learning_limited.values())


@pytest.fixture(scope="module")
def one_hot_codes(easy):
    # Each modality is its hidden code, one-hot with a little noise: an invertible garbling of the code, so the PID is
    # the code's (easy.true_pid), and each posterior is learnt from a few hundred rows.
    rng = np.random.default_rng(0)
    x1, x2 = (np.eye(int(c.max()) + 1)[c] + 0.05 * rng.standard_normal((len(c), int(c.max()) + 1))
              for c in (easy.latent1, easy.latent2))
    return x1, x2, easy.y


def test_parts_learnt_at_half_the_data_are_not_flagged(easy, one_hot_codes):
    result = CrossFitEstimator(n_bootstrap=40, posterior=FAST).estimate(*one_hot_codes)
    curve = result.learning
    for part in ("redundancy", "unique1", "unique2"):
        assert not curve.learning_limited[part]
        assert getattr(result, part) == pytest.approx(easy.true_pid[part], abs=0.05)


@pytest.fixture(scope="module")
def under_nuisance():
    # 48 features under a nuisance twice the signal, 1,000 rows: far from learnt (each part 0.2-1 bit low).
    return hidden_codes(1000, layout="clusters", law="latent", n_labels=8, dim=48, nuisance=2.0, label_noise=0.1,
                        random_state=0)


def test_parts_still_learning_are_flagged_and_lie_below_their_truth(under_nuisance):
    data = under_nuisance
    with pytest.warns(LearningLimitedWarning, match="learning-limited"):
        result = CrossFitEstimator(n_bootstrap=40, posterior=FAST).estimate(data.x1, data.x2, data.y)
    curve = result.learning
    assert curve.fraction == 0.5 and all(curve.learning_limited.values())
    truth = {**data.true_pid, "total": sum(data.true_pid.values())}
    for part in PARTS:
        # The flag points where the error is: each flagged part's interval lies below its truth ...
        assert result.intervals[part][1] < truth[part]
    # ... and the total is short of the truth by more than it grew when the training folds doubled.
    assert 0.02 < curve.gain["total"] < truth["total"] - result.total
    flat = result.to_dict()
    assert flat["total_learning_limited"] is True and flat["total_learning_gain"] == curve.gain["total"]
    assert flat["learning_fraction"] == 0.5 and flat["learning_gain_joint"] == curve.information_gain["joint"]
    assert read_parts(flat)["synergy"].learning_limited is True


def test_a_joint_model_short_of_the_union_marks_synergy_learning_limited():
    # Two labels under label noise, cones under a nuisance twice the signal: the joint models do not reach even the
    # union of the unimodal codes, so S is reported as 0 while about 0.24 bits of it are there.
    data = hidden_codes(600, layout="cones", law="latent", n_labels=2, dim=16, nuisance=2.0, label_noise=0.2,
                        random_state=0)
    with pytest.warns(LearningLimitedWarning):
        result = CrossFitEstimator(n_bootstrap=40, posterior=FAST).estimate(data.x1, data.x2, data.y)
    assert result.diagnostics.synergy_bounded_only and result.significant["total"]
    assert result.learning.learning_limited["synergy"] and result.learning.learning_limited["total"]
    assert result.intervals["synergy"][1] < data.true_pid["synergy"]


def test_the_learning_check_can_be_left_out(one_hot_codes):
    x1, x2, y = one_hot_codes
    estimator = CrossFitEstimator(n_bootstrap=20, posterior=FAST, learning_fraction=None)
    result = estimator.estimate(x1[:300], x2[:300], y[:300])
    assert result.learning is None
    assert not any("learning" in key for key in result.to_dict())


def test_kl_kmeans_recovers_planted_posteriors():
    rng = np.random.default_rng(0)
    centres = rng.dirichlet(np.ones(5), size=6)
    truth = rng.integers(0, 6, 3000)
    noisy = centres[truth] * np.exp(0.02 * rng.standard_normal((3000, 5)))
    codes = kl_kmeans(noisy / noisy.sum(axis=1, keepdims=True), 6)
    # Same partition up to relabelling: each true cluster maps to exactly one code.
    pairs = set(zip(truth.tolist(), codes.tolist()))
    assert len(pairs) == 6 == len(set(codes.tolist()))


def test_code_pair_posteriors_are_distributions_from_other_folds_only():
    rng = np.random.default_rng(0)
    c1, c2, y = rng.integers(0, 3, 600), rng.integers(0, 3, 600), rng.integers(0, 4, 600)
    folds = [(np.arange(300, 600), np.arange(300)), (np.arange(300), np.arange(300, 600))]
    posterior = code_pair_posteriors(c1, c2, y, 4, folds)
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0)
    assert (posterior > 0).all()
    # Changing the labels of the first fold must not change that fold's own posteriors.
    y2 = y.copy()
    y2[:300] = (y2[:300] + 1) % 4
    np.testing.assert_allclose(code_pair_posteriors(c1, c2, y2, 4, folds)[:300], posterior[:300])


@pytest.mark.parametrize(
    "x1, y, message",
    [
        (np.full((40, 2), np.nan), np.arange(40) % 2, "NaN"),
        (np.zeros((40, 2)), np.zeros(40, dtype=int), "single class"),
        (np.zeros((39, 2)), np.arange(40) % 2, "one row per sample"),
        (np.array(["a"] * 40), np.arange(40) % 2, "text"),
        (np.zeros((40, 2)), np.arange(40) % 2, "too few for 5-fold"),
    ],
)
def test_bad_samples_are_refused(x1, y, message):
    with pytest.raises(InvalidJointError, match=message):
        CrossFitEstimator().estimate(x1, np.zeros((40, 2)), y)


def test_a_label_rarer_than_the_folds_is_still_estimated():
    rng = np.random.default_rng(0)
    y = np.r_[rng.integers(0, 2, 297), [2, 2, 2]]
    x = rng.standard_normal((300, 3)) + y[:, None]
    result = CrossFitEstimator(n_bootstrap=20, posterior=FAST).estimate(x, x[:, ::-1], y)
    assert np.isfinite(result.total) and result.significant["total"]


@pytest.mark.parametrize(
    "kwargs", [{"n_folds": 1}, {"n_codes": 1}, {"n_codes": "many"}, {"bias_budget": 0}, {"n_bootstrap": 5},
               {"confidence": 1.0}, {"learning_fraction": 0.0}, {"learning_fraction": 0.95}]
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        CrossFitEstimator(**kwargs).estimate(np.zeros((40, 2)), np.zeros((40, 2)), np.arange(40) % 2)


def test_codes_follow_the_bias_budget():
    estimator = CrossFitEstimator(bias_budget=0.02)
    # (k - 1)(|Y| - 1) / (2 n ln 2) ≤ 0.02 bits, k as large as allowed.
    for n, labels in ((3000, 8), (20000, 8), (500, 2)):
        k = estimator.codes_for(n, labels)
        assert (k - 1) * (labels - 1) / (2 * n * np.log(2)) <= 0.02 or k == 2
        assert k == 64 or k * (labels - 1) / (2 * n * np.log(2)) > 0.02
