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
