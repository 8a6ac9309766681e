import numpy as np
import pytest
import torch

from pidengine import ConfigError, InvalidJointError
from pidengine.datasets import latent_concept
from pidengine.models.evaluate import model_pid
from pidengine.models.settings import TrainSettings
from pidengine.models.training import Split, train
from pidengine.models.zoo import FAMILIES, ModelShape, build, register_family
from pidengine.parts import PARTS
from pidengine.quantify import ExactSettings, exact_estimate

FAST = TrainSettings(hidden=16, max_epochs=25, patience=4, batch_size=128, learning_rate=5e-3)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_maps_two_modalities_to_logits_and_learns(family):
    torch.manual_seed(0)
    model = build(family, ModelShape(5, 3, 4, hidden=16))
    x1, x2 = torch.randn(7, 5), torch.randn(7, 3)
    assert model(x1, x2).shape == (7, 4)
    aux = model.auxiliary_loss(x1, x2)
    assert aux.shape == () and aux.item() >= 0
    loss = torch.nn.functional.cross_entropy(model(x1, x2), torch.arange(7) % 4) + aux
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def splits(data, n):
    cut = (int(0.6 * n), int(0.8 * n))
    parts = (slice(0, cut[0]), slice(cut[0], cut[1]), slice(cut[1], n))
    return [Split.of(data.x1[p], data.x2[p], data.y[p], name) for p, name in zip(parts, ("train", "val", "test"))]


@pytest.fixture(scope="module")
def xor_data():
    return latent_concept(
        1500, n_redundant=0, n_unique1=0, n_unique2=0, n_synergy=1, dim1=6, dim2=6, noise=0.2, random_state=0
    )


def test_additive_fusion_cannot_learn_xor_but_interactions_can(xor_data):
    """Y = s XOR t with s seen by x1 and t by x2: logits g1(x1) + g2(x2) cannot separate it (chance, 0.5),
    fusion with multiplicative interactions can."""
    train_split, val, test = splits(xor_data, 1500)
    late = train("late_fusion", train_split, val, 2, FAST)
    product = train("elementwise", train_split, val, 2, FAST)
    assert late.accuracy(test.x1, test.x2, test.y) < 0.65
    assert product.accuracy(test.x1, test.x2, test.y) > 0.95
    # Model PID on the latent codes: the interaction model reproduces the data's synergy, the additive one does not.
    codes = slice(1200, 1500)
    synergy = {
        name: model_pid(xor_data.latent1[codes], xor_data.latent2[codes], m.predict(test.x1, test.x2))["synergy"]
        for name, m in (("late", late), ("product", product))
    }
    assert synergy["product"] > 0.8 and synergy["late"] < 0.3


def test_training_is_deterministic_for_a_seed(xor_data):
    train_split, val, test = splits(xor_data, 1500)
    a = train("early_fusion", train_split, val, 2, FAST)
    b = train("early_fusion", train_split, val, 2, FAST)
    np.testing.assert_array_equal(a.predict_proba(test.x1, test.x2), b.predict_proba(test.x1, test.x2))
    assert a.best_epoch == b.best_epoch


def test_register_family_and_bad_input(xor_data):
    class Constant(FAMILIES["late_fusion"]):
        def forward(self, x1, x2):
            return super().forward(x1, x2) * 0

    register_family("constant_for_test", Constant)
    try:
        with pytest.raises(ConfigError, match="already registered"):
            register_family("constant_for_test", Constant)
        train_split, val, _ = splits(xor_data, 1500)
        model = train("constant_for_test", train_split, val, 2, FAST)
        assert model.family == "constant_for_test"
    finally:
        FAMILIES.pop("constant_for_test")
    with pytest.raises(ConfigError, match="unknown model family 'nope'"):
        build("nope", ModelShape(2, 2, 2))
    with pytest.raises(InvalidJointError, match="single class"):
        one = Split.of(np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4), "train")
        train("early_fusion", one, one, 2, FAST)
    with pytest.raises(InvalidJointError, match="NaN"):
        Split.of(np.full((4, 2), np.nan), np.zeros((4, 2)), np.zeros(4), "val")


def test_model_pid_of_a_constant_model_is_zero():
    pid = model_pid([0, 1, 0, 1] * 5, [0, 0, 1, 1] * 5, [3] * 20)
    assert all(abs(pid[part]) < 1e-12 and not pid[f"{part}_significant"] for part in PARTS)


def test_model_pid_is_the_datasets_estimate_bias_corrected():
    # Y = X1 XOR X2 on 2 x 2 codes, predicted by a perfect model: the plug-in synergy of 200 rows is 1 bit less a
    # little; with labels independent of the codes the plug-in is biased upwards and the corrected estimate is not
    rng = np.random.default_rng(0)
    x1, x2 = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    settings = ExactSettings(n_bootstrap=50)
    noise = model_pid(x1, x2, rng.integers(0, 4, 300), settings)
    assert noise["plugin_total"] > 0.03  # 16 cells x 4 labels from 300 rows: the plug-in finds information
    assert abs(noise["total"]) < noise["plugin_total"] / 2 and not noise["total_significant"]
    xor = model_pid(x1 % 2, x2 % 2, (x1 + x2) % 2, settings)
    assert xor["synergy"] == pytest.approx(1.0, abs=0.02) and xor["synergy_significant"]
    assert xor == exact_estimate(x1 % 2, x2 % 2, (x1 + x2) % 2, settings)


def test_sweep_over_a_featurised_dataset(tmp_path):
    from pidengine.catalog import load_catalog
    from pidengine.models.sweep import cache_key, evaluate_families
    from pidengine.stages import featurize, ingest, model_inputs

    (tmp_path / "c.yaml").write_text(
        "datasets:\n  u1:\n    source: {kind: latent_concept, n_redundant: 0, n_unique1: 1, n_unique2: 0, "
        "n_synergy: 0, dim1: 4, dim2: 4, n_samples: 600}\n    featurize: {n_clusters: 4}\n"
    )
    entry = load_catalog(tmp_path / "c.yaml").entries["u1"]
    ingest(entry, tmp_path / "data", tmp_path)
    featurize(entry, tmp_path / "data")
    inputs = model_inputs(entry, tmp_path / "data")
    assert [len(inputs.splits[s].y) for s in ("train", "val", "test")] == [360, 120, 120]
    reports = evaluate_families(inputs, ["late_fusion", "early_fusion"], FAST)
    for report in reports:
        assert report.test_accuracy > 0.95
        # A model that reads Y off x1 puts its information in U1 (1 bit for a fair bit).
        assert report.pid["unique1"] == pytest.approx(1.0, abs=0.1)
        # Y is a function of x1's latent bit alone: removing x1 leaves chance, removing x2 costs nothing.
        assert report.accuracy_without["x1"] < 0.7 and report.accuracy_drop("x1") > 0.3
        assert report.accuracy_drop("x2") < 0.03
    # The cache key follows the stores and settings: re-featurising with other settings changes it.
    key = cache_key(tmp_path / "data", "u1", ["late_fusion"], FAST)
    assert key == cache_key(tmp_path / "data", "u1", ["late_fusion"], FAST)
    assert key != cache_key(tmp_path / "data", "u1", ["early_fusion"], FAST)
    assert key != cache_key(tmp_path / "data", "u1", ["late_fusion", "early_fusion"], FAST)
    assert key != cache_key(tmp_path / "data", "u1", ["late_fusion"], FAST.model_copy(update={"seed": 1}))
    featurize(load_catalog(tmp_path / "c.yaml").entries["u1"].model_copy(
        update={"featurize": entry.featurize.model_copy(update={"n_clusters": 3})}), tmp_path / "data")
    assert key != cache_key(tmp_path / "data", "u1", ["late_fusion"], FAST)
