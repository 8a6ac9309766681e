"""The tabular generator: its columns, its seeding, and its truth as the PID of (X1, X2, Y)."""

import numpy as np
import pytest

from pidengine.catalog import load_catalog
from pidengine.datasets.mixed_table import mixed_table, mixed_table_law, table_code
from pidengine.estimators import CVXEstimator, ExactEstimator
from pidengine.exceptions import ConfigError


def test_columns_are_one_hot_blocks_beside_numeric_columns_on_unlike_scales():
    data = mixed_table(3000, n_categories=5, label_noise=0.1, random_state=0)
    for x, driver_scale in ((data.x1, 1000.0), (data.x2, 5.0)):
        assert x.shape == (3000, 5 + 3 + 5)
        np.testing.assert_array_equal(x[:, :5].sum(axis=1), 1)  # the category, one-hot
        np.testing.assert_array_equal(x[:, 5:8].sum(axis=1), 1)  # the label-free category, one-hot
        assert set(np.unique(x[:, :8])) == {0.0, 1.0}
        assert np.median(x[:, 8]) == pytest.approx(driver_scale, rel=0.1)  # log-normal driver: median = scale
        assert x[:, 8].mean() > 1.3 * np.median(x[:, 8])  # skewed
        assert np.corrcoef(x[:, 8], x[:, 9])[0, 1] > 0.5  # the size grows with the driver
        np.testing.assert_array_equal(x[:, 10], np.round(x[:, 10]))  # a count
        assert x[:, 11].mean() == pytest.approx(60, abs=0.5) and x[:, 12].mean() == pytest.approx(0.01, rel=0.1)
    # Category frequencies fall as 1, 1/2, 1/3, ...
    counts = np.bincount(data.x1[:, :5].argmax(axis=1), minlength=5)
    assert np.all(np.diff(counts) < 0)


def test_one_seed_one_dataset():
    first, again, other = (mixed_table(500, random_state=s) for s in (4, 4, 5))
    for name in ("x1", "x2", "y"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert first.true_pid == again.true_pid
    assert not np.array_equal(first.x1, other.x1)


def test_codes_are_functions_of_the_features():
    data = mixed_table(20_000, n_categories=3, n_bins=5, random_state=1)
    np.testing.assert_array_equal(table_code(data.x1, 1, n_categories=3, n_bins=5), data.latent1)
    np.testing.assert_array_equal(table_code(data.x2, 2, n_categories=3, n_bins=5), data.latent2)


def test_truth_agrees_with_a_second_solver():
    data = mixed_table(10, main1=2.0, interaction=2.0, shared=0.3, label_noise=0.1, random_state=6)
    law_seed = int(np.random.default_rng(6).integers(2**31))  # mixed_table draws the law's seed first
    reference = CVXEstimator().estimate(mixed_table_law(main1=2.0, interaction=2.0, shared=0.3, label_noise=0.1,
                                                        random_state=law_seed))
    for part, value in data.true_pid.items():
        assert value == pytest.approx(getattr(reference, part), abs=1e-5)


def test_large_sample_of_the_codes_converges_to_the_truth():
    data = mixed_table(300_000, main1=2.0, main2=1.0, interaction=3.0, shared=0.5, random_state=7)
    empirical = ExactEstimator().estimate_samples(data.latent1, data.latent2, data.y)
    for part, value in data.true_pid.items():
        assert getattr(empirical, part) == pytest.approx(value, abs=0.01)


def test_the_parts_follow_the_effects():
    def pid(**weights):
        result = ExactEstimator().estimate(mixed_table_law(**weights, random_state=0))
        return {part: getattr(result, part) for part in ("redundancy", "unique1", "unique2", "synergy", "total")}

    # The product of the drivers alone: each modality alone says nothing, the pair does (pure synergy).
    product = pid(main1=0.0, main2=0.0, interaction=3.0)
    assert product["synergy"] > 0.3 and max(product["unique1"], product["unique2"]) < 1e-6
    # x1's own effects alone: x1-unique information only.
    own = pid(main1=2.0, main2=0.0, interaction=0.0)
    assert own["unique1"] == pytest.approx(own["total"], abs=1e-6) and own["total"] > 0.3
    # A code x2 copies: whatever x1 says, x2 says too.
    copied = pid(main1=2.0, main2=0.0, interaction=0.0, shared=1.0)
    assert copied["redundancy"] == pytest.approx(copied["total"], abs=1e-6)
    # No effect at all leaves the label independent of both modalities.
    assert pid(main1=0.0, main2=0.0, interaction=0.0)["total"] == pytest.approx(0.0, abs=1e-9)


def test_bad_parameters_are_refused_with_the_value():
    with pytest.raises(ConfigError, match="interaction must lie in"):
        mixed_table(10, interaction=-1.0)
    with pytest.raises(ConfigError, match="n_bins must be an integer from 2 to 16, got 1"):
        mixed_table(10, n_bins=1)


def test_catalog_entry_carries_the_exact_truth_of_its_generator(tmp_path):
    (tmp_path / "catalog.yaml").write_text("""datasets:
  table:
    source: {kind: mixed_table, main1: 3.0, interaction: 3.0, label_noise: 0.1, n_samples: 400, seed: 2}
""")
    catalog = load_catalog(tmp_path / "catalog.yaml")
    entry = catalog.entries["table"]
    data = entry.load(tmp_path)
    expected = mixed_table(400, main1=3.0, interaction=3.0, label_noise=0.1, random_state=2)
    assert entry.is_synthetic and data.true_pid == pytest.approx(expected.true_pid)
    np.testing.assert_array_equal(data.x1, expected.x1)
