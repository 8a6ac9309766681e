"""Every estimator by name: its class, what it reads, and where it runs.

The one registry of estimators. The command line's choices (``pid --estimator``, ``run --estimators``), the
pipeline's parameters, what each pipeline estimate reads from a dataset's stores and which sources its cached
results depend on are all read from :data:`REGISTRY`. Classes are named as ``"module:Class"`` and imported on first
use, so reading the registry loads no solver.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal

from pidengine.exceptions import ConfigError


@dataclass(frozen=True)
class EstimatorSpec:
    """An estimator: ``target`` its class as ``"module:Class"``; ``reads`` what it takes, a discrete joint (the
    codes of a dataset in the pipeline) or continuous features; ``pipeline`` whether ``pidengine run`` estimates
    every dataset with it (with the settings of :class:`pidengine.quantify.EstimatorSettings` of its name)."""

    name: str
    target: str
    reads: Literal["joint", "features"]
    pipeline: bool
    summary: str

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def load(self) -> type:
        """The estimator's class (imports its module)."""
        module, _, class_name = self.target.partition(":")
        return getattr(importlib.import_module(module), class_name)


REGISTRY: dict[str, EstimatorSpec] = {spec.name: spec for spec in (
    EstimatorSpec("exact", "pidengine.estimators.exact:ExactEstimator", "joint", pipeline=True,
                  summary="certified interior-point solver of the discrete program (on the codes in the pipeline)"),
    EstimatorSpec("cvxpy", "pidengine.estimators.cvx:CVXEstimator", "joint", pipeline=False,
                  summary="the same program through cvxpy: the reference"),
    EstimatorSpec("batch", "pidengine.estimators.batch:BatchEstimator", "features", pipeline=True,
                  summary="BATCH: classifiers and a learned coupling on continuous features"),
    EstimatorSpec("crossfit", "pidengine.estimators.crossfit:CrossFitEstimator", "features", pipeline=True,
                  summary="codes learned from the label with cross-fitting, bias-corrected, with significance"),
)}
AUTO = "exact"
"""What ``"auto"`` stands for: the fastest certified estimator of a discrete joint."""

DISCRETE = tuple(name for name, spec in REGISTRY.items() if spec.reads == "joint")
"""The estimators of a discrete joint (``pidengine pid --estimator``)."""
PIPELINE = tuple(name for name, spec in REGISTRY.items() if spec.pipeline)
"""The estimators ``pidengine run`` can run per dataset."""


def spec(name: str, among: tuple[str, ...] = tuple(REGISTRY)) -> EstimatorSpec:
    """The registered estimator ``name`` (``"auto"`` for :data:`AUTO`), which must be one of ``among``."""
    key = AUTO if name == "auto" and AUTO in among else name
    if key not in among:
        choices = ["auto", *among] if AUTO in among else list(among)
        raise ConfigError(f"unknown estimator {name!r}; choose one of {choices}")
    return REGISTRY[key]
