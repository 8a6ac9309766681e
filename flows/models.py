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

from flows._plan import Plan, over_deployment, prepare
from flows._runtime import fan_out_on_dask, select_and_analyse
from flows._states import finish
from flows._summary import PipelineSummary
from flows._tracking import tracked_run
from flows.params import ModelSweepParams


@flow(name="pidengine-models", log_prints=True)
def model_sweep(params: ModelSweepParams = ModelSweepParams()) -> PipelineSummary:
    """Featurise, exact dataset PID, train and measure every family, select, track in MLflow."""
    params = over_deployment(params)  # a deployment's run: the fields given, over the deployment's parameters
    ready = prepare(params.data, params.tracking, params.compute)  # fail fast: catalog, tracking store, scheduler
    plan = Plan(["featurize"], params.estimators, params.settings, params.models, params.results_dir, params.use_cache)
    with tracked_run("models", ready, plan) as run:
        outcomes = fan_out_on_dask(ready, plan, run.log)  # per dataset, on Dask: featurise → exact PID, train
        selected, analysis = select_and_analyse(outcomes, ready, params.models)  # where families were trained
        summary = run.end(outcomes, selected, analysis)
    return finish(summary)


if __name__ == "__main__":
    sys.exit("python -m flows.models is now: pidengine run --flow models (see pidengine run --help)")
