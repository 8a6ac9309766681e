"""Prefect tasks of the pidengine pipeline: thin wrappers that move data between Zarr stores, the library and MLflow.

``tasks.data``       ingest / featurise one dataset (retried on transient I/O errors; the stages skip unchanged work)
``tasks.estimate``   PID of one dataset by one estimator (cached on the store's content key, settings and code)
``tasks.models``     every model family trained on one dataset (cached like the estimates)
``tasks.selection``  model selection over a run's datasets and the interaction analyses
``tasks.tracking``   MLflow runs: a parent per flow run, a child per (dataset, estimator), artifacts and summary
"""
