"""Typed parameters of the flows (pydantic; Prefect validates a flow run's parameters against them)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from pidengine.catalog import CatalogEntry
from pidengine.exceptions import ConfigError
from pidengine.io.location import Location
from pidengine.models.settings import TrainSettings
from pidengine.quantify import DEFAULT_ESTIMATORS, EstimatorName, EstimatorSettings, ExactSettings

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_RESULTS_DIR = ".prefect-results"
EXPERIMENTS = {
    "refresh": "pidengine-catalog-refresh",
    "quantify": "pidengine-quantify",
    "benchmark": "pidengine-benchmark",
    "models": "pidengine-models",
}


def _known_storage(value: str) -> str:
    """A local folder or a URL whose scheme fsspec knows and whose backend is installed, checked before any work."""
    try:
        Location(value)
    except ConfigError as error:
        raise ValueError(str(error)) from None
    return value


Storage = Annotated[str, BeforeValidator(lambda value: os.fspath(value) if isinstance(value, os.PathLike) else value),
                    AfterValidator(_known_storage)]
"""Where stores or results live: a local folder, or a URL (``s3://bucket/pid``, ``memory://x``) that fsspec reaches
(credentials come from the environment, never the URL)."""


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComputeParams(_Params):
    """Where tasks run: a temporary local Dask cluster (``n_workers`` processes), or an existing scheduler.

    With ``dask_address`` (``tcp://HOST:8786``) the scheduler's workers must import ``pidengine``, ``tasks`` and
    ``flows``, see the data directory at the same path, and reach the Prefect API. A cluster that has no worker for
    ``no_workers_timeout`` seconds, at the start or later, fails the run.
    """

    dask_address: str | None = None
    n_workers: int = Field(2, ge=1, le=256)
    threads_per_worker: int = Field(1, ge=1, le=64)
    dashboard: bool = Field(False, description="serve the local cluster's Dask dashboard on 127.0.0.1:8787")
    no_workers_timeout: float = Field(120.0, ge=1, le=86400,
                                      description="seconds the cluster may be without any worker before the run fails")

    @field_validator("dask_address")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://\S+", value):
            raise ValueError(f"{value!r} is not a Dask scheduler address; give one like tcp://HOST:8786")
        return value


class TrackingParams(_Params):
    """The MLflow tracking store (``sqlite:///mlflow.db`` in the working directory by default, or any tracking URI)."""

    tracking_uri: str = DEFAULT_TRACKING_URI
    experiment: str | None = Field(None, description="default: one experiment per flow kind")
    run_name: str | None = Field(None, max_length=250,
                                 description="the parent run's name; default: the flow and its start, "
                                             "'benchmark 2026-11-30 04:12'")


class DataParams(_Params):
    """Which datasets: a catalog file, the store root and (optionally) a subset of names."""

    catalog: Path = Path("data_catalog.yaml")
    data_dir: Storage = "data"
    datasets: list[str] = Field(default_factory=list, description="names of catalog entries; empty: all valid entries")


class RefreshParams(_Params):
    """Parameters of the catalog-refresh flow."""

    data: DataParams = DataParams()
    compute: ComputeParams = ComputeParams()
    tracking: TrackingParams = TrackingParams()


class QuantifyParams(_Params):
    """Parameters of the dataset-quantification flow (and of the benchmark flow, which also ingests).

    ``estimators``: which estimators, in order. ``results_dir``: the signed result cache
    (:mod:`pidengine.io.results`): an estimate whose input store, settings and code are unchanged is read back
    instead of recomputed (``use_cache=False`` recomputes and overwrites).
    """

    data: DataParams = DataParams()
    estimators: list[EstimatorName] = Field(default_factory=lambda: list(DEFAULT_ESTIMATORS), min_length=1)
    settings: EstimatorSettings = EstimatorSettings()
    compute: ComputeParams = ComputeParams()
    tracking: TrackingParams = TrackingParams()
    results_dir: Storage = DEFAULT_RESULTS_DIR
    use_cache: bool = True

    @field_validator("estimators")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"estimators must not repeat a name, got {value}")
        return value


def _registered_families() -> list[str]:
    from pidengine.models.zoo import FAMILIES  # here: the zoo needs torch, reading the parameters does not

    return list(FAMILIES)


class ModelParams(_Params):
    """The model sweep: every family trained on every dataset, then selection.

    ``families``: the model families (default: all nine of the zoo; empty: no sweep). ``reference``: the reference
    datasets of selection (default: the synthetic entries of the catalog: gates, Gaussian mixtures, latent
    concepts); every other
    dataset gets a recommendation of ``top_k`` families and, as all families were trained on it, a selection score.
    ``reference_table``: select with this saved table instead (no reference datasets are trained as such). With
    neither, and no synthetic entry in the run, the table published last under ``<data_dir>/reference`` is used,
    else the one shipped with pidengine (:func:`pidengine.selection.find_reference`).
    ``train``: the training settings, sized for a 2-core CPU (see README). ``pid``: how each model's PID is
    estimated: the datasets' exact estimate (bias-corrected by the bootstrap, with intervals), with 30 resamples and
    10 label permutations, as the full settings (100 resamples, 50 permutations: 6 s of CPU for a 20 x 20 x 10 code
    table) would add minutes to a run of 100-300 models. The permutations are what keeps the significance flags
    honest on sparse code tables, where the bootstrap under-corrects the bias: with the interval alone a quarter of
    the parts whose truth is 0 were flagged, with 10 permutations 4 of 171 (docs/models.md).
    """

    families: list[str] = Field(default_factory=_registered_families)
    train: TrainSettings = TrainSettings()
    pid: ExactSettings = ExactSettings(n_bootstrap=30, n_permutations=10)
    reference: list[str] = Field(default_factory=list)
    reference_table: Path | None = Field(None, description="a saved reference table (file, or folder holding "
                                                           "reference.json) to select with, instead of building one")
    top_k: int = Field(3, ge=1, le=32)

    @field_validator("families")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        registered = _registered_families()
        unknown = [name for name in value if name not in registered]
        if unknown:
            raise ValueError(f"unknown model families {unknown}; registered: {sorted(registered)}")
        if len(set(value)) != len(value):
            raise ValueError(f"families must not repeat a name, got {value}")
        return value

    @model_validator(mode="after")
    def _one_reference(self) -> ModelParams:
        if self.reference and self.reference_table is not None:
            raise ValueError("name reference datasets (a table is built from them) or a reference table, not both")
        return self

    def reference_datasets(self, entries: Sequence[CatalogEntry]) -> list[str]:
        """The datasets to build the reference table from: those named, else the synthetic ones among ``entries``;
        none when a saved table is given."""
        if self.reference_table is not None:
            return []
        return list(self.reference) or sorted(entry.name for entry in entries if entry.is_synthetic)


class BenchmarkParams(QuantifyParams):
    """Parameters of the benchmark flow (``pidengine run``): quantification and the model sweep with selection."""

    models: ModelParams = Field(default_factory=ModelParams)

    @model_validator(mode="after")
    def _selection_needs_exact(self) -> BenchmarkParams:
        if self.models.families and "exact" not in self.estimators:
            raise ValueError("the model sweep needs the exact estimator (dataset and model PID): add 'exact' to the "
                             "estimators, or skip the sweep (families: [], --no-models)")
        return self


class ModelSweepParams(BenchmarkParams):
    """Parameters of the model flow: the model sweep; only the exact estimator by default (selection needs a PID)."""

    estimators: list[EstimatorName] = Field(default_factory=lambda: ["exact"], min_length=1)
