import numpy as np
import pytest

from pidengine import ConfigError, InvalidJointError
from pidengine.features.discretize import ModalityFeaturizer


def test_kmeans_recovers_well_separated_clusters(rng):
    centres = rng.normal(scale=10, size=(5, 40))
    labels = rng.integers(0, 5, 2000)
    x = centres[labels] + rng.normal(size=(2000, 40))
    featurizer = ModalityFeaturizer(n_clusters=5, n_components=4).fit(x[:1000])
    codes = featurizer.transform(x)
    assert featurizer.method_ == "kmeans" and featurizer.n_codes_ == 5
    # Each true cluster maps to exactly one code, and vice versa (a relabelling).
    pairs = set(zip(labels.tolist(), codes.tolist()))
    assert len(pairs) == 5
    params = featurizer.parameters()
    assert params["pca_components"].shape == (4, 40) and params["centroids"].shape == (5, 4)


def test_histogram_uses_training_quantiles(rng):
    x = rng.normal(size=(1000, 1))
    featurizer = ModalityFeaturizer(n_bins=4).fit(x)
    assert featurizer.method_ == "histogram"
    counts = np.bincount(featurizer.transform(x), minlength=4)
    assert counts.tolist() == [250, 250, 250, 250]
    assert featurizer.transform(np.array([[-100.0], [100.0]])).tolist() == [0, 3]


def test_categorical_for_few_integer_values():
    featurizer = ModalityFeaturizer().fit(np.array([[3.0], [7.0], [3.0]]))
    assert featurizer.method_ == "categorical"
    assert featurizer.transform(np.array([[7.0], [3.0]])).tolist() == [1, 0]
    with pytest.raises(InvalidJointError, match="not seen in training"):
        featurizer.transform(np.array([[5.0]]))


def test_settings_that_cannot_work_are_named(rng):
    with pytest.raises(ConfigError, match="n_clusters=20 exceeds the 10 distinct"):
        ModalityFeaturizer().fit(rng.normal(size=(10, 3)))
    with pytest.raises(ConfigError, match="one-feature modality"):
        ModalityFeaturizer("histogram").fit(rng.normal(size=(100, 3)))
    with pytest.raises(ConfigError, match="cannot fill n_bins=10"):
        ModalityFeaturizer("histogram").fit(np.repeat([[0.0], [1.0]], 50, axis=0))
    with pytest.raises(InvalidJointError, match="NaN"):
        ModalityFeaturizer().fit(np.full((5, 2), np.nan))
