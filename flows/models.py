"""Model quantification and selection: every model family trained on every dataset (one MLflow run per pair, with
its test accuracy, the PID of its predictions and the accuracy it keeps without each modality), the reference table
from the synthetic datasets, a recommendation and selection score per other dataset, and the interaction analyses.

    catalog ──► featurise ──► exact PID (codes)                       ──► MLflow child run
                         └──► train family f (× 9), model PID, ablation ──► MLflow child run
                all datasets ──► reference table (versioned) ──► recommendations, selection scores, analyses

Datasets must be ingested first. Run it on its own::

    pidengine run --flow models --help
"""

from __future__ import annotations

import sys

from prefect import flow

from flows._pipeline import PipelineSummary, run_pipeline
from flows._states import finish
from flows.params import ModelSweepParams


@flow(name="pidengine-models", log_prints=True)
def model_sweep(params: ModelSweepParams = ModelSweepParams()) -> PipelineSummary:
    """Featurise, exact dataset PID, train and measure every family, select, track in MLflow."""
    return finish(run_pipeline("models", params, stages=["featurize"]))


if __name__ == "__main__":
    sys.exit("python -m flows.models is now: pidengine run --flow models (see pidengine run --help)")
