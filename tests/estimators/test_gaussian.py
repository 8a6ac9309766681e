"""The Gaussian PID solver against values known independently of it.

The references: the closed form for a scalar target (Barrett 2015: for jointly Gaussian variables with a univariate
target the BROJA redundancy is min(I(X1; Y), I(X2; Y)), here with vector sources), closed forms where the coupling
cannot matter or makes the two modalities copies, a brute-force optimiser over every feasible cross-covariance in
the caller's coordinates, and invariance under invertible maps of each variable. The exact discrete solver is no
reference: a Gaussian has no finite table, and the PID of a discretisation is a different quantity.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from pidengine.estimators.gaussian import gaussian_pid
from pidengine.exceptions import InvalidJointError

PARTS = ("redundancy", "unique1", "unique2", "synergy", "total")


def random_covariance(rng: np.random.Generator, size: int, snr: float = 1.0) -> np.ndarray:
    """A random positive definite covariance, with correlations of a strength set by ``snr``."""
    mixing = rng.normal(size=(size, size))
    return snr * mixing @ mixing.T / size + np.eye(size)


def information(cov: np.ndarray, rows: np.ndarray, target: np.ndarray) -> float:
    """I(A; Y) in bits from slogdet, written independently of the solver."""
    both = np.concatenate([rows, target])
    logdet = [np.linalg.slogdet(cov[np.ix_(ix, ix)])[1] for ix in (rows, target, both)]
    return (logdet[0] + logdet[1] - logdet[2]) / (2 * np.log(2))


def brute_force_union(cov: np.ndarray, d1: int, d2: int, rng: np.random.Generator, starts: int = 6) -> float:
    """min over feasible Σ12 of I(X1, X2; Y), bits: Σ12 = B1 B2ᵀ + N1^½ C N2^½ with C = A (I + AᵀA)^-½ (every
    contraction), optimised by BFGS with numerical gradients from several starts."""
    x1, x2, y = np.arange(d1), np.arange(d1, d1 + d2), np.arange(d1 + d2, len(cov))
    inv_yy = np.linalg.inv(cov[np.ix_(y, y)])
    halves, broadcasts = [], []
    for block in (x1, x2):
        broadcast = cov[np.ix_(block, y)]
        noise = cov[np.ix_(block, block)] - broadcast @ inv_yy @ broadcast.T
        values, vectors = np.linalg.eigh(noise)
        halves.append(vectors @ np.diag(np.sqrt(values)) @ vectors.T)
        broadcasts.append(broadcast)
    fixed = broadcasts[0] @ inv_yy @ broadcasts[1].T

    def union(params: np.ndarray) -> float:
        a = params.reshape(d1, d2)
        values, vectors = np.linalg.eigh(np.eye(d2) + a.T @ a)
        contraction = a @ vectors @ np.diag(values**-0.5) @ vectors.T
        coupled = cov.copy()
        coupled[np.ix_(x1, x2)] = fixed + halves[0] @ contraction @ halves[1]
        coupled[np.ix_(x2, x1)] = coupled[np.ix_(x1, x2)].T
        return information(coupled, np.concatenate([x1, x2]), y)

    return min(minimize(union, rng.normal(size=d1 * d2), method="BFGS", options={"gtol": 1e-9}).fun
               for _ in range(starts))


@pytest.mark.parametrize("seed", range(4))
def test_scalar_target_gives_the_smaller_information_as_redundancy(seed):
    rng = np.random.default_rng(seed)
    d1, d2 = 1 + seed % 3, 2 + seed % 2
    cov = random_covariance(rng, d1 + d2 + 1, snr=2.0)
    result = gaussian_pid(cov, d1, d2)
    i1 = information(cov, np.arange(d1), np.array([d1 + d2]))
    i2 = information(cov, np.arange(d1, d1 + d2), np.array([d1 + d2]))
    assert result.converged
    assert result.redundancy == pytest.approx(min(i1, i2), abs=1e-6)
    assert min(result.unique1, result.unique2) == pytest.approx(0.0, abs=1e-6)
    assert result.total == pytest.approx(information(cov, np.arange(d1 + d2), np.array([d1 + d2])), abs=1e-9)
    result.check(atol=1e-9)


@pytest.mark.parametrize(("d1", "d2", "dy", "seed"), [(2, 2, 2, 0), (2, 3, 2, 1), (3, 2, 3, 2), (2, 2, 3, 3)])
def test_union_information_matches_a_brute_force_optimiser(d1, d2, dy, seed):
    rng = np.random.default_rng(seed)
    cov = random_covariance(rng, d1 + d2 + dy, snr=3.0)
    result = gaussian_pid(cov, d1, d2)
    brute = brute_force_union(cov, d1, d2, rng)
    assert result.converged
    # The solver's value is certified: nothing feasible lies more than its gap below it.
    assert brute >= result.union_information - result.duality_gap - 1e-9
    assert result.union_information == pytest.approx(brute, abs=1e-5)


def test_the_returned_coupling_is_feasible_and_attains_the_union_information():
    rng = np.random.default_rng(5)
    d1, d2, dy = 3, 2, 3
    cov = random_covariance(rng, d1 + d2 + dy, snr=4.0)
    result = gaussian_pid(cov, d1, d2)
    coupled = cov.copy()
    coupled[:d1, d1:d1 + d2] = result.cross_covariance
    coupled[d1:d1 + d2, :d1] = result.cross_covariance.T
    assert np.linalg.eigvalsh(coupled).min() > -1e-9
    union = information(coupled, np.arange(d1 + d2), np.arange(d1 + d2, d1 + d2 + dy))
    assert union == pytest.approx(result.union_information, abs=1e-7)


def test_parts_are_invariant_under_invertible_maps_of_each_variable():
    rng = np.random.default_rng(6)
    d1, d2, dy = 2, 3, 2
    cov = random_covariance(rng, d1 + d2 + dy, snr=2.0)
    maps = [rng.normal(size=(d, d)) + 2 * np.eye(d) for d in (d1, d2, dy)]
    transform = np.zeros_like(cov)
    start = 0
    for block in maps:
        transform[start:start + len(block), start:start + len(block)] = block
        start += len(block)
    before, after = gaussian_pid(cov, d1, d2), gaussian_pid(transform @ cov @ transform.T, d1, d2)
    for part in PARTS:
        assert getattr(after, part) == pytest.approx(getattr(before, part), abs=1e-6)


def test_modalities_about_independent_components_are_unique_only():
    # Y = (Y1, Y2) independent; X1 = Y1 + noise, X2 = Y2 + noise: correlating the noises can only reveal more.
    cov = np.diag([1.0, 1.0, 1.0, 1.0])
    cov[0, 0], cov[1, 1] = 2.0, 1.5   # X1 = Y1 + N(0, 1), X2 = Y2 + N(0, 0.5)
    cov[0, 2] = cov[2, 0] = cov[1, 3] = cov[3, 1] = 1.0
    result = gaussian_pid(cov, 1, 1)
    assert result.redundancy == pytest.approx(0.0, abs=1e-6)
    assert result.synergy == pytest.approx(0.0, abs=1e-6)
    assert result.unique1 == pytest.approx(0.5 * np.log2(2.0), abs=1e-6)
    assert result.unique2 == pytest.approx(0.5 * np.log2(3.0), abs=1e-6)


def test_two_copies_of_one_channel_are_redundant_only():
    # X1 and X2 both Y + N(0, I) (noises independent in p): the optimal coupling makes them equal, on the boundary.
    gain = np.array([[1.0, 0.5], [0.0, 2.0]])
    channel = gain @ gain.T + np.eye(2)
    cov = np.block([[channel, gain @ gain.T, gain], [gain @ gain.T, channel, gain], [gain.T, gain.T, np.eye(2)]])
    result = gaussian_pid(cov, 2, 2)
    single = np.linalg.slogdet(channel)[1] / (2 * np.log(2))
    assert result.converged
    assert result.redundancy == pytest.approx(single, abs=1e-6)
    assert result.unique1 == pytest.approx(0.0, abs=1e-6)
    assert result.unique2 == pytest.approx(0.0, abs=1e-6)


def test_a_modality_without_information_leaves_the_other_unique():
    cov = np.eye(4)
    cov[1, 3] = cov[3, 1] = 0.6   # X2 (index 1) correlates with Y (index 3, 2-dimensional target with index 2)
    result = gaussian_pid(cov, 1, 1)
    assert result.informations["x1"] == pytest.approx(0.0, abs=1e-12)
    assert result.redundancy == pytest.approx(0.0, abs=1e-9)
    assert result.unique2 == pytest.approx(-0.5 * np.log2(1 - 0.36), abs=1e-9)


@pytest.mark.parametrize(
    ("cov", "d1", "d2", "match"),
    [
        (np.eye(3)[:2], 1, 1, "square"),
        (np.eye(3), 1, 2, "no target"),
        (np.ones((3, 3)), 1, 1, "positive definite"),
        (np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), 1, 1, "symmetric"),
        (np.full((3, 3), np.nan), 1, 1, "non-finite"),
    ],
)
def test_bad_covariances_are_refused_with_the_reason(cov, d1, d2, match):
    with pytest.raises(InvalidJointError, match=match):
        gaussian_pid(cov, d1, d2)
