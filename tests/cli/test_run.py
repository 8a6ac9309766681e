"""``pidengine run``'s options are read from the flows' parameters: their defaults, bounds and choices."""

import pytest
from pydantic import ValidationError

from cli import run
from flows.params import BenchmarkParams, ModelSweepParams, QuantifyParams
from pidengine.bootstrap import bootstrap_pid
from pidengine.estimators.registry import REGISTRY
from pidengine.exceptions import ConfigError


def _parameters(*arguments: str):
    return run.parameters(run.build_parser().parse_args(list(arguments)))


def test_no_options_give_the_flows_own_defaults():
    assert _parameters() == BenchmarkParams()
    assert _parameters("--flow", "models") == ModelSweepParams()
    assert _parameters("--flow", "quantify") == QuantifyParams()


def test_options_set_their_fields():
    params = _parameters("--workers", "3", "--bootstrap", "7", "--batch-max-samples", "500", "--no-cache",
                         "--no-models", "--datasets", "a", "b", "--estimators", "exact", "--top-k", "2")
    assert params.compute.n_workers == 3
    assert params.settings.exact.n_bootstrap == 7
    assert params.settings.batch.max_train_samples == params.settings.batch.max_eval_samples == 500
    assert params.use_cache is False
    assert params.models.families == []
    assert params.data.datasets == ["a", "b"]
    assert params.estimators == ["exact"]
    assert params.models.top_k == 2


def test_help_shows_the_parameters_defaults_and_bounds():
    text = run.build_parser().format_help()
    workers = BenchmarkParams.model_fields["compute"].annotation.model_fields["n_workers"]
    assert f"default: {workers.default}; at least 1, at most 256" in " ".join(text.split())
    # the models flow has its own default estimators, and the help says so
    assert "default: exact batch; exact with --flow models" in " ".join(text.split())
    # an estimator's setting shows the estimator's own bound
    assert "BATCH: most classifier epochs (default: 30; at least 1)" in " ".join(text.split())


@pytest.mark.parametrize(("arguments", "message"), [
    (["--workers", "0"], "--workers: Input should be greater than or equal to 1"),
    (["--top-k", "99"], "--top-k: Input should be less than or equal to 32"),
    (["--batch-epochs", "0"], "--batch-epochs: max_epochs must be an integer >= 1, got 0"),
    (["--flow", "refresh", "--bootstrap", "5"], "--bootstrap does not apply to --flow refresh"),
    (["--flow", "quantify", "--no-models"], "--no-models does not apply to --flow quantify"),
    (["--families", "nope"], "--families: unknown model families ['nope']"),
    (["--estimators", "batch"], "the model sweep needs the exact estimator"),
])
def test_a_refused_value_is_named_by_its_option(arguments, message):
    with pytest.raises(ConfigError) as raised:
        _parameters(*arguments)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("estimator", "setting", "cap"), [
    ("batch", "hidden_dim", 4096), ("batch", "n_layers", 16), ("batch", "embed_dim", 1024), ("batch", "n_seeds", 100),
    ("crossfit", "n_folds", 20), ("crossfit", "n_bootstrap", 100_000), ("exact", "n_permutations", 100_000),
])
def test_the_run_parameters_refuse_a_setting_above_its_cap_as_the_estimator_does(estimator, setting, cap):
    # The cap is declared once, by the estimator (by bootstrap_pid for the exact estimate's permutations).
    with pytest.raises(ConfigError) as raised:
        if estimator == "exact":
            bootstrap_pid([0, 1], [0, 1], [0, 1], **{setting: cap + 1})
        else:
            REGISTRY[estimator].load()(**{setting: cap + 1})._validate_params()
    with pytest.raises(ValidationError) as refused:
        BenchmarkParams(settings={estimator: {setting: cap + 1}})
    (error,) = refused.value.errors()
    assert error["loc"] == ("settings", estimator, setting) and error["msg"] == f"Value error, {raised.value}"
    assert f"to {cap}" in str(raised.value)
    accepted = BenchmarkParams(settings={estimator: {setting: cap}}).settings.for_estimator(estimator)
    assert getattr(accepted, setting) == cap


def test_families_and_no_models_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as raised:
        run.build_parser().parse_args(["--families", "late", "--no-models"])
    assert raised.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
