"""Prefect flows of the pidengine pipeline.

``flows.refresh.catalog_refresh``     ingest every catalog entry whose source changed
``flows.quantify.quantify_datasets``  featurise, then PID by every estimator, per dataset
``flows.benchmark.benchmark``         both, on one Dask cluster: the whole default pipeline (``pidengine run``)

Importing this package sets Prefect's startup settings (:mod:`flows._env`) before Prefect itself is imported.
"""

from flows import _env

_env.configure()
