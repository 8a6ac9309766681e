import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from pidengine import ConfigError, mutual_information
from pidengine.datasets import gaussian_mixture
from pidengine.datasets.gaussian import _cartesian_edges


def continuous_information(separation: float) -> float:
    """I(Z;Y) in bits for Z ~ N(±s, 1) with a fair label: only the projection on the centroid axis matters."""

    def integrand(w):
        p0, p1 = norm.pdf(w, -separation), norm.pdf(w, separation)
        mix = (p0 + p1) / 2
        return sum(0.5 * p * np.log2(p / mix) for p in (p0, p1) if p > 0)

    return quad(integrand, -separation - 12, separation + 12, limit=200)[0]


@pytest.mark.parametrize("angle, informative", [(0.0, "unique1"), (90.0, "unique2")])
def test_axis_aligned_centroids_give_pure_uniqueness(angle, informative):
    """Only the coordinate along the centroids informs; its information is that of a 1-D mixture (independent)."""
    data = gaussian_mixture(10, angle=angle, separation=1.5, truth_bins=40)
    marginal = gaussian_mixture(10, angle=0.0, separation=1.5, truth_bins=40)
    assert data.true_pid[informative] == pytest.approx(data.true_pid["total"], abs=1e-6)
    for key in {"redundancy", "unique1", "unique2", "synergy"} - {informative}:
        assert abs(data.true_pid[key]) < 1e-6
    # The 1-D binned information computed directly from normal cell masses.
    edges = _cartesian_edges(1.5, 40)
    cells = np.stack([0.5 * np.diff(norm.cdf(edges, loc=m)) for m in (-1.5, 1.5)], axis=1)
    assert marginal.true_pid["total"] == pytest.approx(mutual_information(cells), abs=1e-9)


@pytest.mark.parametrize("coordinates", ["cartesian", "polar"])
def test_grid_truth_approaches_the_continuous_information(coordinates):
    """Refining the grid moves the total towards I(Z;Y) of the continuous mixture, from below (data processing)."""
    exact = continuous_information(1.5)
    coarse = gaussian_mixture(10, coordinates=coordinates, truth_bins=20).true_pid["total"]
    fine = gaussian_mixture(10, coordinates=coordinates, truth_bins=60).true_pid["total"]
    assert coarse < fine <= exact + 1e-6
    assert exact - fine < 0.01


def test_polar_radius_alone_is_uninformative():
    """Both classes give the radius the same law, so R = U1 = 0; the angle carries the rest, plus synergy."""
    pid = gaussian_mixture(10, coordinates="polar", truth_bins=40).true_pid
    assert abs(pid["redundancy"]) < 1e-6 and abs(pid["unique1"]) < 1e-6
    assert pid["synergy"] > 0.03 and pid["unique2"] > 0.6


def test_diagonal_centroids_are_symmetric():
    pid = gaussian_mixture(10, angle=45.0, truth_bins=40).true_pid
    assert pid["unique1"] == pytest.approx(pid["unique2"], abs=1e-6)
    assert pid["redundancy"] > 0.4 and pid["synergy"] > 0.2


def test_samples_follow_the_law():
    data = gaussian_mixture(20000, angle=30.0, random_state=0)
    centroid = 1.5 * np.array([np.cos(np.radians(30)), np.sin(np.radians(30))])
    z = np.hstack([data.x1, data.x2])
    for label, sign in ((0, -1), (1, 1)):
        np.testing.assert_allclose(z[data.y == label].mean(0), sign * centroid, atol=0.05)
        np.testing.assert_allclose(np.cov(z[data.y == label].T), np.eye(2), atol=0.05)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"separation": 0.0}, "separation"),
        ({"coordinates": "spherical"}, "coordinates"),
        ({"truth_bins": 2}, "truth_bins"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        gaussian_mixture(10, **kwargs)
