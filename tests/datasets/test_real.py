import numpy as np
import pytest

from pidengine import ConfigError
from pidengine.datasets.real import basic_motions, digits_halves, uci_multifeature


def test_digits_halves_are_the_two_halves_of_each_image():
    from sklearn.datasets import load_digits

    images = load_digits().images
    top = digits_halves("top_bottom")
    assert top.x1.shape == top.x2.shape == (1797, 32)
    np.testing.assert_array_equal(top.x1.reshape(-1, 4, 8), images[:, :4, :])
    left = digits_halves("left_right")
    np.testing.assert_array_equal(left.x2.reshape(-1, 8, 4), images[:, :, 4:])
    assert len(top.label_names) == 10


def test_uci_multifeature_views():
    data = uci_multifeature("pix", "mor")
    assert data.x1.shape == (2000, 240) and data.x2.shape == (2000, 6)
    assert np.bincount(data.y).tolist() == [200] * 10


def test_uci_rejects_unknown_or_repeated_views():
    with pytest.raises(ConfigError, match="unknown"):
        uci_multifeature("fou", "abc")
    with pytest.raises(ConfigError, match="different views"):
        uci_multifeature("fou", "fou")


def test_basic_motions_accelerometer_and_gyroscope():
    data = basic_motions()
    assert data.x1.shape == data.x2.shape == (80, 300)
    assert data.label_names == ("Badminton", "Running", "Standing", "Walking")
    assert np.bincount(data.y).tolist() == [20] * 4
    # Standing still: the accelerometer moves far less than while running.
    spread = data.x1.reshape(80, 3, 100).std(axis=2).mean(axis=1)
    assert spread[data.y == 2].mean() < spread[data.y == 1].mean()


def test_drug_reviews_are_text_pairs_with_rating_classes():
    from pidengine.datasets.real import drug_reviews
    from pidengine.datasets.types import is_text

    data = drug_reviews()
    assert data.n_samples == 979 and data.label_names == ("negative", "neutral", "positive")
    assert is_text(data.x1) and is_text(data.x2)
    assert "&#039;" not in " ".join(data.x1[:50])  # HTML entities are decoded
    assert data.x2[0] == "Nubain for Pain"
