r"""Synthetic tabular two-modality data: one-hot categories beside numeric columns on unlike scales, a label carried
weakly and through a product of the two modalities' columns, and the PID exactly.

Each modality is a row of a table. Its label-relevant content is a hidden code :math:`Q_i = (C_i, B_i)`: a category
:math:`C_i` (``n_categories`` values of unequal frequency, written as a one-hot block) and the quantile bin
:math:`B_i` (of ``n_bins``) of a log-normal *driver* column, a price or a size. The label follows a known law of the
codes,

.. math::

    p(y \mid q_1, q_2) \propto \exp\big(
        m_1 (\alpha_1[c_1, y] + v(b_1)\, w_y) + m_2 (\alpha_2[c_2, y] + v(b_2)\, w_y) + g\, v(b_1)\, v(b_2)\, w_y \big),

where

- :math:`m_1, m_2` (``main1``, ``main2``) weigh each modality's own effects: a random effect :math:`\alpha_i`
  (standard normal, one per category and label) and the driver's ordinal effect;
- :math:`g` (``interaction``) weighs the cross-modal product of the two drivers, the multiplicative interaction
  between columns of the two modalities (a price per unit times a number of units);
- :math:`v(b) = \sqrt{3}\,((2b + 1)/n_\text{bins} - 1)` is the bin's centred score (unit variance) and
  :math:`w_y` runs from −1 to 1 over the ``n_labels`` labels (ordered labels, as grades are);
- with probability ``shared`` the second code copies the first, otherwise the two are independent (redundancy);
- with probability ``label_noise`` the label is uniformly random instead.

Given its code, each modality is drawn independently of everything else, so (the argument of
:mod:`pidengine.datasets.hidden_codes`) :math:`\mathrm{PID}(X_1, X_2; Y) = \mathrm{PID}(Q_1, Q_2; Y)`, computed
exactly from the law and in bits; the code is a function of the features (:func:`table_code`). The columns of a
modality, in order:

1. the category, one-hot (``n_categories`` columns; frequencies proportional to 1, 1/2, 1/3, ...);
2. a label-free category, one-hot (3 columns, frequencies 0.5, 0.3, 0.2);
3. the driver, ``scale · exp(z)`` with :math:`z` standard normal drawn within its bin's quantiles, 2 % of the bin
   away from its edges (1,000 for x1,
   as a price; 5 for x2, as a weight);
4. a size that grows with the driver, ``10 · exp(z / 3) · (1 + 0.05 ε)``;
5. a count that grows with the driver, Poisson with mean ``3 exp(0.3 z)``;
6. two label-free numeric columns on unlike scales: a percentage near 60 (sd 2) and a rate of order 0.01
   (exponential, mean 0.01).

What separates model families here is the form of the features (skewed drivers and one-hot blocks after
standardisation) and the product across modalities, which additive fusions represent only piece by piece.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from pidengine.datasets.synthetic import SyntheticDataset
from pidengine.estimators import ExactEstimator
from pidengine.exceptions import ConfigError
from pidengine.parts import ATOMS

DRIVER_SCALES = (1000.0, 5.0)  # x1's driver in the units of a price, x2's in those of a weight
NUISANCE_CATEGORIES = (0.5, 0.3, 0.2)
N_NUMERIC = 5  # driver, size, count and the two label-free columns


def mixed_table_law(
    *,
    main1: float = 1.0,
    main2: float = 1.0,
    interaction: float = 1.0,
    shared: float = 0.0,
    n_labels: int = 4,
    n_categories: int = 4,
    n_bins: int = 4,
    label_noise: float = 0.0,
    random_state: int | None = None,
) -> NDArray[np.float64]:
    """The law :math:`p(q_1, q_2, y)` of :func:`mixed_table`, shape (n_codes, n_codes, n_labels) with
    ``n_codes = n_categories * n_bins`` and code ``q = c * n_bins + b`` (see the module docstring)."""
    _check_int("n_labels", n_labels, 2, 16)
    _check_int("n_categories", n_categories, 2, 16)
    _check_int("n_bins", n_bins, 2, 16)
    for name, value in (("main1", main1), ("main2", main2), ("interaction", interaction)):
        if not 0.0 <= value <= 20.0:
            raise ConfigError(f"{name} must lie in [0, 20], got {value!r}")
    for name, value in (("shared", shared), ("label_noise", label_noise)):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} must lie in [0, 1], got {value!r}")
    rng = np.random.default_rng(random_state)
    effects = rng.standard_normal((2, n_categories, n_labels))  # alpha_1, alpha_2
    frequency = 1.0 / np.arange(1, n_categories + 1)
    p_code = np.outer(frequency / frequency.sum(), np.full(n_bins, 1.0 / n_bins)).ravel()  # (c, b) → c * n_bins + b
    pair = (1.0 - shared) * np.outer(p_code, p_code) + shared * np.diag(p_code)
    c, b = np.divmod(np.arange(n_categories * n_bins), n_bins)
    v = np.sqrt(3.0) * ((2 * b + 1) / n_bins - 1)
    w = np.linspace(-1.0, 1.0, n_labels)
    own1 = main1 * (effects[0][c] + v[:, None] * w)  # (n_codes, n_labels)
    own2 = main2 * (effects[1][c] + v[:, None] * w)
    logits = own1[:, None, :] + own2[None, :, :] + interaction * (v[:, None] * v[None, :])[:, :, None] * w
    label = np.exp(logits - logits.max(axis=2, keepdims=True))
    label /= label.sum(axis=2, keepdims=True)
    label = (1.0 - label_noise) * label + label_noise / n_labels
    return pair[:, :, None] * label


def mixed_table(
    n_samples: int,
    *,
    main1: float = 1.0,
    main2: float = 1.0,
    interaction: float = 1.0,
    shared: float = 0.0,
    n_labels: int = 4,
    n_categories: int = 4,
    n_bins: int = 4,
    label_noise: float = 0.0,
    random_state: int | None = None,
) -> SyntheticDataset:
    """Samples of tabular modalities with their exact PID (see the module docstring).

    Parameters
    ----------
    n_samples : int
    main1, main2 : float, default=1.0
        Weight of each modality's own effects (category and driver), from 0 to 20.
    interaction : float, default=1.0
        Weight of the product of the two drivers, from 0 to 20.
    shared : float, default=0.0
        Probability that x2's code copies x1's.
    n_labels : int, default=4
    n_categories, n_bins : int, default=4
        Values of each modality's category and bins of its driver, 2 to 16 each.
    label_noise : float, default=0.0
        Probability of a uniformly random label.
    random_state : int, optional
        Seeds the law and the samples alike: one seed, one dataset.

    Returns
    -------
    SyntheticDataset
        ``x1``, ``x2`` of shape (n_samples, n_categories + 3 + 5), integer ``y``, the exact ``true_pid`` in bits,
        and the codes ``latent1``, ``latent2`` (``truth_is_exact``: :func:`table_code` reads them off the features).
    """
    _check_int("n_samples", n_samples, 1, 10**8)
    rng = np.random.default_rng(random_state)
    pmf = mixed_table_law(
        main1=main1, main2=main2, interaction=interaction, shared=shared, n_labels=n_labels,
        n_categories=n_categories, n_bins=n_bins, label_noise=label_noise, random_state=int(rng.integers(2**31)),
    )
    result = ExactEstimator().estimate(pmf)
    true_pid = {part: float(getattr(result, part)) for part in (*ATOMS, "total")}
    flat = rng.choice(pmf.size, size=n_samples, p=pmf.ravel() / pmf.sum())
    q1, q2, y = (np.asarray(v, dtype=np.int64) for v in np.unravel_index(flat, pmf.shape))
    x1 = _table_rows(q1, n_categories, n_bins, DRIVER_SCALES[0], rng)
    x2 = _table_rows(q2, n_categories, n_bins, DRIVER_SCALES[1], rng)
    return SyntheticDataset(x1, x2, y, true_pid, q1, q2, truth_is_exact=True)


def table_code(x: NDArray, modality: int, *, n_categories: int = 4, n_bins: int = 4) -> NDArray[np.int64]:
    """The code :math:`q = c \\cdot n_\\text{bins} + b` of rows ``x`` of modality ``modality`` (1 or 2): the
    category from its one-hot block, the bin from the driver's quantile thresholds."""
    x = np.asarray(x, dtype=np.float64)
    category = x[:, :n_categories].argmax(axis=1)
    z = np.log(x[:, n_categories + len(NUISANCE_CATEGORIES)] / DRIVER_SCALES[modality - 1])
    thresholds = ndtri(np.arange(1, n_bins) / n_bins)
    return category * n_bins + np.searchsorted(thresholds, z)


def _table_rows(
    codes: NDArray[np.int64], n_categories: int, n_bins: int, scale: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """One modality's columns (module docstring) given each row's code, independently of everything else."""
    n = len(codes)
    category, b = np.divmod(codes, n_bins)
    z = ndtri((b + rng.uniform(0.02, 0.98, n)) / n_bins)  # inside the bin's quantiles, away from its edges
    nuisance = rng.choice(len(NUISANCE_CATEGORIES), size=n, p=NUISANCE_CATEGORIES)
    numeric = np.column_stack([
        scale * np.exp(z),
        10.0 * np.exp(z / 3) * (1 + 0.05 * rng.standard_normal(n)),
        rng.poisson(3.0 * np.exp(0.3 * z)),
        60.0 + 2.0 * rng.standard_normal(n),
        rng.exponential(0.01, n),
    ])
    return np.hstack([np.eye(n_categories)[category], np.eye(len(NUISANCE_CATEGORIES))[nuisance], numeric])


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if not (isinstance(value, (int, np.integer)) and low <= value <= high):
        raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
