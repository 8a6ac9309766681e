from pathlib import Path

import numpy as np
import pytest

from pidengine import ConfigError, ExactEstimator
from pidengine.catalog import CatalogEntry, load_catalog
from pidengine.io.store import DatasetStore
from pidengine.stages import encode, featurize, ingest, joint_of_codes

CATALOG = """
datasets:
  xor:
    source: {kind: gate, gate: xor, n_samples: 600, seed: 1}
  latent:
    source: {kind: latent_concept, n_redundant: 1, n_unique1: 1, n_unique2: 0, n_synergy: 1, dim1: 64, dim2: 16,
             n_samples: 6000, seed: 3}
  gmm:
    source: {kind: gaussian_mixture, angle: 45, n_samples: 20000, seed: 4}
    featurize: {n_bins: 20}
  mine:
    source: {kind: npz, path: mine.npz}
    splits: {train: 0.5, val: 0.25, test: 0.25, seed: 1}
  texts:
    source: {kind: npz, path: texts.npz}
    encode: {x1: {kind: sentence_embedding}}
    featurize: {n_clusters: 2}
  digits:
    source: {kind: digits, halves: top_bottom}
    encode: {x1: {kind: random_conv, image_shape: [4, 8], n_filters: 4}}
    featurize: {n_clusters: 10}
"""


@pytest.fixture
def catalog(tmp_path, rng):
    np.savez(tmp_path / "mine.npz", x1=rng.normal(size=(40, 3)), x2=rng.normal(size=(40, 2)), y=np.arange(40) % 2)
    reviews = ["great, it worked", "awful side effects", "it helped a lot", "made me sick"] * 10
    np.savez(tmp_path / "texts.npz", x1=np.array(reviews), x2=rng.normal(size=(40, 2)), y=np.arange(40) % 2)
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    return load_catalog(tmp_path / "catalog.yaml")


def versions(store: DatasetStore, stage: str) -> list[str]:
    return sorted(p.name for p in Path(store.folder.path).glob(f"{stage}-*.zarr"))


def test_ingest_layout_and_attributes(catalog, tmp_path):
    entry = catalog.entries["latent"]
    report = ingest(entry, tmp_path / "data", catalog.base)
    assert report.written
    raw = DatasetStore(tmp_path / "data", "latent").open("raw")
    assert raw["x1"].dims == ("sample", "feature1") and raw["x1"].shape == (6000, 64)
    assert raw["x2"].shape == (6000, 16) and raw["y"].dims == ("sample",)
    assert set(np.unique(raw["split"].values)) == {"train", "val", "test"}
    assert raw.attrs["content_hash"].startswith(report.key) and len(raw.attrs["content_hash"]) == 64
    assert CatalogEntry.model_validate_json(raw.attrs["catalog_entry"]) == entry
    assert raw.attrs["true_pid_bits"]["synergy"] == pytest.approx(1.0, abs=1e-6)


def test_reingest_writes_nothing_and_a_change_replaces(catalog, tmp_path, rng):
    data = tmp_path / "data"
    store = DatasetStore(data, "mine")
    first = ingest(catalog.entries["mine"], data, catalog.base)
    before = {p: p.stat().st_mtime_ns for p in Path(store.folder.path).rglob("*")}
    second = ingest(catalog.entries["mine"], data, catalog.base)
    assert not second.written and second.key == first.key
    assert {p: p.stat().st_mtime_ns for p in Path(store.folder.path).rglob("*")} == before
    np.savez(tmp_path / "mine.npz", x1=rng.normal(size=(40, 3)), x2=rng.normal(size=(40, 2)), y=np.arange(40) % 2)
    third = ingest(catalog.entries["mine"], data, catalog.base)
    assert third.written and third.key != first.key
    assert store.current_key("raw") == third.key and versions(store, "raw") == sorted(
        [f"raw-{first.key}.zarr", f"raw-{third.key}.zarr"]
    )


def test_bad_source_is_named_and_stores_nothing(catalog, tmp_path):
    np.savez(tmp_path / "mine.npz", x1=np.full((40, 3), np.nan), x2=np.zeros((40, 2)), y=np.arange(40) % 2)
    with pytest.raises(ConfigError, match="dataset 'mine': x1 has 120 NaN"):
        ingest(catalog.entries["mine"], tmp_path / "data", catalog.base)
    assert not (tmp_path / "data" / "mine").exists()


def test_featurize_is_keyed_by_its_input_and_settings(catalog, tmp_path):
    data = tmp_path / "data"
    entry = catalog.entries["xor"]
    ingest(entry, data, catalog.base)
    first = featurize(entry, data)
    assert first.written and not featurize(entry, data).written
    changed = entry.model_copy(update={"featurize": entry.featurize.model_copy(update={"n_bins": 5})})
    assert featurize(changed, data).key != first.key
    codes = DatasetStore(data, "xor").open("codes")
    assert codes.attrs["x1_method"] == "categorical" and codes["x1_categories"].values.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("name, tolerance", [("latent", 0.02), ("gmm", 0.03)])
def test_exact_pid_of_the_codes_is_close_to_the_truth(catalog, tmp_path, name, tolerance):
    """Noise-free latent concepts: k-means recovers the latent codes (20 clusters over-partition 4 or 8 codes
    without merging any), so only the plug-in error of 6000 samples remains. Gaussian mixture: 20 quantile bins
    lose ≈0.01 bit against the 40-cell truth; the plug-in bias of 20×20×2 cells at 20,000 samples is ≈0.015 bit."""
    data = tmp_path / "data"
    entry = catalog.entries[name]
    ingest(entry, data, catalog.base)
    featurize(entry, data)
    codes = DatasetStore(data, name).open("codes")
    estimate = ExactEstimator().estimate(joint_of_codes(codes).pmf)
    for key, truth in codes.attrs["true_pid_bits"].items():
        assert getattr(estimate, key) == pytest.approx(truth, abs=tolerance), key


def test_encoder_layer_feeds_the_codes(catalog, tmp_path):
    data = tmp_path / "data"
    entry = catalog.entries["digits"]
    ingest(entry, data, catalog.base)
    assert encode(entry, data).written
    store = DatasetStore(data, "digits")
    encoded = store.open("encoded")
    assert list(encoded.data_vars) == ["x1"] and encoded["x1"].shape == (1797, 16)
    featurize(entry, data)
    codes = store.open("codes")
    assert codes["x1_mean"].shape == (16,) and codes["x2_mean"].shape == (32,)
    assert codes.attrs["x1_n_codes"] == 10
    # Codes from a featuriser fitted on the training split carry most of the label information.
    assert ExactEstimator().estimate(joint_of_codes(codes, split="test").pmf).total > 1.5


def test_embeddings_are_reused_when_only_the_splits_change(catalog, tmp_path):
    data = tmp_path / "data"
    entry = catalog.entries["digits"]
    ingest(entry, data, catalog.base)
    first = encode(entry, data)
    resplit = entry.model_copy(update={"splits": entry.splits.model_copy(update={"seed": 7})})
    assert ingest(resplit, data, catalog.base).written
    again = encode(resplit, data)
    assert not again.written and again.key == first.key and again.detail == "embeddings cached"


def test_text_modality_is_encoded_then_discretised(catalog, tmp_path):
    data = tmp_path / "data"
    entry = catalog.entries["texts"]
    ingest(entry, data, catalog.base)
    bare = entry.model_copy(update={"encode": {}})
    with pytest.raises(ConfigError, match="x1 is text; give it an encoder"):
        featurize(bare, data)
    encode(entry, data)
    featurize(entry, data)
    codes = DatasetStore(data, "texts").open("codes")
    # Positive and negative reviews fall into different clusters of their sentence embeddings.
    review_codes = codes["x1"].values.reshape(10, 4)
    assert (review_codes[:, 0] == review_codes[:, 2]).all() and (review_codes[:, 0] != review_codes[:, 1]).all()


def test_featurize_refuses_stale_embeddings(catalog, tmp_path):
    """Codes are never built from embeddings of other raw data or other encoder settings."""
    from pidengine.io.store import StoreError

    data = tmp_path / "data"
    entry = catalog.entries["digits"]
    ingest(entry, data, catalog.base)
    encode(entry, data)
    wider = entry.model_copy(
        update={"encode": {"x1": entry.encode["x1"].model_copy(update={"n_filters": 8})}}
    )
    with pytest.raises(StoreError, match="run the encode stage first"):
        featurize(wider, data)
    encode(wider, data)
    assert featurize(wider, data).written
