"""The Gaussian PID on learned encodings: a research estimator, checked for its contract, not its accuracy
(measured in docs/accuracy.md)."""

from __future__ import annotations

import numpy as np
import pytest

from pidengine.estimators.gaussian_encoding import GaussianEncodingEstimator, _contrasts, gaussian_pid_of_posteriors
from pidengine.estimators.posterior import PosteriorSettings
from pidengine.exceptions import InvalidJointError
from pidengine.parts import PARTS

FAST = PosteriorSettings(capacities=((0, 0),), scalings=("standardise",), architectures=("mlp",), max_epochs=30)


def test_a_modality_that_sees_the_label_is_unique_and_a_noise_modality_adds_nothing():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x1 = np.eye(3)[y] * 2.0 + rng.normal(size=(300, 3))
    x2 = rng.normal(size=(300, 4))
    result = GaussianEncodingEstimator(n_folds=3, n_bootstrap=20, posterior=FAST).estimate(x1, x2, y)
    result.check(atol=1e-9)
    assert result.significant["unique1"]
    assert result.unique1 > 0.1
    assert not result.significant["unique2"]
    assert abs(result.unique2) < 0.05
    assert result.duality_gap < 1e-6
    for part in PARTS:
        low, high = result.intervals[part]
        assert low <= result.plugin[part] + 0.1 and low < high
    assert result.samples.shape == (20, 5)


def test_contrasts_are_an_orthonormal_basis_of_the_centred_vectors():
    basis = _contrasts(5)
    assert basis.shape == (5, 4)
    np.testing.assert_allclose(basis.T @ basis, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(basis.sum(axis=0), 0.0, atol=1e-12)


def test_bad_samples_are_refused():
    with pytest.raises(InvalidJointError, match="too few"):
        GaussianEncodingEstimator().estimate(np.zeros((20, 2)), np.zeros((20, 2)), np.arange(20) % 2)


def test_encodings_with_an_exact_common_component_are_refused_as_singular():
    # Both codes carry the same bit: with more labels than codes each encoding is an affine image of its code's
    # indicators, so the two share an exact linear component (the indicator of the bit).
    rng = np.random.default_rng(1)
    shared, a, b = (rng.integers(0, 2, 400) for _ in range(3))
    y = (shared + 2 * a * b + rng.integers(0, 3, 400)) % 5
    posteriors = []
    for codes in (2 * shared + a, 2 * shared + b):
        counts = np.zeros((4, 5))
        np.add.at(counts, (codes, y), 1.0)
        posteriors.append(((counts + 0.5) / (counts + 0.5).sum(axis=1, keepdims=True))[codes])
    with pytest.raises(InvalidJointError, match="positive definite"):
        gaussian_pid_of_posteriors(posteriors[0], posteriors[1], y, n_bootstrap=20)
