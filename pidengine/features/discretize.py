"""Discrete codes for one modality: the input of the exact estimator on continuous data.

Liang et al. discretise each modality by PCA to a few dimensions followed by k-means with about 20 clusters. The
featuriser is fitted on (a bounded subsample of) the training split and then applied to every sample; the codes of a
modality are the cluster (or bin) indices ``0 .. n_codes - 1``.

Methods
-------
``kmeans``
    Standardise, project on the first ``n_components`` principal axes, assign to the nearest of ``n_clusters``
    k-means centroids (scikit-learn's ``StandardScaler``, ``PCA`` and ``KMeans``).
``histogram``
    A one-feature modality cut into ``n_bins`` quantile bins of the training data (``KBinsDiscretizer``).
``categorical``
    A one-feature modality whose values are already categories (e.g. gate bits): each distinct training value is a
    code; an unseen value at apply time is an error.
``auto``
    ``categorical`` for one feature with at most ``n_bins`` distinct integer values, ``histogram`` for other
    one-feature modalities, ``kmeans`` otherwise.
"""

from __future__ import annotations

from typing import Literal

import dask.array as da
import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import KBinsDiscretizer, StandardScaler

from pidengine.exceptions import ConfigError, InvalidJointError

Method = Literal["auto", "kmeans", "histogram", "categorical"]


class ModalityFeaturizer:
    """Fit on training rows of one modality, then map any rows to integer codes.

    Parameters
    ----------
    method : {"auto", "kmeans", "histogram", "categorical"}, default="auto"
    n_clusters : int, default=20
        k-means clusters (``kmeans``).
    n_components : int, default=8
        PCA dimensions before k-means; capped at the number of features.
    n_bins : int, default=10
        Quantile bins (``histogram``), and the most distinct values ``auto`` treats as categories.
    random_state : int, default=0

    Attributes
    ----------
    method_ : str
        The method actually used (``auto`` resolved).
    n_codes_ : int
        Number of distinct codes the featuriser can emit.
    """

    def __init__(
        self,
        method: Method = "auto",
        *,
        n_clusters: int = 20,
        n_components: int = 8,
        n_bins: int = 10,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.n_bins = n_bins
        self.random_state = random_state

    def fit(self, x: NDArray[np.float64]) -> ModalityFeaturizer:
        """Fit on training rows ``x`` of shape (n, d)."""
        x = _check_rows(x)
        self.method_ = self._resolve(x)
        n, d = x.shape
        if self.method_ != "kmeans" and d != 1:
            raise ConfigError(f"method {self.method_!r} needs a one-feature modality, got {d} features; use 'kmeans'")
        if self.method_ == "categorical":
            self.categories_ = np.unique(x[:, 0])
            self.n_codes_ = len(self.categories_)
        elif self.method_ == "histogram":
            if np.unique(x[:, 0]).size < self.n_bins:
                raise ConfigError(
                    f"{np.unique(x[:, 0]).size} distinct training values cannot fill n_bins={self.n_bins} quantile "
                    "bins; lower n_bins or use method 'categorical'"
                )
            self.model_ = KBinsDiscretizer(
                n_bins=self.n_bins, encode="ordinal", strategy="quantile", quantile_method="averaged_inverted_cdf"
            )
            self.model_.fit(x)
            self.n_codes_ = int(self.model_.n_bins_[0])
        else:
            distinct = len(np.unique(x, axis=0))
            if distinct < self.n_clusters:
                raise ConfigError(
                    f"n_clusters={self.n_clusters} exceeds the {distinct} distinct training rows; lower n_clusters"
                )
            self.model_ = self._kmeans_pipeline(d, n)
            self.model_.fit(x)
            self.n_codes_ = self.n_clusters
        return self

    def transform(self, x: NDArray[np.float64]) -> NDArray[np.int64]:
        """Codes of rows ``x`` (n, d) as int64 in ``0 .. n_codes_ - 1``."""
        x = _check_rows(x)
        if self.method_ == "categorical":
            codes = np.searchsorted(self.categories_, x[:, 0])
            inside = codes < len(self.categories_)
            known = np.zeros(len(x), dtype=bool)
            known[inside] = self.categories_[codes[inside]] == x[inside, 0]
            if not known.all():
                raise InvalidJointError(
                    f"value {x[~known, 0][0]!r} was not seen in training; categories are {self.categories_[:10]}"
                )
            return codes.astype(np.int64)
        if self.method_ == "histogram":
            return self.model_.transform(x)[:, 0].astype(np.int64)
        return self.model_.predict(x).astype(np.int64)

    def parameters(self) -> dict[str, NDArray[np.float64]]:
        """The fitted parameters as named arrays (to store next to the codes)."""
        if self.method_ == "categorical":
            return {"categories": self.categories_}
        if self.method_ == "histogram":
            return {"bin_edges": self.model_.bin_edges_[0]}
        scaler, pca, kmeans = (self.model_.named_steps[k] for k in ("standardscaler", "pca", "kmeans"))
        return {
            "mean": scaler.mean_,
            "scale": scaler.scale_,
            "pca_components": pca.components_,
            "pca_explained_variance_ratio": pca.explained_variance_ratio_,
            "centroids": kmeans.cluster_centers_,
        }

    def _resolve(self, x: NDArray[np.float64]) -> str:
        if self.method != "auto":
            return self.method
        if x.shape[1] > 1:
            return "kmeans"
        values = np.unique(x[:, 0])
        integral = np.array_equal(values, np.round(values))
        return "categorical" if integral and len(values) <= self.n_bins else "histogram"

    def _kmeans_pipeline(self, n_features: int, n_rows: int) -> Pipeline:
        n_components = min(self.n_components, n_features, n_rows)
        return make_pipeline(
            StandardScaler(),
            PCA(n_components=n_components, random_state=self.random_state),
            KMeans(n_clusters=self.n_clusters, n_init=4, random_state=self.random_state),
        )


def discretize_out_of_core(
    rows: da.Array,
    train_rows: NDArray[np.intp],
    featurizer: ModalityFeaturizer,
    *,
    fit_max_samples: int = 100_000,
    seed: int = 0,
) -> da.Array:
    """Fit ``featurizer`` on training rows of a chunked modality and return the lazy codes of every row.

    Only a seeded subsample of at most ``fit_max_samples`` training rows is loaded to fit; the codes are computed
    chunk by chunk when the result is stored or computed, so memory stays bounded by ``fit_max_samples`` and the
    chunk size, not by the number of rows.

    Parameters
    ----------
    rows : dask array, shape (n_samples, n_features)
    train_rows : ndarray of int
        Indices of the training rows.
    featurizer : ModalityFeaturizer
        Unfitted; it is fitted in place.

    Returns
    -------
    dask array of int64, shape (n_samples,)
    """
    if len(train_rows) == 0:
        raise InvalidJointError("the training split is empty; nothing to fit the featuriser on")
    if len(train_rows) > fit_max_samples:
        train_rows = np.sort(np.random.default_rng(seed).choice(train_rows, fit_max_samples, replace=False))
    rows = rows.rechunk({1: -1})
    featurizer.fit(rows[train_rows].compute())
    return rows.map_blocks(featurizer.transform, drop_axis=1, dtype=np.int64)


def _check_rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise InvalidJointError(f"expected rows of shape (n_samples, n_features) with n_samples ≥ 1, got {x.shape}")
    if not np.isfinite(x).all():
        raise InvalidJointError("the modality has NaN or infinite values")
    return x
