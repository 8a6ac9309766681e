"""Loaders for datasets a user points at: NumPy ``.npz`` archives, CSV / Parquet tables, existing Zarr stores; each a
local path or a storage URL (:class:`~pidengine.io.location.Location`)."""

from __future__ import annotations

import fnmatch
import warnings
from pathlib import Path

import pandas as pd
import xarray as xr

from pidengine.datasets.types import MultimodalData
from pidengine.exceptions import ConfigError
from pidengine.io.location import Location
from pidengine.io.numpy_files import load_arrays


def load_npz(path: str | Path | Location, x1: str = "x1", x2: str = "x2", y: str = "y") -> MultimodalData:
    """Three arrays of a ``.npz`` archive, by key."""
    arrays = load_arrays(_existing(path), (x1, x2, y))
    return MultimodalData.from_arrays(arrays[x1], arrays[x2], arrays[y])


def load_table(
    path: str | Path | Location, x1_columns: list[str], x2_columns: list[str], y_column: str
) -> MultimodalData:
    """Columns of a CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``) table.

    ``x1_columns`` and ``x2_columns`` are column names or shell-style patterns (``"pixel_*"``), matched in the
    table's column order.
    """
    path = _existing(path)
    name = path.name.lower()
    if name.endswith(".parquet"):
        reader = pd.read_parquet
    elif name.endswith((".csv", ".csv.gz")):
        reader = pd.read_csv
    else:
        raise ConfigError(f"{path}: unknown table format; use a .csv, .csv.gz or .parquet file")
    with path.fs.open(path.path, "rb", compression="infer") as handle:
        table = reader(handle)
    columns = [str(c) for c in table.columns]
    if y_column not in columns:
        raise ConfigError(f"{path} has no label column {y_column!r}; columns are {columns[:20]}")
    selected = {key: _match(path, columns, patterns, key) for key, patterns in (("x1", x1_columns), ("x2", x2_columns))}
    return MultimodalData.from_arrays(
        table[selected["x1"]].to_numpy(), table[selected["x2"]].to_numpy(), table[y_column].to_numpy()
    )


def load_zarr(path: str | Path | Location, x1: str = "x1", x2: str = "x2", y: str = "y") -> MultimodalData:
    """Three variables of an existing Zarr store (any layout xarray reads), by name; the first dimension is samples."""
    path = _existing(path)
    try:
        with warnings.catch_warnings():
            # Stores without consolidated metadata (all Zarr v3 stores written by pidengine) are read just as well.
            warnings.filterwarnings("ignore", "Failed to open Zarr store with consolidated metadata", RuntimeWarning)
            store = xr.open_zarr(path.zarr_store(), consolidated=None)
    except Exception as exc:  # zarr raises several unrelated types for a folder that is not a store
        raise ConfigError(f"{path} is not a readable Zarr store: {exc}") from exc
    missing = [key for key in (x1, x2, y) if key not in store.variables]
    if missing:
        raise ConfigError(f"{path} has no variable {missing[0]!r}; it holds {sorted(map(str, store.variables))}")
    return MultimodalData.from_arrays(store[x1].values, store[x2].values, store[y].values)


def _existing(path: str | Path | Location) -> Location:
    path = Location(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist")
    return path


def _match(path: Location, columns: list[str], patterns: list[str], key: str) -> list[str]:
    chosen = [c for c in columns if any(fnmatch.fnmatchcase(c, p) for p in patterns)]
    if not chosen:
        raise ConfigError(f"{path}: no column matches the {key} patterns {patterns}")
    return chosen
