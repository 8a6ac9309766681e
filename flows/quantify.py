"""Dataset quantification: featurise each dataset, then its PID by every estimator (exact on the codes, BATCH on the
continuous features), on Dask; one MLflow run per (dataset, estimator). Datasets must be ingested first.

Run it on its own::

    pidengine run --flow quantify --help
"""

from __future__ import annotations

import sys

from prefect import flow

from flows._pipeline import PipelineSummary, run_pipeline
from flows._states import finish
from flows.params import QuantifyParams


@flow(name="pidengine-quantify", log_prints=True)
def quantify_datasets(params: QuantifyParams = QuantifyParams()) -> PipelineSummary:
    """Featurise, estimate (fan-out on Dask, cached by content), track in MLflow."""
    return finish(run_pipeline("quantify", params, stages=["featurize"]))


if __name__ == "__main__":
    sys.exit("python -m flows.quantify is now: pidengine run --flow quantify (see pidengine run --help)")
