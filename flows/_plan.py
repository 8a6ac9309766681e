"""What a flow run is given, checked before any work (:func:`prepare`), and what it does for each dataset
(:class:`Plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from prefect import get_run_logger
from prefect.settings import PREFECT_API_URL

from flows import preflight
from flows.params import DEFAULT_RESULTS_DIR, ComputeParams, DataParams, ModelParams, TrackingParams
from pidengine.catalog import Catalog, CatalogEntry, load_catalog
from pidengine.io.location import Location
from pidengine.models.settings import TrainSettings
from pidengine.quantify import EstimatorSettings


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
