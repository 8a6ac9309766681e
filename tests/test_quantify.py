"""The cache key of an estimate covers the code it comes from."""

import importlib.util
from pathlib import Path

import pytest

from pidengine import quantify
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
    closure = quantify.module_closure(quantify._CODE_ROOTS[estimator])
    assert expected <= closure
    assert all(name.startswith("pidengine") and importlib.util.find_spec(name) for name in closure)
    # the pipeline's stages and stores are not where an estimate comes from
    assert not closure & {"pidengine.stages", "pidengine.io.store", "pidengine.catalog"}


def test_editing_any_module_of_the_closure_changes_the_key(monkeypatch):
    roots = quantify._CODE_ROOTS["exact"]
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
            "pidengine.estimators.exact"} <= closure


def test_a_module_is_read_from_its_file():
    assert quantify._source("pidengine.parts") == Path(quantify.__file__).with_name("parts.py").read_bytes()
