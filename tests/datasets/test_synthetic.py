import numpy as np
import pytest

from pidengine import ConfigError, ExactEstimator
from pidengine.datasets import gate_samples, latent_concept


@pytest.mark.parametrize(
    "n_r, n_a, n_b, n_s", [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 2, 0), (0, 0, 0, 1), (1, 1, 1, 1), (2, 0, 1, 1)]
)
def test_true_pid_of_pure_and_mixed_constructions(n_r, n_a, n_b, n_s):
    """Independent shared, private and XOR-split bits: R, U1, U2, S equal their bit counts (closed form)."""
    data = latent_concept(200, n_redundant=n_r, n_unique1=n_a, n_unique2=n_b, n_synergy=n_s, random_state=0)
    expected = {"redundancy": n_r, "unique1": n_a, "unique2": n_b, "synergy": n_s, "total": n_r + n_a + n_b + n_s}
    for key, value in expected.items():
        assert data.true_pid[key] == pytest.approx(value, abs=1e-6), key


def test_label_noise_lowers_every_part_but_keeps_them_consistent():
    clean = latent_concept(100, random_state=1).true_pid
    noisy = latent_concept(100, label_noise=0.3, random_state=1).true_pid
    assert 0 < noisy["total"] < clean["total"]
    parts = [noisy[k] for k in ("redundancy", "unique1", "unique2", "synergy")]
    assert all(-1e-7 <= v < 1.0 for v in parts)
    assert sum(parts) == pytest.approx(noisy["total"], abs=1e-9)


def test_samples_follow_the_latent_joint():
    """The PID of the sampled latent codes converges to the stored truth (plug-in error at 20,000 samples)."""
    data = latent_concept(20000, label_noise=0.1, random_state=2)
    estimate = ExactEstimator().estimate_samples(data.latent1, data.latent2, data.y)
    for key, value in data.true_pid.items():
        assert getattr(estimate, key) == pytest.approx(value, abs=0.05), key


def test_embeddings_carry_the_latent_bits():
    data = latent_concept(4000, dim1=64, dim2=8, noise=0.1, random_state=3)
    assert data.x1.shape == (4000, 64) and data.x2.shape == (4000, 8)
    for x, code in ((data.x1, data.latent1), (data.x2, data.latent2)):
        centroids = np.stack([x[code == c].mean(0) for c in np.unique(code)])
        nearest = np.argmin(((x[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
        assert (np.unique(code)[nearest] == code).mean() > 0.95


def test_reproducible_for_a_seed():
    a, b = latent_concept(50, random_state=4), latent_concept(50, random_state=4)
    np.testing.assert_array_equal(a.x1, b.x1)
    np.testing.assert_array_equal(a.y, b.y)


def test_gate_samples_match_the_closed_form():
    data = gate_samples("and", 20000, random_state=5)
    estimate = ExactEstimator().estimate_samples(data.latent1, data.latent2, data.y)
    assert estimate.redundancy == pytest.approx(data.true_pid["redundancy"], abs=0.02)
    assert estimate.synergy == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_redundant": 0, "n_unique1": 0, "n_unique2": 0, "n_synergy": 0}, "at least one latent bit"),
        ({"n_unique1": -1}, "n_unique1"),
        ({"label_noise": 1.5}, "label_noise"),
        ({"dim1": 1}, "dim1"),
        ({"n_redundant": 13}, "at most 12"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        latent_concept(10, **kwargs)
    with pytest.raises(ConfigError, match="unknown gate"):
        gate_samples("nand", 10)


def test_truth_is_claimed_only_while_the_features_reveal_the_latent_codes():
    from pidengine.catalog import CatalogEntry

    assert latent_concept(100, noise=0.1, random_state=5).truth_is_exact
    noisy = latent_concept(100, noise=1.5, random_state=5)
    assert not noisy.truth_is_exact and noisy.true_pid["total"] > 0  # the latent PID is still computed
    entry = CatalogEntry(name="n", source={"kind": "latent_concept", "noise": 1.5, "n_samples": 50})
    assert entry.load().true_pid is None and entry.is_synthetic
    assert CatalogEntry(name="c", source={"kind": "latent_concept", "n_samples": 50}).load().true_pid is not None
    assert not CatalogEntry(name="d", source={"kind": "digits"}).is_synthetic
