r"""Two-class Gaussian mixtures in the plane, read in Cartesian or polar coordinates.

The label is a fair coin :math:`Y \in \{0, 1\}`; given :math:`Y`, the point is
:math:`Z \sim \mathcal{N}(\pm \mu, I_2)` with centroid :math:`\mu = s\,(\cos\theta, \sin\theta)` at angle
:math:`\theta` and distance :math:`s` (``separation``) from the origin (``+`` for class 1).
The two modalities are the point's two coordinates:

- ``"cartesian"``: :math:`X_1 = Z_1`, :math:`X_2 = Z_2`. Given the label they are independent; at
  :math:`\theta = 0` only :math:`X_1` is informative (uniqueness), at :math:`\theta = 45°` both are, equally.
- ``"polar"``: :math:`X_1 = \lVert Z \rVert`, :math:`X_2 = \operatorname{atan2}(Z_2, Z_1)`. The radius has the same
  law under both classes, so it carries no information alone; the angle carries almost all of it, and the radius
  adds a little synergy (how far from the origin tells how much to trust the angle). The angle :math:`\theta` only
  rotates the picture here, so the PID does not depend on it.

The PID of a continuous mixture has no closed form. The stored truth is the PID, computed exactly, of the mixture's
law discretised on a fine grid (``truth_bins`` cells per coordinate, cell masses by quadrature of the density), which
approaches the continuous PID from below as the grid is refined.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from pidengine.datasets.synthetic import SyntheticDataset, _check_positive
from pidengine.estimators import ExactEstimator
from pidengine.exceptions import ConfigError
from pidengine.parts import ATOMS

Coordinates = Literal["cartesian", "polar"]
_QUADRATURE_POINTS = 8


def gaussian_mixture(
    n_samples: int,
    *,
    angle: float = 45.0,
    separation: float = 1.5,
    coordinates: Coordinates = "cartesian",
    truth_bins: int = 40,
    random_state: int | None = None,
) -> SyntheticDataset:
    r"""Samples of a two-class Gaussian mixture with the PID of its finely discretised law.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    angle : float, default=45.0
        Centroid angle :math:`\theta` in degrees.
    separation : float, default=1.5
        Distance :math:`s > 0` of each centroid from the origin, in units of the noise standard deviation.
    coordinates : {"cartesian", "polar"}, default="cartesian"
        Which pair of coordinates the two modalities are.
    truth_bins : int, default=40
        Cells per coordinate of the grid on which the true PID is computed (at least 4).
    random_state : int or None
        Seed of the sampler.

    Returns
    -------
    SyntheticDataset
        ``x1``, ``x2`` of shape (n_samples, 1), integer ``y``, ``true_pid`` in bits, and ``latent1``, ``latent2``:
        the grid cell of each coordinate.
    """
    _check_positive("n_samples", n_samples)
    if coordinates not in ("cartesian", "polar"):
        raise ConfigError(f"coordinates must be 'cartesian' or 'polar', got {coordinates!r}")
    if not (np.isfinite(separation) and separation > 0):
        raise ConfigError(f"separation must be a positive number, got {separation!r}")
    if not np.isfinite(angle):
        raise ConfigError(f"angle must be a finite number of degrees, got {angle!r}")
    if not (isinstance(truth_bins, (int, np.integer)) and truth_bins >= 4):
        raise ConfigError(f"truth_bins must be an integer ≥ 4, got {truth_bins!r}")

    rng = np.random.default_rng(random_state)
    centroid = separation * np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    y = rng.integers(0, 2, n_samples)
    z = (2 * y - 1)[:, None] * centroid + rng.standard_normal((n_samples, 2))
    if coordinates == "cartesian":
        x1, x2 = z[:, 0], z[:, 1]
        edges1, edges2 = _cartesian_edges(separation, truth_bins), _cartesian_edges(separation, truth_bins)
        joint = _cartesian_joint(centroid, edges1, edges2)
    else:
        x1, x2 = np.hypot(z[:, 0], z[:, 1]), np.arctan2(z[:, 1], z[:, 0])
        edges1 = np.linspace(0.0, separation + 9.0, truth_bins + 1)
        edges2 = np.linspace(-np.pi, np.pi, truth_bins + 1)
        joint = _polar_joint(centroid, edges1, edges2)

    result = ExactEstimator().estimate(joint)
    true_pid = {key: getattr(result, key) for key in (*ATOMS, "total")}
    cell1 = np.clip(np.searchsorted(edges1, x1) - 1, 0, truth_bins - 1)
    cell2 = np.clip(np.searchsorted(edges2, x2) - 1, 0, truth_bins - 1)
    return SyntheticDataset(x1[:, None], x2[:, None], y, true_pid, cell1, cell2)


def _cartesian_edges(separation: float, n_bins: int) -> NDArray[np.float64]:
    """Uniform cells over ±(s + 8); the outer cells extend to infinity so no mass is lost."""
    edges = np.linspace(-(separation + 8.0), separation + 8.0, n_bins + 1)
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def _cartesian_joint(
    centroid: NDArray[np.float64], edges1: NDArray[np.float64], edges2: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Exact cell masses: given the label the coordinates are independent normals, so each mass is a product."""
    joint = np.empty((len(edges1) - 1, len(edges2) - 1, 2))
    for label, sign in ((0, -1.0), (1, 1.0)):
        m1 = np.diff(ndtr(edges1 - sign * centroid[0]))
        m2 = np.diff(ndtr(edges2 - sign * centroid[1]))
        joint[:, :, label] = 0.5 * np.outer(m1, m2)
    return joint


def _polar_joint(
    centroid: NDArray[np.float64], edges_r: NDArray[np.float64], edges_phi: NDArray[np.float64]
) -> NDArray[np.float64]:
    r"""Cell masses of :math:`(\lVert Z \rVert, \arg Z, Y)` by Gauss-Legendre quadrature of :math:`r\,\phi(z)` per
    cell."""
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_POINTS)

    def points(edges: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        lo, width = edges[:-1, None], np.diff(edges)[:, None]
        return lo + width * (nodes + 1) / 2, width * weights / 2

    r, wr = points(edges_r)  # (cells, nodes)
    phi, wphi = points(edges_phi)
    rr, pp = r[:, :, None, None], phi[None, None, :, :]
    joint = np.empty((len(edges_r) - 1, len(edges_phi) - 1, 2))
    for label, sign in ((0, -1.0), (1, 1.0)):
        dx = rr * np.cos(pp) - sign * centroid[0]
        dy = rr * np.sin(pp) - sign * centroid[1]
        density = rr * np.exp(-(dx**2 + dy**2) / 2) / (2 * np.pi)
        cell = np.einsum("ianb,ia,nb->in", density, wr, wphi)
        joint[:, :, label] = 0.5 * cell
    # Mass beyond the outer radius is below 1e-15; renormalise the quadrature's rounding.
    return joint / joint.sum()
