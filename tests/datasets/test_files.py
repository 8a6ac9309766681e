import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pidengine import ConfigError, InvalidJointError
from pidengine.datasets.files import load_npz, load_table, load_zarr
from pidengine.datasets.types import MultimodalData, stratified_split


@pytest.fixture
def arrays(rng):
    return rng.normal(size=(30, 3)), rng.normal(size=(30, 2)), np.array(["cat", "dog", "eel"] * 10)


def test_npz_roundtrip(tmp_path, arrays):
    np.savez(tmp_path / "d.npz", a=arrays[0], b=arrays[1], label=arrays[2])
    data = load_npz(tmp_path / "d.npz", "a", "b", "label")
    np.testing.assert_array_equal(data.x1, arrays[0])
    assert data.label_names == ("cat", "dog", "eel") and data.y[:3].tolist() == [0, 1, 2]
    with pytest.raises(ConfigError, match="no array 'x1'"):
        load_npz(tmp_path / "d.npz")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_columns_by_pattern(tmp_path, arrays, suffix):
    frame = pd.DataFrame(arrays[0], columns=["img_0", "img_1", "img_2"])
    frame[["txt_a", "txt_b"]] = arrays[1]
    frame["label"] = arrays[2]
    path = tmp_path / f"t{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    data = load_table(path, ["img_*"], ["txt_a", "txt_b"], "label")
    np.testing.assert_allclose(data.x1, arrays[0])
    np.testing.assert_allclose(data.x2, arrays[1])
    with pytest.raises(ConfigError, match="no column matches"):
        load_table(path, ["audio_*"], ["txt_a"], "label")
    with pytest.raises(ConfigError, match="no label column"):
        load_table(path, ["img_*"], ["txt_a"], "target")


def test_zarr_store(tmp_path, arrays):
    xr.Dataset(
        {"image": (("n", "f"), arrays[0]), "text": (("n", "g"), arrays[1]), "label": ("n", arrays[2].astype(object))}
    ).to_zarr(tmp_path / "s.zarr", zarr_format=3, consolidated=False)
    data = load_zarr(tmp_path / "s.zarr", "image", "text", "label")
    np.testing.assert_array_equal(data.x2, arrays[1])
    with pytest.raises(ConfigError, match="no variable"):
        load_zarr(tmp_path / "s.zarr")
    with pytest.raises(ConfigError, match="does not exist"):
        load_zarr(tmp_path / "missing.zarr")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda x1, x2, y: (np.where(x1 > 1, np.nan, x1), x2, y), "x1 has .* NaN"),
        (lambda x1, x2, y: (x1, x2[:-1], y), "lengths"),
        (lambda x1, x2, y: (x1, x2, np.zeros_like(y)), "single class"),
        (lambda x1, x2, y: (x1[:0], x2[:0], y[:0]), "no samples"),
        (lambda x1, x2, y: (x1.astype(str), x2, y), "numeric"),
        (lambda x1, x2, y: (x1, x2, np.stack([y, y], 1)), "1-D"),
    ],
)
def test_bad_arrays_are_named(arrays, change, match):
    x1, x2, _y = arrays
    with pytest.raises(InvalidJointError, match=match):
        MultimodalData.from_arrays(*change(x1, x2, np.arange(30) % 3))


def test_stratified_split_keeps_label_proportions():
    y = np.repeat([0, 1, 2], [100, 50, 10])
    split = stratified_split(y, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    for label, n in ((0, 100), (1, 50), (2, 10)):
        members = split[y == label]
        assert (members == "train").sum() == round(0.6 * n) and (members == "test").sum() == round(0.2 * n)
    np.testing.assert_array_equal(split, stratified_split(y, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0))
    with pytest.raises(InvalidJointError, match="'test' split is empty"):
        stratified_split(np.array([0, 0, 1, 1]), {"train": 0.8, "val": 0.0, "test": 0.2}, seed=0)


def test_catalog_sources_are_read_from_storage_urls(storage, arrays, tmp_path_factory):
    """Catalog entries whose files sit on object storage (an S3 server on 127.0.0.1, memory://) load as local ones."""
    from pidengine.catalog import load_catalog
    from pidengine.io.location import Location

    folder, tmp_path = Location(storage) / "sources", tmp_path_factory.mktemp("catalog")
    folder.make_dir()
    frame = pd.DataFrame({"a0": arrays[0][:, 0], "a1": arrays[0][:, 1], "b": arrays[1][:, 0], "label": arrays[2]})
    np.savez(tmp_path / "d.npz", a=arrays[0], b=arrays[1], label=arrays[2])
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_csv(tmp_path / "t.csv.gz", index=False)
    for name in ("d.npz", "t.parquet", "t.csv.gz"):
        (folder / name).fs.put_file(str(tmp_path / name), (folder / name).path)
    xr.Dataset({"image": (("n", "f"), arrays[0]), "text": (("n", "g"), arrays[1]), "label": ("n", arrays[2])}
               ).to_zarr((folder / "s.zarr").zarr_store(), zarr_format=3, consolidated=False)
    (tmp_path / "catalog.yaml").write_text(f"""
datasets:
  npz: {{source: {{kind: npz, path: {folder}/d.npz, x1: a, x2: b, y: label}}}}
  parquet: {{source: {{kind: table, path: {folder}/t.parquet, x1_columns: [a*], x2_columns: [b], y_column: label}}}}
  csv: {{source: {{kind: table, path: {folder}/t.csv.gz, x1_columns: [a*], x2_columns: [b], y_column: label}}}}
  zarr: {{source: {{kind: zarr, path: {folder}/s.zarr, x1: image, x2: text, y: label}}}}
  missing: {{source: {{kind: npz, path: {folder}/missing.npz}}}}
""")
    catalog = load_catalog(tmp_path / "catalog.yaml")
    with pytest.raises(ConfigError, match=r"missing\.npz does not exist"):
        catalog.entries["missing"].load(catalog.base)
    for name in ("npz", "zarr"):
        np.testing.assert_array_equal(catalog.entries[name].load(catalog.base).x1, arrays[0])
    for name in ("parquet", "csv"):
        np.testing.assert_allclose(catalog.entries[name].load(catalog.base).x1, arrays[0][:, :2])
