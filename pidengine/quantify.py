"""Quantify one stored dataset with one estimator: the library half of the pipeline.

The pipeline (``flows/``) runs this for every (dataset, estimator) pair; a notebook can call it just the same::

    from pidengine.quantify import EstimatorSettings, quantify
    outcome = quantify("data", "gate-xor", "exact", EstimatorSettings())
    outcome.values["synergy"]        # bits

Estimators
----------
``exact``
    The certified discrete estimator (:class:`~pidengine.estimators.exact.ExactEstimator`) on the empirical joint of
    the featurised codes (``codes.zarr``), over the samples of ``ExactSettings.split``; with ``n_bootstrap > 0`` the
    rows are resampled for a bias-corrected estimate, basic intervals and ``<part>_significant``, and the plug-in
    stays as ``plugin_<part>`` (:func:`~pidengine.bootstrap.bootstrap_pid`).
``crossfit``
    The cross-fitted estimator (:mod:`pidengine.estimators.crossfit`) on the same continuous features as ``batch``,
    every sample: codes learned from the label, bias-corrected parts, basic bootstrap intervals, ``<part>_significant``
    and the uncorrected ``plugin_<part>``.
``batch``
    The BATCH estimator (:mod:`pidengine.estimators.batch`) on the continuous features (the encoder's output when the
    entry encodes a modality, else the raw features): fitted on the training split, estimated on the test split.

Every value is in bits. Nothing here imports an orchestrator or a tracking client.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.util
import json
import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pidengine import __version__
from pidengine.estimators.base import MAX_TOL
from pidengine.estimators.registry import PIPELINE, REGISTRY, spec
from pidengine.exceptions import ConfigError
from pidengine.parts import PARTS, flat_key

if TYPE_CHECKING:  # the store imports xarray and zarr: loaded by the functions that read one
    from pidengine.io.store import DatasetStore

EstimatorName = Literal[PIPELINE]  # type: ignore[valid-type]  # the pipeline's estimators, from the registry
# What `pidengine run` computes unless told: crossfit costs 10-200 s a dataset on two cores and would double `make run`.
DEFAULT_ESTIMATORS = ("exact", "batch")
# The modules an estimator's result comes from; the cache key hashes these and every pidengine module they import
# (see `code_fingerprint`), so they name only where each estimate starts: this module, the estimator's own, and
# the bootstrap that corrects the exact estimate.
_CORRECTED_BY = {"exact": ("pidengine.bootstrap",)}
_CODE_ROOTS = {name: ("pidengine.quantify", REGISTRY[name].module, *_CORRECTED_BY.get(name, ())) for name in PIPELINE}
# pidengine.quantify dispatches to every estimator and stage by lazy imports: its own source is hashed, but only
# the imports it makes at module level are followed (otherwise each estimator's key would cover all the others).
_NOT_FOLLOWED_LAZILY = frozenset({"pidengine.quantify"})


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExactSettings(_Settings):
    """Settings of the exact estimator in the pipeline.

    ``split``: the samples whose joint is decomposed (``all`` by default: the codes were fitted on the training split
    only, so every split is usable and more samples mean less plug-in bias). ``n_bootstrap``: resamples for the
    bias correction and the basic intervals (0: the plug-in estimate alone). ``n_permutations``: label permutations
    for the null (:func:`~pidengine.bootstrap.permutation_null`), reported as ``shuffled_<part>`` (their mean: what
    the plug-in reports where there is nothing to find) and required of a significant part (0: none). ``tol``:
    largest accepted duality gap, in bits.
    """

    split: Literal["all", "train", "val", "test"] = "all"
    n_bootstrap: int = Field(100, ge=0, le=100_000)
    n_permutations: int = Field(50, ge=0, le=100_000)
    confidence: float = Field(0.95, gt=0, lt=1)
    tol: float = Field(1e-7, gt=0, le=MAX_TOL)
    seed: int = 0

    @field_validator("n_bootstrap")
    @classmethod
    def _resamples(cls, value: int) -> int:
        if value == 1:
            raise ValueError("n_bootstrap must be 0 (no bootstrap) or at least 2: one resample gives no interval")
        return value


class BatchSettings(_Settings):
    """Settings of the BATCH estimator in the pipeline; the defaults are small and fast (a smoke-level estimate).

    At most ``max_train_samples`` training and ``max_eval_samples`` test samples are used (a seeded subsample).
    The other fields are :class:`~pidengine.estimators.batch.BatchEstimator`'s parameters of the same names.
    """

    hidden_dim: int = Field(64, ge=1, le=4096)
    n_layers: int = Field(1, ge=0, le=16)
    embed_dim: int = Field(16, ge=1, le=1024)
    batch_size: int = Field(128, ge=2)
    max_epochs: int = Field(30, ge=1)
    align_max_epochs: int = Field(3, ge=0)
    patience: int = Field(5, ge=1)
    n_seeds: int = Field(1, ge=1, le=100)
    max_train_samples: int = Field(3000, ge=20)
    max_eval_samples: int = Field(3000, ge=2)
    device: str = "auto"
    seed: int = 0


class CrossFitSettings(_Settings):
    """Settings of the cross-fitted estimator in the pipeline: the fields of
    :class:`~pidengine.estimators.crossfit.CrossFitEstimator` of the same names (``seed`` is its ``random_state``),
    with its defaults. Every sample is used: cross-fitting keeps each sample's codes out of its own classifier.
    """

    n_folds: int = Field(5, ge=2, le=20)
    n_bootstrap: int = Field(200, ge=20, le=100_000)
    confidence: float = Field(0.95, gt=0, lt=1)
    bias_budget: float = Field(0.02, gt=0, lt=1)
    learning_fraction: float | None = Field(0.5, ge=0.1, le=0.9)
    seed: int = 0


class EstimatorSettings(_Settings):
    """The settings of every estimator (each run uses its own part)."""

    exact: ExactSettings = ExactSettings()
    batch: BatchSettings = BatchSettings()
    crossfit: CrossFitSettings = CrossFitSettings()

    def for_estimator(self, name: str) -> _Settings:
        _check_name(name)
        return getattr(self, name)


@dataclass(frozen=True)
class Quantification:
    """The PID of one dataset by one estimator, with what it was computed from.

    Attributes
    ----------
    dataset, estimator : str
    values : dict
        The estimator's flat ``to_dict()`` (``redundancy``, ``unique1``, ``unique2``, ``synergy``, ``total`` in bits,
        certificate or diagnostics), plus ``<part>_low`` / ``<part>_high`` when intervals were computed.
    settings : dict
        The estimator's settings (JSON-ready).
    content_hash : str
        SHA-256 of the ingested data (``raw.zarr`` attribute ``content_hash``).
    input_key : str
        Content key(s) of the store version(s) read; the cache key of the pipeline is built from it.
    input_path : str
        The store version read (a Zarr folder).
    true_pid : dict or None
        The known PID of a synthetic source, in bits.
    seconds : float
        Wall time of the estimate (loading included).
    n_samples : int
    """

    dataset: str
    estimator: str
    values: dict[str, Any]
    settings: dict[str, Any]
    content_hash: str
    input_key: str
    input_path: str
    true_pid: dict[str, float] | None = None
    seconds: float = 0.0
    n_samples: int = 0
    warnings: tuple[str, ...] = field(default=())

    def parts(self) -> dict[str, float]:
        return {part: float(self.values[part]) for part in PARTS}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Quantification:
        """The inverse of :meth:`to_dict` (also after a JSON round trip)."""
        return cls(**{**document, "warnings": tuple(document.get("warnings", ()))})


def code_fingerprint(name: str) -> str:
    """Hash of the package version and the sources behind estimator ``name``."""
    _check_name(name)
    return source_fingerprint(_CODE_ROOTS[name])


def source_fingerprint(roots: tuple[str, ...]) -> str:
    """Hash of the package version and the source of every module in :func:`module_closure` of ``roots``: a change
    of code anywhere a result can come from changes the key."""
    digest = hashlib.sha256(__version__.encode())
    for module_name in sorted(module_closure(roots)):
        digest.update(module_name.encode() + b"\0" + _source(module_name) + b"\0")
    return digest.hexdigest()[:16]


def module_closure(roots: tuple[str, ...]) -> frozenset[str]:
    """``roots`` and every pidengine module they import, directly or through others: module-level and lazy
    imports, and modules named in strings (the lazy exports of packages, the estimator registry)."""
    return _closure(tuple(sorted(roots)))


@functools.cache
def _closure(roots: tuple[str, ...]) -> frozenset[str]:
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        module_name = pending.pop()
        if module_name in seen or importlib.util.find_spec(module_name) is None:
            continue
        seen.add(module_name)
        pending += _imported(module_name, lazily=module_name not in _NOT_FOLLOWED_LAZILY)
    return frozenset(seen)


def _imported(module_name: str, lazily: bool) -> list[str]:
    """The pidengine modules that ``module_name`` imports or names (only those at module level unless ``lazily``)."""
    tree = ast.parse(_source(module_name))
    nodes = ast.walk(tree) if lazily else iter(tree.body)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import name`: name may be a submodule
            found += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif lazily and isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += _MODULE_NAME.findall(node.value)
    return [name for name in found if name.split(".")[0] == "pidengine" and _is_module(name)]


_MODULE_NAME = re.compile(r"^(pidengine(?:\.\w+)+)(?::\w+)?$")


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name below a module that is not a package (`from pidengine.x import function`)
        return False


def _source(module_name: str) -> bytes:
    spec = importlib.util.find_spec(module_name)
    return Path(spec.origin).read_bytes() if spec and spec.origin and Path(spec.origin).is_file() else b""


def input_key(data_dir: str | Path, dataset: str, estimator: str, use_encoded: bool = False) -> str:
    """Content key(s) of the store version(s) that ``estimator`` reads ('' where a store is missing)."""
    from pidengine.io.store import DatasetStore

    _check_name(estimator)
    store = DatasetStore(data_dir, dataset)
    if REGISTRY[estimator].reads == "joint":
        return f"codes-{store.current_key('codes') or ''}"
    key = f"raw-{store.current_key('raw') or ''}"
    return f"{key}+encoded-{store.current_key('encoded') or ''}" if use_encoded else key


def cache_key(
    data_dir: str | Path, dataset: str, estimator: str, settings: EstimatorSettings, use_encoded: bool = False
) -> str:
    """A key that changes when the stored input, the estimator's settings or its code change."""
    material = json.dumps(
        [dataset, estimator, input_key(data_dir, dataset, estimator, use_encoded),
         settings.for_estimator(estimator).model_dump(mode="json"), code_fingerprint(estimator)]
    )
    return f"pid-{dataset}-{estimator}-{hashlib.sha256(material.encode()).hexdigest()[:24]}"


def quantify(
    data_dir: str | Path,
    dataset: str,
    estimator: str,
    settings: EstimatorSettings | None = None,
    *,
    use_encoded: bool = False,
) -> Quantification:
    """PID (bits) of a stored dataset by one estimator.

    Parameters
    ----------
    data_dir : path
        Root of the dataset stores.
    dataset : str
        The dataset's name (its catalog entry).
    estimator : {"exact", "batch", "crossfit"}
    settings : EstimatorSettings, optional
        Defaults to ``EstimatorSettings()``.
    use_encoded : bool, default=False
        For ``batch``: read the encoder's output (``encoded.zarr``) instead of the raw features.

    Returns
    -------
    Quantification

    Raises
    ------
    ConfigError
        For an unknown estimator.
    StoreError
        If a store the estimator reads has not been published (run ``ingest`` / ``featurize`` first).
    EstimationError, InvalidJointError
        From the estimator (an uncertified exact estimate, unusable samples).
    """
    from pidengine.io.store import DatasetStore

    settings = settings if settings is not None else EstimatorSettings()
    _check_name(estimator)
    start = time.perf_counter()
    store = DatasetStore(data_dir, dataset)
    raw = store.open("raw")
    own = settings.for_estimator(estimator)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if estimator == "exact":
            values, n_samples, path = _exact(store, own)
        elif estimator == "batch":
            values, n_samples, path = _batch(store, raw, own, use_encoded)
        else:
            values, n_samples, path = _crossfit(store, raw, own, use_encoded)
    messages = tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    true_pid = raw.attrs.get("true_pid_bits")
    return Quantification(
        dataset=dataset,
        estimator=estimator,
        values=values,
        settings=own.model_dump(mode="json"),
        content_hash=str(raw.attrs.get("content_hash", "")),
        input_key=input_key(data_dir, dataset, estimator, use_encoded),
        input_path=path,
        true_pid={k: float(v) for k, v in true_pid.items()} if true_pid else None,
        seconds=time.perf_counter() - start,
        n_samples=n_samples,
        warnings=messages,
    )


def _exact(store: DatasetStore, settings: ExactSettings) -> tuple[dict[str, Any], int, str]:
    from pidengine.bootstrap import bootstrap_pid, permutation_null
    from pidengine.estimators import ExactEstimator

    codes = store.open("codes")
    path = str(store.link("codes").resolve())
    rows = slice(None) if settings.split == "all" else np.flatnonzero(codes["split"].values == settings.split)
    x1, x2, y = (codes[name].values[rows] for name in ("x1", "x2", "y"))
    estimator = ExactEstimator(tol=settings.tol)
    if settings.n_bootstrap:
        values = bootstrap_pid(
            x1, x2, y, n_resamples=settings.n_bootstrap, n_permutations=settings.n_permutations,
            confidence=settings.confidence, estimator=estimator, random_state=settings.seed,
        ).to_dict()
        return values, len(y), path
    values = estimator.estimate_samples(x1, x2, y).to_dict()
    if settings.n_permutations:
        null = permutation_null(x1, x2, y, n_permutations=settings.n_permutations, estimator=estimator,
                                random_state=settings.seed)
        values.update({flat_key(part, "shuffled"): float(mean) for part, mean in zip(PARTS, null.mean(axis=0))})
    return values, len(y), path


def _batch(
    store: DatasetStore, raw: Any, settings: BatchSettings, use_encoded: bool
) -> tuple[dict[str, Any], int, str]:
    from pidengine.estimators.batch import BatchEstimator

    source = store.open("encoded") if use_encoded else raw
    stage = "encoded" if use_encoded else "raw"
    split = raw["split"].values
    rng = np.random.default_rng(settings.seed)
    train = _subsample(np.flatnonzero(split == "train"), settings.max_train_samples, rng)
    test = _subsample(np.flatnonzero(split == "test"), settings.max_eval_samples, rng)
    x1, x2 = (source[name].values for name in ("x1", "x2"))
    y = raw["y"].values
    estimator = BatchEstimator(
        **settings.model_dump(exclude={"max_train_samples", "max_eval_samples", "seed"}), random_state=settings.seed
    )
    estimator.fit(x1[train], x2[train], y[train])
    result = estimator.estimate(x1[test], x2[test], y[test])
    return result.to_dict(), len(test), str(store.link(stage).resolve())


def _crossfit(
    store: DatasetStore, raw: Any, settings: CrossFitSettings, use_encoded: bool
) -> tuple[dict[str, Any], int, str]:
    from pidengine.estimators.crossfit import CrossFitEstimator

    source = store.open("encoded") if use_encoded else raw
    x1, x2 = (source[name].values for name in ("x1", "x2"))
    if x1.ndim != 2 or x2.ndim != 2:
        raise ConfigError(f"dataset {raw.attrs.get('dataset')!r}: crossfit needs numeric features; encode its text")
    estimator = CrossFitEstimator(**settings.model_dump(exclude={"seed"}), random_state=settings.seed)
    result = estimator.estimate(x1, x2, raw["y"].values)
    return result.to_dict(), result.n_samples, str(store.link("encoded" if use_encoded else "raw").resolve())


def _subsample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= limit else np.sort(rng.choice(rows, limit, replace=False))


def _check_name(name: str) -> None:
    spec(name, PIPELINE)
