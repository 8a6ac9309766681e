"""What a flow run is given (a deployment's parameters under what the run was given: :func:`over_deployment`),
checked before any work (:func:`prepare`), and what it does for each dataset (:class:`Plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.settings import PREFECT_API_URL
from pydantic import BaseModel

from flows import preflight
from flows.params import DEFAULT_RESULTS_DIR, ComputeParams, DataParams, ModelParams, TrackingParams
from pidengine.catalog import Catalog, CatalogEntry, load_catalog
from pidengine.io.location import Location
from pidengine.models.settings import TrainSettings
from pidengine.quantify import EstimatorSettings

Params = TypeVar("Params", bound=BaseModel)


def over_deployment(params: Params) -> Params:
    """A flow's ``params`` as a run of a deployment is to read them: the fields the run was given laid over the
    deployment's own ``params``, nested fields one by one (a list is replaced whole).

    Prefect merges a run's parameters into its deployment's by name only, so ``prefect deployment run --params
    '{"params": {"data": {"datasets": ["gate-xor"]}}}'`` hands the flow a ``params`` object without the settings the
    deployment customised, which would fall back to their defaults. The fields given are those pydantic saw
    (``model_fields_set``, at every level). Outside a deployment's run, or where the deployment stores no ``params``,
    ``params`` as they are.
    """
    context = FlowRunContext.get()
    deployment_id = context.flow_run.deployment_id if context and context.flow_run else None
    if deployment_id is None:
        return params
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        stored = (client.read_deployment(deployment_id).parameters or {}).get("params")
    if not isinstance(stored, dict):
        return params
    return type(params).model_validate(_merged(stored, params.model_dump(mode="json", exclude_unset=True)))


def _merged(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``given`` laid over it, key by key in nested mappings."""
    merged = dict(base)
    for key, value in given.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merged(base[key], value) if nested else value
    return merged


@dataclass(frozen=True)
class Prepared:
    """A flow run's inputs once checked: the catalog entries to run (and the broken ones, each with its error),
    where the data and the tracking store are, and where tasks run."""

    entries: list[CatalogEntry]
    broken: dict[str, str]
    catalog: Catalog
    data: DataParams
    data_dir: str  # a local folder made absolute, or a URL: what every worker opens
    compute: ComputeParams
    tracking: TrackingParams
    tracking_uri: str  # resolved, its password masked: tasks.tracking.client restores it from the environment


def prepare(data: DataParams, tracking: TrackingParams, compute: ComputeParams) -> Prepared:
    """Everything that can fail before any work, checked first: the catalog and names, the tracking store, a Prefect
    API server for an existing Dask cluster, the Dask scheduler (waiting up to ``compute.no_workers_timeout`` seconds
    for its first worker)."""
    catalog = load_catalog(data.catalog)
    entries = catalog.select(data.datasets)
    broken = {} if data.datasets else dict(catalog.errors)
    # A password given in the parameters themselves goes to the environment too: everything the run passes on
    # (subflow parameters, which Prefect stores, log lines, MLflow params) holds the URI masked.
    full = preflight.check_tracking_uri(preflight.with_credentials(tracking.tracking_uri))
    tracking_uri = preflight.move_credentials_to_environment(full)
    preflight.check_cluster_api(compute.dask_address, PREFECT_API_URL.value())
    if compute.dask_address:
        preflight.check_dask_address(compute.dask_address, wait_for_workers=compute.no_workers_timeout,
                                     notify=lambda line: get_run_logger().warning(line))
    return Prepared(entries, broken, catalog, data, Location(data.data_dir).url, compute, tracking, tracking_uri)


@dataclass(frozen=True)
class Plan:
    """What a flow run does for each dataset: its data ``stages``, then one estimate per estimator and, with
    ``models``, one task training every family; estimates and models go through the result cache in
    ``results_dir``."""

    stages: Sequence[str]
    estimators: Sequence[str] = ()
    settings: EstimatorSettings = field(default_factory=EstimatorSettings)
    models: ModelParams | None = None
    results_dir: str = DEFAULT_RESULTS_DIR
    use_cache: bool = True

    @property
    def families(self) -> list[str]:
        return list(self.models.families) if self.models else []

    @property
    def train(self) -> TrainSettings | None:
        return self.models.train if self.models else None
