"""Prefect flows of the pidengine pipeline.

``flows.refresh.catalog_refresh``     ingest every catalog entry whose source changed
``flows.quantify.quantify_datasets``  featurise, then PID by every estimator, per dataset
``flows.models.model_sweep``          featurise, exact PID, every model family per dataset, selection and analyses
``flows.benchmark.benchmark``         all of it, on one Dask cluster: the whole default pipeline (``pidengine run``)

Importing this package sets Prefect's startup settings (:mod:`flows._env`) before Prefect itself is imported.
"""

from flows import _env

_env.configure()
