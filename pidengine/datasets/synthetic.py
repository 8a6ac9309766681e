"""Synthetic multimodal datasets whose PID is known by construction.

Two generators:

- :func:`gate_samples`: samples of a textbook joint (AND, XOR, ...; :data:`~pidengine.datasets.CANONICAL`), whose
  PID has a closed form.
- :func:`latent_concept`: a label built from independent uniform latent bits that are *shared* by both modalities
  (redundancy), seen by *one* modality (uniqueness), or *split* across them so that only their XOR enters the label
  (synergy); each modality is a high-dimensional continuous embedding of the latent bits it sees. The true PID is
  that of the discrete latent joint ``(latent code of x1, latent code of x2, y)``, computed exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from pidengine.datasets.canonical import CANONICAL
from pidengine.estimators import ExactEstimator
from pidengine.exceptions import ConfigError
from pidengine.parts import ATOMS


@dataclass(frozen=True, eq=False)
class SyntheticDataset:
    """Two modalities, a label, and the true PID in bits.

    Attributes
    ----------
    x1, x2 : ndarray, shape (n_samples, d1) and (n_samples, d2)
        The modalities (discrete codes as one column for gates, continuous embeddings for latent concepts).
    y : ndarray of int, shape (n_samples,)
        The label.
    true_pid : dict of str to float
        ``redundancy``, ``unique1``, ``unique2``, ``synergy`` and ``total`` in bits, of the discrete variables the
        modalities are built from (the latent codes for latent concepts).
    latent1, latent2 : ndarray of int, shape (n_samples,)
        The discrete code each modality is a function of (before embedding).
    truth_is_exact : bool
        Whether ``true_pid`` is also the PID of (x1, x2, y): False when feature noise hides the latent codes, so the
        observed features carry less information than the codes they were made from.
    signal1, signal2 : ndarray, shape (n_samples, k), optional
        Where known, each modality's label-relevant coordinates alone (the features without their nuisance
        directions): what an estimator would see if it knew where to look, a reference for how much of an error
        is the nuisance's.
    """

    x1: NDArray
    x2: NDArray
    y: NDArray[np.int64]
    true_pid: dict[str, float]
    latent1: NDArray[np.int64] = field(repr=False)
    latent2: NDArray[np.int64] = field(repr=False)
    truth_is_exact: bool = True
    signal1: NDArray | None = field(default=None, repr=False)
    signal2: NDArray | None = field(default=None, repr=False)


def gate_samples(name: str, n_samples: int, random_state: int | None = None) -> SyntheticDataset:
    """``n_samples`` draws from the textbook joint ``name`` (see :data:`~pidengine.datasets.CANONICAL`).

    The true PID is the closed form of the joint the samples are drawn from.
    """
    if name not in CANONICAL:
        raise ConfigError(f"unknown gate {name!r}; choose one of {sorted(CANONICAL)}")
    _check_positive("n_samples", n_samples)
    joint = CANONICAL[name]
    rng = np.random.default_rng(random_state)
    flat = rng.choice(joint.pmf.size, size=n_samples, p=joint.pmf.ravel())
    a, b, y = np.unravel_index(flat, joint.pmf.shape)
    return SyntheticDataset(a[:, None], b[:, None], y, joint.expected(), a, b)


# Feature noise up to which the latent codes are recovered from the embeddings without error (checked by
# benchmarks/discretisation_accuracy.py: k-means codes of the default-noise sets give the true PID within 0.008
# bits), so the latent PID is the PID of the data. Above it the latent PID only bounds what the features carry.
LATENT_NOISE_FOR_TRUTH = 0.1


def latent_concept(
    n_samples: int,
    *,
    n_redundant: int = 1,
    n_unique1: int = 1,
    n_unique2: int = 1,
    n_synergy: int = 1,
    label_noise: float = 0.0,
    dim1: int = 32,
    dim2: int = 32,
    noise: float = 0.1,
    random_state: int | None = None,
) -> SyntheticDataset:
    r"""Samples of the latent-concept generator with its exact PID.

    Latent uniform bits: :math:`r` (``n_redundant``, seen by both modalities), :math:`a` (``n_unique1``, seen by X1),
    :math:`b` (``n_unique2``, seen by X2), and pairs :math:`(s, t)` (``n_synergy``; X1 sees :math:`s`, X2 sees
    :math:`t`). The label is the integer with bits :math:`(r, a, b, s \oplus t)`; with probability ``label_noise``
    it is replaced by a uniformly random label. Each modality is :math:`W_2 \tanh(W_1 z + c) + \varepsilon`, where
    :math:`z \in \{-1, 1\}^k` are the bits it sees, the weights are random (seeded), and :math:`\varepsilon` is
    Gaussian with standard deviation ``noise``.

    With no label noise the true PID is ``n_redundant`` bits of redundancy, ``n_unique1`` and ``n_unique2`` bits of
    uniqueness and ``n_synergy`` bits of synergy (the latent joint is a product of independent copy, XOR and shared
    components); it is computed exactly from the latent joint in every case, so label noise is accounted for.
    It is the PID of the data itself only while ``noise`` ≤ ``LATENT_NOISE_FOR_TRUTH`` (``truth_is_exact``): more
    feature noise hides the latent codes, and the features then carry less than the latent PID says.

    Returns
    -------
    SyntheticDataset
        Continuous ``x1`` (n_samples, dim1) and ``x2`` (n_samples, dim2), integer ``y``, and ``true_pid``.
    """
    counts = {"n_redundant": n_redundant, "n_unique1": n_unique1, "n_unique2": n_unique2, "n_synergy": n_synergy}
    for key, value in counts.items():
        if not (isinstance(value, (int, np.integer)) and value >= 0):
            raise ConfigError(f"{key} must be a non-negative integer, got {value!r}")
    n_label_bits = n_redundant + n_unique1 + n_unique2 + n_synergy
    if n_label_bits == 0:
        raise ConfigError("the label needs at least one latent bit: all of n_redundant, n_unique*, n_synergy are 0")
    if n_label_bits > 12:
        raise ConfigError(f"at most 12 latent label bits are supported (|Y| = 2^bits), got {n_label_bits}")
    if not 0.0 <= label_noise <= 1.0:
        raise ConfigError(f"label_noise must lie in [0, 1], got {label_noise!r}")
    _check_positive("n_samples", n_samples)
    for key, value in (("dim1", dim1), ("dim2", dim2)):
        if not (isinstance(value, (int, np.integer)) and 2 <= value <= 1024):
            raise ConfigError(f"{key} must be an integer from 2 to 1024, got {value!r}")

    rng = np.random.default_rng(random_state)
    r, a, b, s, t = (rng.integers(0, 2, (n_samples, k)) for k in (n_redundant, n_unique1, n_unique2) + (n_synergy,) * 2)
    seen1 = np.hstack([r, a, s])
    seen2 = np.hstack([r, b, t])
    label_bits = np.hstack([r, a, b, s ^ t])
    y_clean = _to_int(label_bits)
    n_labels = 2**n_label_bits
    flip = rng.random(n_samples) < label_noise
    y = np.where(flip, rng.integers(0, n_labels, n_samples), y_clean)

    true_joint = _latent_joint(
        seen1.shape[1], seen2.shape[1], n_redundant, n_unique1, n_unique2, n_synergy, label_noise
    )
    result = ExactEstimator().estimate(true_joint)
    true_pid = {key: getattr(result, key) for key in (*ATOMS, "total")}
    x1 = _embed(seen1, dim1, noise, rng)
    x2 = _embed(seen2, dim2, noise, rng)
    return SyntheticDataset(x1, x2, y, true_pid, _to_int(seen1), _to_int(seen2), noise <= LATENT_NOISE_FOR_TRUTH)


def _check_positive(name: str, value: int) -> None:
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _to_int(bits: NDArray) -> NDArray[np.int64]:
    """Rows of bits to integers (first column most significant); zero columns give 0."""
    weights = 2 ** np.arange(bits.shape[1] - 1, -1, -1)
    return (bits * weights).sum(axis=1).astype(np.int64)


def _latent_joint(k1: int, k2: int, n_r: int, n_a: int, n_b: int, n_s: int, label_noise: float) -> NDArray[np.float64]:
    """The exact joint of (code of x1's bits, code of x2's bits, label) over all latent configurations."""
    n_bits = n_r + n_a + n_b + 2 * n_s
    configs = (np.arange(2**n_bits)[:, None] >> np.arange(n_bits - 1, -1, -1)) & 1
    r, a, b, s, t = np.split(configs, np.cumsum([n_r, n_a, n_b, n_s]), axis=1)
    c1 = _to_int(np.hstack([r, a, s]))
    c2 = _to_int(np.hstack([r, b, t]))
    y = _to_int(np.hstack([r, a, b, s ^ t]))
    n_labels = 2 ** (n_r + n_a + n_b + n_s)
    joint = np.zeros((2**k1, 2**k2, n_labels))
    weight = 1.0 / len(configs)
    np.add.at(joint, (c1, c2, y), weight * (1.0 - label_noise))
    # A noisy label is uniform over all labels, whatever the latent configuration.
    np.add.at(joint, (c1, c2), weight * label_noise / n_labels)
    return joint


def _embed(bits: NDArray, dim: int, noise: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """A random two-layer tanh network of +-1 bits plus Gaussian noise; no bits gives pure noise."""
    n, k = bits.shape
    if k == 0:
        return noise * rng.standard_normal((n, dim))
    hidden = max(2 * k, 16)
    w1 = rng.standard_normal((k, hidden))
    c = rng.standard_normal(hidden) * 0.5
    w2 = rng.standard_normal((hidden, dim)) / np.sqrt(hidden)
    return np.tanh((2 * bits - 1) @ w1 + c) @ w2 + noise * rng.standard_normal((n, dim))
