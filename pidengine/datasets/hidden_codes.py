r"""Continuous two-modality data whose PID is known exactly and is as hard to estimate as real data.

The label sees each modality only through a hidden discrete code: :math:`Q_i = g_i(X_i)` for a fixed function
:math:`g_i`, the triple :math:`(Q_1, Q_2, Y)` follows a known law :math:`p(q_1, q_2, y)`, and given its code each
modality is drawn independently of everything else. Then

.. math::

    \mathrm{PID}(X_1, X_2; Y) = \mathrm{PID}(Q_1, Q_2; Y).

Why: BROJA's parts are functions of the information :math:`I(X_1, X_2; Y)` and of the unique information
:math:`U_1 = \min_{q \in \Delta_p} I_q(X_1; Y \mid X_2)`. The first is unchanged because :math:`(Q_1, Q_2)` is a
function of :math:`(X_1, X_2)` and :math:`Y \perp (X_1, X_2) \mid (Q_1, Q_2)`. The second depends only on the two
channels :math:`p(x_i \mid y)` up to Blackwell equivalence (Bertschinger et al. 2014, Lemma 6 and the garbling
property): :math:`Q_i = g_i(X_i)` is a garbling of :math:`X_i`, and :math:`X_i` is a garbling of :math:`Q_i`
because :math:`p(x_i \mid q_i, y) = p(x_i \mid q_i)` — draw :math:`X_i` from its code's conditional. Channels that
garble each other have the same unique information against any third variable, so :math:`U_1`, :math:`U_2` and
then :math:`R = I(X_1; Y) - U_1` are those of the codes. ``tests/datasets/test_hidden_codes.py`` checks this
numerically (the codes are recovered exactly from the features, and the PID of a large sample's codes converges
to the truth).

What makes the features hard, each a parameter:

``layout``
    How each bit of a code is read from its own two signal directions. ``clusters``: the side of a line between two
    centres at ±axis, samples concentrated near their centre (k-means-friendly once the nuisance is removed).
    ``cones``: inside or outside a wedge around an axis, under an isotropic Gaussian — no cluster structure at all.
    ``halfspaces``: the side of an offset line under an isotropic Gaussian (bits, hence codes, of unequal frequency).
``nuisance``
    Standard deviation of the label-free directions, relative to the signal's unit scale; above 1 the leading
    principal components are nuisance, as style or lighting are in real data. Signal and nuisance are mixed by a
    random rotation, so no feature is pure signal.
``law``
    ``latent``: codes made of latent components that are shared (redundancy), private to one modality
    (uniqueness) or XOR-split across them (synergy), mapped onto ``n_labels`` labels by a fixed random surjection.
    ``random``: a random log-linear law with main effects of each code and an interaction term.
``label_noise``, ``code_skew``, ``n_labels``, ``dim``
    A uniformly random label with probability ``label_noise``; unequal code frequencies; 2 to 16 labels; 16 to 512
    features.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from pidengine.datasets.synthetic import SyntheticDataset
from pidengine.estimators import ExactEstimator
from pidengine.exceptions import ConfigError
from pidengine.parts import ATOMS

Layout = Literal["clusters", "cones", "halfspaces"]
Law = Literal["latent", "random"]
LAYOUTS: tuple[str, ...] = ("clusters", "cones", "halfspaces")
LAWS: tuple[str, ...] = ("latent", "random")
_CLUSTER_SPREAD = 0.35  # within-cell standard deviation around a centre, relative to the centres' unit scale


def hidden_code_law(
    *,
    law: Law = "latent",
    n_labels: int = 8,
    n_codes: int = 8,
    label_noise: float = 0.0,
    code_skew: float = 0.0,
    random_state: int | None = None,
) -> NDArray[np.float64]:
    """The law :math:`p(q_1, q_2, y)` of :func:`hidden_codes`, an array of shape (n_codes, n_codes, n_labels).

    ``latent`` needs ``n_codes == 8``: each code is three latent bits, (shared, private, XOR half); the pre-label
    (shared, private1, private2, XOR) takes 16 values, mapped onto ``n_labels`` by a fixed random surjection.
    ``code_skew`` makes the latent bits (``latent``) or the code frequencies (``random``) unequal.
    """
    _check_int("n_labels", n_labels, 2, 16)
    _check_int("n_codes", n_codes, 2, 64)
    if not 0.0 <= label_noise <= 1.0:
        raise ConfigError(f"label_noise must lie in [0, 1], got {label_noise!r}")
    if not 0.0 <= code_skew <= 3.0:
        raise ConfigError(f"code_skew must lie in [0, 3], got {code_skew!r}")
    rng = np.random.default_rng(random_state)
    if law == "latent":
        if n_codes != 8:
            raise ConfigError(f"law 'latent' has 8 codes per modality (three latent bits), got n_codes={n_codes}")
        clean = _latent_law(n_labels, code_skew, rng)
    elif law == "random":
        clean = _random_law(n_labels, n_codes, code_skew, rng)
    else:
        raise ConfigError(f"unknown law {law!r}; choose one of {list(LAWS)}")
    return (1.0 - label_noise) * clean + label_noise * clean.sum(axis=2, keepdims=True) / n_labels


def hidden_codes(
    n_samples: int,
    *,
    layout: Layout = "cones",
    law: Law = "latent",
    n_labels: int = 8,
    n_codes: int = 8,
    dim: int = 48,
    nuisance: float = 3.0,
    label_noise: float = 0.0,
    code_skew: float = 0.0,
    random_state: int | None = None,
) -> SyntheticDataset:
    """Samples of continuous modalities with a hidden-code PID, and that PID exactly (see the module docstring).

    Parameters
    ----------
    n_samples : int
    layout : {"clusters", "cones", "halfspaces"}, default="cones"
    law : {"latent", "random"}, default="latent"
    n_labels : int, default=8
        From 2 to 16.
    n_codes : int, default=8
        Codes per modality, a power of two: each bit of the code is read from its own two signal directions
        (8 for ``law="latent"``); the other ``dim - 2 log2(n_codes)`` directions are nuisance.
    dim : int, default=48
        Features per modality, from 16 to 512.
    nuisance : float, default=3.0
        Standard deviation of the nuisance directions (the signal has unit scale).
    label_noise, code_skew : float, default=0.0
        See :func:`hidden_code_law`.
    random_state : int, optional
        Seeds the law, the geometry and the samples alike: one seed, one dataset.

    Returns
    -------
    SyntheticDataset
        ``x1``, ``x2`` of shape (n_samples, dim), ``y``, the exact ``true_pid``, the hidden codes as
        ``latent1``, ``latent2`` (``truth_is_exact`` is True: the codes are functions of the features) and the
        signal coordinates without the nuisance as ``signal1``, ``signal2``.
    """
    _check_int("n_samples", n_samples, 1, 10**8)
    _check_int("dim", dim, 16, 512)
    if not 0.0 < nuisance <= 100.0:
        raise ConfigError(f"nuisance must lie in (0, 100], got {nuisance!r}")
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; choose one of {list(LAYOUTS)}")
    if n_codes & (n_codes - 1) or 2 * np.log2(n_codes) > dim // 2:
        raise ConfigError(f"n_codes must be a power of two with 2 * log2(n_codes) <= dim / 2, got {n_codes}")
    rng = np.random.default_rng(random_state)
    pmf = hidden_code_law(
        law=law, n_labels=n_labels, n_codes=n_codes, label_noise=label_noise, code_skew=code_skew,
        random_state=int(rng.integers(2**31)),
    )
    result = ExactEstimator().estimate(pmf)
    true_pid = {part: float(getattr(result, part)) for part in (*ATOMS, "total")}
    flat = rng.choice(pmf.size, size=n_samples, p=pmf.ravel() / pmf.sum())
    q1, q2, y = (np.asarray(v, dtype=np.int64) for v in np.unravel_index(flat, pmf.shape))
    modalities = []
    for codes in (q1, q2):  # geometry, then samples, per modality: the order the seed's stream is drawn in
        geometry = CodeGeometry.random(layout, n_codes, dim, nuisance, rng)
        x = geometry.sample(codes, rng)
        modalities.append((x, geometry.signal(x)))
    (x1, signal1), (x2, signal2) = modalities
    return SyntheticDataset(x1, x2, y, true_pid, q1, q2, truth_is_exact=True, signal1=signal1, signal2=signal2)


class CodeGeometry:
    """One modality's map from features to code, :math:`g(x)`, and the sampler of :math:`x` given its code.

    The code's bits are read from separate two-dimensional signal blocks, one per bit, as factors of variation are
    in real data; ``rotation`` mixes the signal blocks with the nuisance directions.
    """

    def __init__(self, layout: str, axes: NDArray, thresholds: NDArray, rotation: NDArray, nuisance: float) -> None:
        self.layout = layout
        self.axes = axes  # (n_bits, 2) unit vectors: cluster centre (±axis), hyperplane normal or cone axis
        self.thresholds = thresholds  # (n_bits,): hyperplane offset, or cosine of the cone's half-angle
        self.rotation = rotation  # (dim, dim) orthogonal: features = rotation @ [signal blocks; nuisance]
        self.nuisance = nuisance

    @classmethod
    def random(cls, layout: str, n_codes: int, dim: int, nuisance: float, rng: np.random.Generator) -> CodeGeometry:
        n_bits = int(np.log2(n_codes))
        angles = rng.uniform(0, 2 * np.pi, n_bits)
        axes = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        if layout == "halfspaces":
            thresholds = rng.uniform(-0.6, 0.6, n_bits)
        elif layout == "cones":  # half-angles of 55-80 degrees: a wedge holding 30-45 % of the mass
            thresholds = np.cos(np.deg2rad(rng.uniform(55, 80, n_bits)))
        else:
            thresholds = np.zeros(n_bits)
        rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        return cls(layout, axes, thresholds, rotation, nuisance)

    @property
    def signal_dim(self) -> int:
        return 2 * len(self.axes)

    def signal(self, x: NDArray) -> NDArray[np.float64]:
        """The signal blocks of feature rows ``x`` (n, dim), without the nuisance: (n, ``signal_dim``)."""
        return (np.asarray(x) @ self.rotation)[:, : self.signal_dim]

    def code(self, x: NDArray) -> NDArray[np.int64]:
        """:math:`g(x)`: the code of feature rows ``x`` (n, dim)."""
        blocks = self.signal(x).reshape(len(x), -1, 2)
        return self._bits(blocks) @ (2 ** np.arange(len(self.axes) - 1, -1, -1))

    def sample(self, codes: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.float64]:
        """Features with ``code(x) == codes``, each drawn from its code's conditional law, independently."""
        n, n_bits = len(codes), len(self.axes)
        wanted = (codes[:, None] >> np.arange(n_bits - 1, -1, -1)) & 1
        blocks = np.empty((n, n_bits, 2))
        pending = np.ones((n, n_bits), dtype=bool)
        while pending.any():  # rejection, bit by bit: keep each block whose proposal has the wanted bit
            proposal = self._propose(wanted, rng)
            hit = pending & (self._bits(proposal) == wanted)
            blocks[hit] = proposal[hit]
            pending &= ~hit
        nuisance = self.nuisance * rng.standard_normal((n, len(self.rotation) - self.signal_dim))
        return np.hstack([blocks.reshape(n, -1), nuisance]) @ self.rotation.T

    def _propose(self, wanted: NDArray[np.int64], rng: np.random.Generator) -> NDArray[np.float64]:
        noise = rng.standard_normal((*wanted.shape, 2))
        if self.layout == "clusters":  # two centres per bit, at ±axis
            return (2 * wanted - 1)[:, :, None] * self.axes[None] + _CLUSTER_SPREAD * noise
        return noise

    def _bits(self, blocks: NDArray) -> NDArray[np.int64]:
        along = np.einsum("nbk,bk->nb", blocks, self.axes)
        if self.layout == "cones":
            along = along / np.maximum(np.linalg.norm(blocks, axis=2), 1e-300)
        return (along > self.thresholds).astype(np.int64)


def _latent_law(n_labels: int, code_skew: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Five latent bits r, a, b, s, t; Q1 = (r, a, s), Q2 = (r, b, t); pre-label (r, a, b, s xor t) → n_labels."""
    p_one = 0.5 + 0.45 * np.tanh(code_skew * rng.standard_normal(5))  # P(bit = 1) of r, a, b, s, t
    bits = (np.arange(32)[:, None] >> np.arange(4, -1, -1)) & 1
    weight = np.prod(np.where(bits == 1, p_one, 1 - p_one), axis=1)
    r, a, b, s, t = bits.T
    q1, q2 = 4 * r + 2 * a + s, 4 * r + 2 * b + t
    surjection = np.concatenate([np.arange(n_labels), rng.integers(0, n_labels, 16 - n_labels)])[rng.permutation(16)]
    y = surjection[8 * r + 4 * a + 2 * b + (s ^ t)] if n_labels < 16 else 8 * r + 4 * a + 2 * b + (s ^ t)
    pmf = np.zeros((8, 8, n_labels))
    np.add.at(pmf, (q1, q2, y), weight)
    return pmf


def _random_law(n_labels: int, n_codes: int, code_skew: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Codes from a correlated log-linear law; the label from main effects of each code plus an interaction."""
    shared = rng.standard_normal((n_codes, n_codes))
    pair = np.exp(0.8 * shared + code_skew * (rng.standard_normal((n_codes, 1)) + rng.standard_normal((1, n_codes))))
    logits = (
        2.0 * rng.standard_normal((n_codes, 1, n_labels))
        + 2.0 * rng.standard_normal((1, n_codes, n_labels))
        + 1.5 * rng.standard_normal((n_codes, n_codes, n_labels))
    )
    label = np.exp(logits - logits.max(axis=2, keepdims=True))
    pmf = (pair / pair.sum())[:, :, None] * label / label.sum(axis=2, keepdims=True)
    return pmf / pmf.sum()


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if not (isinstance(value, (int, np.integer)) and low <= value <= high):
        raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
