"""The cache key of an estimate covers the code it comes from; the pipeline's settings are the estimators' own."""

import importlib.util
import inspect
import re
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError

from pidengine import quantify
from pidengine.bootstrap import bootstrap_pid
from pidengine.estimators.batch import BatchEstimator
from pidengine.estimators.constraints import Interval
from pidengine.estimators.crossfit import CrossFitEstimator
from pidengine.estimators.exact import ExactEstimator
from pidengine.estimators.registry import PIPELINE, REGISTRY
from pidengine.exceptions import ConfigError
from pidengine.models import sweep

# Every module of the BATCH subpackage: the result of `batch` can come from any of them.
BATCH_MODULES = sorted(p.stem for p in (Path(quantify.__file__).parent / "estimators" / "batch").glob("[!_]*.py"))


@pytest.mark.parametrize(("estimator", "expected"), [
    ("exact", {"pidengine.estimators.exact", "pidengine.bootstrap", "pidengine.estimators.exact_many",
               "pidengine.info.measures", "pidengine.joint", "pidengine.parts"}),
    ("batch", {"pidengine.estimators.batch", *(f"pidengine.estimators.batch.{module}" for module in BATCH_MODULES),
               "pidengine.estimators.sinkhorn", "pidengine.optim", "pidengine.parts"}),
    ("crossfit", {"pidengine.estimators.crossfit", "pidengine.estimators.posterior", "pidengine.optim",
                  "pidengine.estimators.intervals", "pidengine.info.measures", "pidengine.parts"}),
])
def test_the_closure_follows_imports_module_level_lazy_and_named(estimator, expected):
    closure = quantify.module_closure(quantify.CODE_ROOTS[estimator])
    assert expected <= closure
    assert all(name.startswith("pidengine") and importlib.util.find_spec(name) for name in closure)
    # the pipeline's stages and stores are not where an estimate comes from
    assert not closure & {"pidengine.stages", "pidengine.io.store", "pidengine.catalog"}


@pytest.mark.parametrize(("estimator", "other"), [("exact", "batch"), ("batch", "exact"), ("crossfit", "batch")])
def test_editing_one_estimator_keeps_the_others_cached(estimator, other):
    # pidengine.quantify imports every estimator, and a package's lazy exports name them all: neither is followed
    closure = quantify.module_closure(quantify.CODE_ROOTS[estimator])
    assert quantify.REGISTRY[other].module not in closure
    assert "pidengine.estimators.cvx" not in closure


def test_a_lazy_export_is_followed_to_the_module_that_defines_it():
    # bootstrap imports ExactManyEstimator directly and ExactEstimator through the package's lazy exports
    assert quantify._lazy_exports("pidengine.estimators")["ExactEstimator"] == "pidengine.estimators.exact"
    assert "pidengine.estimators.exact" in quantify._imported("pidengine.bootstrap")
    assert quantify._lazy_exports("pidengine.parts") == {}


def test_editing_any_module_of_the_closure_changes_the_key(monkeypatch):
    roots = quantify.CODE_ROOTS["exact"]
    key = quantify.source_fingerprint(roots)
    original = quantify._source
    for edited in sorted(quantify.module_closure(roots)):
        monkeypatch.setattr(quantify, "_source", lambda name, e=edited: original(name) + b"#" * (name == e))
        assert quantify.source_fingerprint(roots) != key, edited
    monkeypatch.setattr(quantify, "_source", original)
    assert quantify.source_fingerprint(roots) == key


def test_model_reports_are_keyed_by_the_training_code_too():
    closure = quantify.module_closure(sweep._CODE_ROOTS)
    assert {"pidengine.models.training", "pidengine.models.zoo", "pidengine.models.evaluate",
            "pidengine.estimators.exact", "pidengine.bootstrap"} <= closure


def test_a_module_is_read_from_its_file():
    assert quantify._source("pidengine.parts") == Path(quantify.__file__).with_name("parts.py").read_bytes()


SETTINGS = (quantify.ExactSettings, quantify.BatchSettings, quantify.CrossFitSettings)


def _parameter(info):
    return next((marker for marker in info.metadata if isinstance(marker, quantify._Parameter)), None)


@pytest.mark.parametrize("model", SETTINGS, ids=lambda model: model.__name__)
def test_settings_defaults_are_the_estimators_own_but_for_the_declared_overrides(model):
    overrides = quantify.PIPELINE_DEFAULTS.get(model.__name__, {})
    parameters = {name: _parameter(info) for name, info in model.model_fields.items() if _parameter(info)}
    assert set(overrides) <= set(parameters)
    for name, parameter in parameters.items():
        own = inspect.signature(parameter.source).parameters[parameter.name].default
        assert model.model_fields[name].default == overrides.get(name, own), name
    # only the pipeline's own settings are not an estimator's parameter, and every estimator's seed is `seed`
    assert set(model.model_fields) - set(parameters) <= {"split", "n_bootstrap", "max_train_samples",
                                                         "max_eval_samples"}
    assert parameters["seed"].name == "random_state"


def test_every_pipeline_estimator_has_settings_read_from_its_registered_class():
    assert set(quantify.EstimatorSettings.model_fields) == set(PIPELINE)
    for name in PIPELINE:
        model = quantify.EstimatorSettings.model_fields[name].annotation
        sources = {_parameter(info).source for info in model.model_fields.values() if _parameter(info)}
        assert REGISTRY[name].load() in sources, name


def test_a_setting_follows_its_estimators_constructor():
    class Estimator:
        parameter_constraints: ClassVar[dict[str, Interval]] = {"n_rounds": Interval(int, ge=3)}

        def __init__(self, *, n_rounds: int = 7, device: str | object = "cpu", random_state: int = 0) -> None:
            self.n_rounds, self.device, self.random_state = n_rounds, device, random_state

    settings = quantify._settings_model(
        "Settings", "", n_rounds=quantify._Parameter(Estimator, "n_rounds"),
        device=quantify._Parameter(Estimator, "device"), seed=quantify._Parameter(Estimator, "random_state"),
    )
    assert settings().model_dump() == {"n_rounds": 7, "device": "cpu", "seed": 0}
    assert settings.model_json_schema()["properties"]["n_rounds"]["minimum"] == 3
    assert settings.model_fields["device"].annotation is str  # the part of the parameter's type that JSON carries
    assert settings(seed=4).arguments(Estimator) == {"n_rounds": 7, "device": "cpu", "random_state": 4}
    with pytest.raises(ValidationError, match="n_rounds must be an integer >= 3, got 2"):
        settings(n_rounds=2)


def test_a_postponed_annotation_is_read_from_its_text_never_evaluated():
    # As `from __future__ import annotations` leaves them in the estimators' modules: `unloaded` is never imported.
    class Estimator:
        parameter_constraints: ClassVar[dict[str, Interval]] = {}

        def __init__(
            self, *, device: "str | unloaded.Device" = "cpu", limit: "int | float | None" = None,  # noqa: F821
            handle: "unloaded.Handle" = "h",  # noqa: F821
        ) -> None:
            self.device, self.limit, self.handle = device, limit, handle

    settings = quantify._settings_model("Settings", "", device=quantify._Parameter(Estimator, "device"),
                                        limit=quantify._Parameter(Estimator, "limit"))
    assert settings.model_fields["device"].annotation is str
    assert settings.model_fields["limit"].annotation == int | float | None
    with pytest.raises(TypeError, match=re.escape("handle: 'unloaded.Handle' has no member that JSON carries")):
        quantify._settings_model("Settings", "", handle=quantify._Parameter(Estimator, "handle"))


@pytest.mark.parametrize(("model", "estimator", "setting", "value"), [
    (quantify.BatchSettings, BatchEstimator, "max_epochs", 0),
    (quantify.BatchSettings, BatchEstimator, "n_layers", -1),
    (quantify.CrossFitSettings, CrossFitEstimator, "n_folds", 1),
    (quantify.CrossFitSettings, CrossFitEstimator, "confidence", 1.0),
    (quantify.ExactSettings, ExactEstimator, "tol", 0.5),
])
def test_a_bad_setting_is_refused_with_the_estimators_own_message(model, estimator, setting, value):
    with pytest.raises(ConfigError) as raised:
        estimator(**{setting: value})._validate_params()
    with pytest.raises(ValidationError) as refused:
        model(**{setting: value})
    (error,) = refused.value.errors()
    assert error["loc"] == (setting,) and error["msg"] == f"Value error, {raised.value}"


def test_the_bootstraps_bounds_are_the_exact_settings_bounds():
    with pytest.raises(ConfigError) as raised:
        bootstrap_pid([0, 1], [0, 1], [0, 1], n_permutations=-1)
    with pytest.raises(ValidationError, match=re.escape(str(raised.value))):
        quantify.ExactSettings(n_permutations=-1)


def test_the_estimators_get_the_settings_under_their_parameters_names():
    settings = quantify.EstimatorSettings()
    batch = settings.batch.arguments(BatchEstimator)
    assert batch["random_state"] == settings.batch.seed and batch["max_epochs"] == settings.batch.max_epochs
    assert not {"seed", "max_train_samples", "max_eval_samples"} & set(batch)
    assert settings.exact.arguments(ExactEstimator) == {"tol": settings.exact.tol}
    assert settings.exact.arguments(bootstrap_pid) == {"n_permutations": 50, "confidence": 0.95, "random_state": 0}
    assert set(settings.crossfit.arguments(CrossFitEstimator)) == {"n_folds", "n_bootstrap", "confidence",
                                                                  "bias_budget", "learning_fraction", "random_state"}
