import numpy as np
import pytest

from pidengine import ConfigError, InvalidJointError
from pidengine.features.encode import RandomConvEncoder


def test_shape_determinism_and_contrast_invariance(rng):
    images = rng.random((7, 32))
    encoder = RandomConvEncoder((4, 8), n_filters=5, seed=1)
    features = encoder(images)
    assert features.shape == (7, 20) == (7, encoder.n_features)
    np.testing.assert_array_equal(features, RandomConvEncoder((4, 8), n_filters=5, seed=1)(images))
    assert not np.allclose(features, RandomConvEncoder((4, 8), n_filters=5, seed=2)(images))
    # Images are standardised first: brightness and contrast changes do not move the embedding.
    np.testing.assert_allclose(encoder(3.0 * images + 1.0), features, atol=1e-6)


def test_images_of_different_digits_stay_apart():
    from sklearn.datasets import load_digits

    digits = load_digits()
    features = RandomConvEncoder((8, 8), n_filters=16)(digits.data)
    centroids = np.stack([features[digits.target == d].mean(0) for d in range(10)])
    nearest = np.argmin(((features[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == digits.target).mean() > 0.6  # chance is 0.1


def test_bad_shapes():
    with pytest.raises(InvalidJointError, match="4×8 = 32 pixels"):
        RandomConvEncoder((4, 8))(np.zeros((3, 30)))
    with pytest.raises(ConfigError, match="at least 2×2"):
        RandomConvEncoder((1, 8))


def test_sentence_embeddings_place_paraphrases_together():
    from pidengine.features.encode import SentenceEmbeddingEncoder

    texts = np.array(
        ["This medicine cured my migraine.", "The drug took my headache away.", "The stock market fell sharply today."],
        dtype=object,
    )
    embeddings = SentenceEmbeddingEncoder()(texts)
    assert embeddings.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
