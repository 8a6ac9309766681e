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
import inspect
import json
import operator
import time
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, field_validator

from pidengine import __version__
from pidengine.bootstrap import BOOTSTRAP_CONSTRAINTS, MAX_TABLES, bootstrap_pid, permutation_null
from pidengine.estimators.batch import MIN_FIT_SAMPLES, BatchEstimator
from pidengine.estimators.constraints import Interval
from pidengine.estimators.crossfit import CrossFitEstimator
from pidengine.estimators.exact import ExactEstimator
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
CODE_ROOTS = {name: ("pidengine.quantify", REGISTRY[name].module, *_CORRECTED_BY.get(name, ())) for name in PIPELINE}
"""Where each pipeline estimator's result starts: what :func:`code_fingerprint` hashes, with every module it imports."""
# pidengine.quantify's own source is hashed, but what it imports is not followed: it imports every estimator (their
# signatures are the settings) and reads the stores, while an estimate runs only its own estimator's code, which is
# the estimate's other root; so editing BATCH leaves the cached exact estimates valid.
_NOT_FOLLOWED = frozenset({"pidengine.quantify"})


# The pipeline's defaults where they differ from the estimators' own; every other default of an estimator's setting
# is read from its constructor (or from bootstrap_pid's signature). Why they differ:
# - exact: the seed is fixed, so that an estimate is reproducible and its cache key stands for it (bootstrap_pid
#   draws fresh randomness unless seeded); 50 label permutations give every dataset its null (`shuffled_<part>`, and
#   a part is significant only above it), which bootstrap_pid draws only when asked. n_bootstrap (100, against
#   bootstrap_pid's 1000 resamples) is declared with its field: it is the pipeline's own, as 0 there means none.
# - batch: BATCH's own defaults fit one careful estimate (minutes a dataset); the pipeline estimates every dataset of
#   the catalog on a 2-core CPU, so it takes a smoke-level estimate: smaller networks, fewer epochs, earlier stopping.
PIPELINE_DEFAULTS: dict[str, dict[str, Any]] = {
    "ExactSettings": {"n_permutations": 50, "seed": 0},
    "BatchSettings": {"hidden_dim": 64, "n_layers": 1, "embed_dim": 16, "batch_size": 128, "max_epochs": 30,
                      "align_max_epochs": 3, "patience": 5},
}
# The settings travel as JSON (flow parameters, MLflow params, the cache key): of a parameter that also takes an
# object (a torch device, a NumPy generator), a setting keeps the part JSON carries, by the names a signature gives.
_JSON_TYPES = {"bool": bool, "int": int, "float": float, "str": str, "None": type(None)}


@dataclass(frozen=True)
class _Parameter:
    """A setting that is parameter ``name`` of ``source`` (an estimator class, or a function such as
    :func:`~pidengine.bootstrap.bootstrap_pid`), bounded by ``constraints`` (default: the class's
    ``parameter_constraints``)."""

    source: Callable[..., Any]
    name: str
    constraints: Mapping[str, Interval] | None = None

    def field(self, default: Any = inspect.Parameter.empty) -> tuple[Any, Any]:
        """The pydantic field: the parameter's type and default (unless the pipeline's ``default`` is given), and its
        bounds, written into the JSON schema (the flows' parameters, ``pidengine run --help``) and checked with the
        source's own message."""
        parameter = inspect.signature(self.source).parameters[self.name]
        default = parameter.default if default is inspect.Parameter.empty else default
        members = [member for member in _json_members(parameter.annotation)
                   if member is not type(None) or default is None]
        if not members:
            raise TypeError(f"{self.source.__qualname__}'s parameter {self.name}: {parameter.annotation!r} has no "
                            f"member that JSON carries ({', '.join(_JSON_TYPES)})")
        json_type = functools.reduce(operator.or_, members)
        constraints = self.constraints if self.constraints is not None else self.source.parameter_constraints
        interval = constraints.get(self.name)
        if interval is None:
            return Annotated[json_type, self], Field(default)

        def check(value: Any) -> Any:
            interval.check(self.name, value)
            return value

        return (Annotated[json_type, self, AfterValidator(check)],
                Field(default, json_schema_extra=interval.json_schema()))


def _json_members(annotation: Any) -> list[type]:
    """The members of a parameter's type (a union, or one type) that JSON carries: ``str | torch.device`` gives
    ``[str]``. A postponed annotation (``from __future__ import annotations``, as in the estimators' modules) is read
    from its text and never evaluated, so the other members' modules (torch) are not imported."""
    if isinstance(annotation, str):
        names = _union_names(ast.parse(annotation, mode="eval").body)
        return [_JSON_TYPES[name] for name in names if name in _JSON_TYPES]
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
    return [member for member in (typing.get_args(annotation) if union else (annotation,))
            if member in _JSON_TYPES.values()]


def _union_names(node: ast.expr) -> list[str]:
    """The source text of each member of a union written ``a | b | ...`` (of the one type otherwise)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union_names(node.left) + _union_names(node.right)
    return [ast.unparse(node)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def arguments(self, target: Callable[..., Any]) -> dict[str, Any]:
        """The settings that are parameters of ``target`` (an estimator class or a function), by the parameter's
        name: ``seed`` is passed as ``random_state``."""
        accepted = inspect.signature(target).parameters
        return {marker.name: getattr(self, setting) for setting, info in type(self).model_fields.items()
                for marker in info.metadata if isinstance(marker, _Parameter) and marker.name in accepted}


def _settings_model(name: str, doc: str, validators: dict[str, Any] | None = None,
                    **fields: _Parameter | tuple[Any, Any]) -> type[_Settings]:
    """A settings model with ``fields`` in order: an estimator's parameter (with the pipeline's default from
    :data:`PIPELINE_DEFAULTS` where it has one), or a ``(type, Field)`` pair for a setting of the pipeline alone."""
    own = PIPELINE_DEFAULTS.get(name, {})
    return create_model(
        name, __base__=_Settings, __doc__=doc, __module__=__name__, __validators__=validators,
        **{setting: spec.field(own.get(setting, inspect.Parameter.empty)) if isinstance(spec, _Parameter) else spec
           for setting, spec in fields.items()},
    )


def _one_resample_is_no_bootstrap(cls: type, value: int) -> int:
    if value == 1:
        raise ValueError("n_bootstrap must be 0 (no bootstrap) or at least 2: one resample gives no interval")
    return value


ExactSettings = _settings_model(
    "ExactSettings",
    """Settings of the exact estimator in the pipeline.

    ``split``: the samples whose joint is decomposed (``all`` by default: the codes were fitted on the training split
    only, so every split is usable and more samples mean less plug-in bias). ``n_bootstrap``: resamples for the
    bias correction and the basic intervals (0: the plug-in estimate alone). ``n_permutations``: label permutations
    for the null (:func:`~pidengine.bootstrap.permutation_null`), reported as ``shuffled_<part>`` (their mean: what
    the plug-in reports where there is nothing to find) and required of a significant part (0: none). ``tol``:
    largest accepted duality gap, in bits. ``confidence``, ``n_permutations`` and ``seed`` are
    :func:`~pidengine.bootstrap.bootstrap_pid`'s (``seed`` is its ``random_state``), ``tol``
    :class:`~pidengine.estimators.exact.ExactEstimator`'s.
    """,
    validators={"_resamples": field_validator("n_bootstrap")(_one_resample_is_no_bootstrap)},
    split=(Literal["all", "train", "val", "test"], "all"),
    n_bootstrap=(int, Field(100, ge=0, le=MAX_TABLES)),  # bootstrap_pid's n_resamples, or 0: the plug-in alone
    n_permutations=_Parameter(bootstrap_pid, "n_permutations", BOOTSTRAP_CONSTRAINTS),
    confidence=_Parameter(bootstrap_pid, "confidence", BOOTSTRAP_CONSTRAINTS),
    tol=_Parameter(ExactEstimator, "tol"),
    seed=_Parameter(bootstrap_pid, "random_state", BOOTSTRAP_CONSTRAINTS),
)
BatchSettings = _settings_model(
    "BatchSettings",
    """Settings of the BATCH estimator in the pipeline; the defaults are small and fast (a smoke-level estimate).

    At most ``max_train_samples`` training and ``max_eval_samples`` test samples are used (a seeded subsample).
    The other fields are :class:`~pidengine.estimators.batch.BatchEstimator`'s parameters of the same names
    (``seed`` is its ``random_state``).
    """,
    **{name: _Parameter(BatchEstimator, name) for name in ("hidden_dim", "n_layers", "embed_dim", "batch_size",
                                                            "max_epochs", "align_max_epochs", "patience", "n_seeds")},
    max_train_samples=(int, Field(3000, ge=MIN_FIT_SAMPLES)),
    max_eval_samples=(int, Field(3000, ge=2)),  # a held-out batch couples at least two samples
    device=_Parameter(BatchEstimator, "device"),
    seed=_Parameter(BatchEstimator, "random_state"),
)
CrossFitSettings = _settings_model(
    "CrossFitSettings",
    """Settings of the cross-fitted estimator in the pipeline: the parameters of
    :class:`~pidengine.estimators.crossfit.CrossFitEstimator` of the same names (``seed`` is its ``random_state``),
    with its defaults. Every sample is used: cross-fitting keeps each sample's codes out of its own classifier.
    """,
    **{name: _Parameter(CrossFitEstimator, name) for name in ("n_folds", "n_bootstrap", "confidence", "bias_budget",
                                                                  "learning_fraction")},
    seed=_Parameter(CrossFitEstimator, "random_state"),
)


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
    return source_fingerprint(CODE_ROOTS[name])


def source_fingerprint(roots: tuple[str, ...]) -> str:
    """Hash of the package version and the source of every module in :func:`module_closure` of ``roots``: a change
    of code anywhere a result can come from changes the key."""
    digest = hashlib.sha256(__version__.encode())
    for module_name in sorted(module_closure(roots)):
        digest.update(module_name.encode() + b"\0" + _source(module_name) + b"\0")
    return digest.hexdigest()[:16]


def module_closure(roots: tuple[str, ...]) -> frozenset[str]:
    """``roots`` and every pidengine module they import, directly or through others: module-level and lazy
    imports, a package's lazy export resolved to the module that defines it.

    Modules named only in strings are not followed: the estimator registry names every estimator, and an estimate
    runs the one that is its root.
    """
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
        if module_name not in _NOT_FOLLOWED:
            pending += _imported(module_name)
    return frozenset(seen)


def _imported(module_name: str) -> list[str]:
    """The pidengine modules that ``module_name`` imports when it runs, at module level or inside functions (not
    those imported for type checking only)."""
    found = []
    for node in _runtime_nodes(ast.parse(_source(module_name))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import name`: name may be a submodule, or a lazy export of the package
            exports = _lazy_exports(node.module)
            found += [node.module, *(exports.get(alias.name, f"{node.module}.{alias.name}") for alias in node.names)]
    return [name for name in found if name.split(".")[0] == "pidengine" and _is_module(name)]


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``tree`` (as :func:`ast.walk`) outside ``if TYPE_CHECKING:`` blocks."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending += node.orelse
        else:
            pending += ast.iter_child_nodes(node)


@functools.cache
def _lazy_exports(package: str) -> dict[str, str]:
    """A package's lazy exports (``pidengine._lazy.lazy_exports``): each public name and the module defining it, read
    from the name -> module string literals of the package's source (empty for a module that is not a package)."""
    spec = importlib.util.find_spec(package) if package.split(".")[0] == "pidengine" and _is_module(package) else None
    if spec is None or not spec.submodule_search_locations:
        return {}
    exports = {}
    for node in ast.walk(ast.parse(_source(package))):
        if isinstance(node, ast.Dict):
            exports |= {key.value: value.value for key, value in zip(node.keys, node.values, strict=True)
                        if isinstance(key, ast.Constant) and isinstance(value, ast.Constant)
                        and isinstance(value.value, str) and value.value.startswith("pidengine")}
    return exports


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name below a module that is not a package (`from pidengine.x import function`)
        return False


def _source(module_name: str) -> bytes:
    spec = importlib.util.find_spec(module_name)
    return Path(spec.origin).read_bytes() if spec and spec.origin and Path(spec.origin).is_file() else b""


def input_stage(estimator: str) -> str:
    """The store a pipeline estimate by ``estimator`` reads, as its registry entry says: the codes for an estimator of
    a discrete joint, the raw features otherwise (with the encoder's output besides, for an entry that encodes)."""
    _check_name(estimator)
    return "codes" if REGISTRY[estimator].reads == "joint" else "raw"


def input_key(data_dir: str | Path, dataset: str, estimator: str, use_encoded: bool = False) -> str:
    """Content key(s) of the store version(s) that ``estimator`` reads ('' where a store is missing)."""
    from pidengine.io.store import DatasetStore

    store = DatasetStore(data_dir, dataset)
    stage = input_stage(estimator)
    key = f"{stage}-{store.current_key(stage) or ''}"
    return f"{key}+encoded-{store.current_key('encoded') or ''}" if use_encoded and stage == "raw" else key


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
    codes = store.open("codes")
    path = store.current("codes").url
    rows = slice(None) if settings.split == "all" else np.flatnonzero(codes["split"].values == settings.split)
    x1, x2, y = (codes[name].values[rows] for name in ("x1", "x2", "y"))
    return exact_estimate(x1, x2, y, settings), len(y), path


def exact_estimate(x1: ArrayLike, x2: ArrayLike, y: ArrayLike, settings: ExactSettings | None = None) -> dict[str, Any]:
    """The pipeline's exact estimate of discrete samples (the flat view, :func:`pidengine.parts.flatten_parts`):
    bias-corrected with basic bootstrap intervals and significance (:func:`~pidengine.bootstrap.bootstrap_pid`), or
    the plug-in alone with ``n_bootstrap=0``; ``settings.split`` is not read (the samples are given).

    A dataset's codes and a trained model's predictions on the test codes are measured by this one estimate, so
    that their PIDs compare."""
    settings = settings if settings is not None else ExactSettings()
    estimator = ExactEstimator(**settings.arguments(ExactEstimator))
    if settings.n_bootstrap:
        return bootstrap_pid(x1, x2, y, n_resamples=settings.n_bootstrap, estimator=estimator,
                             **settings.arguments(bootstrap_pid)).to_dict()
    values = estimator.estimate_samples(x1, x2, y).to_dict()
    if settings.n_permutations:
        null = permutation_null(x1, x2, y, estimator=estimator, **settings.arguments(permutation_null))
        values.update({flat_key(part, "shuffled"): float(mean) for part, mean in zip(PARTS, null.mean(axis=0))})
    return values


def _batch(
    store: DatasetStore, raw: Any, settings: BatchSettings, use_encoded: bool
) -> tuple[dict[str, Any], int, str]:
    source = store.open("encoded") if use_encoded else raw
    stage = "encoded" if use_encoded else "raw"
    split = raw["split"].values
    rng = np.random.default_rng(settings.seed)
    train = _subsample(np.flatnonzero(split == "train"), settings.max_train_samples, rng)
    test = _subsample(np.flatnonzero(split == "test"), settings.max_eval_samples, rng)
    x1, x2 = (source[name].values for name in ("x1", "x2"))
    y = raw["y"].values
    estimator = BatchEstimator(**settings.arguments(BatchEstimator))
    estimator.fit(x1[train], x2[train], y[train])
    result = estimator.estimate(x1[test], x2[test], y[test])
    return result.to_dict(), len(test), store.current(stage).url


def _crossfit(
    store: DatasetStore, raw: Any, settings: CrossFitSettings, use_encoded: bool
) -> tuple[dict[str, Any], int, str]:
    source = store.open("encoded") if use_encoded else raw
    x1, x2 = (source[name].values for name in ("x1", "x2"))
    if x1.ndim != 2 or x2.ndim != 2:
        raise ConfigError(f"dataset {raw.attrs.get('dataset')!r}: crossfit needs numeric features; encode its text")
    estimator = CrossFitEstimator(**settings.arguments(CrossFitEstimator))
    result = estimator.estimate(x1, x2, raw["y"].values)
    return result.to_dict(), result.n_samples, store.current("encoded" if use_encoded else "raw").url


def _subsample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= limit else np.sort(rng.choice(rows, limit, replace=False))


def _check_name(name: str) -> None:
    spec(name, PIPELINE)
