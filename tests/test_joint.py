import numpy as np
import pytest

from pidengine import InvalidJointError, joint_from_samples
from pidengine.joint import as_pmf


def test_contingency_table_counts_and_value_mapping():
    x1 = np.array([3, 3, 7, 7, 7])
    x2 = np.array(["b", "a", "a", "b", "b"])
    y = np.array([True, False, False, True, True])
    table = joint_from_samples(x1, x2, y)
    assert table.n_samples == 5
    assert table.values1.tolist() == [3, 7]
    assert table.values2.tolist() == ["a", "b"]
    assert table.values_y.tolist() == [False, True]
    expected = np.zeros((2, 2, 2))
    expected[0, 1, 1] = 1  # (3, b, True)
    expected[0, 0, 0] = 1  # (3, a, False)
    expected[1, 0, 0] = 1  # (7, a, False)
    expected[1, 1, 1] = 2  # (7, b, True) twice
    np.testing.assert_allclose(table.pmf, expected / 5)


def test_samples_of_different_lengths_are_rejected():
    with pytest.raises(InvalidJointError, match="different lengths"):
        joint_from_samples([0, 1], [0, 1, 1], [0, 1])


@pytest.mark.parametrize(
    "x1, match",
    [(np.array([0.0, np.nan]), "NaN"), (np.zeros((2, 2)), "1-D"), (np.array([None, 1], dtype=object), "missing")],
)
def test_bad_samples_are_rejected(x1, match):
    with pytest.raises(InvalidJointError, match=match):
        joint_from_samples(x1, [0, 1], [0, 1])


def test_empty_samples_are_rejected():
    with pytest.raises(InvalidJointError, match="no samples"):
        joint_from_samples([], [], [])


def test_as_pmf_normalises_without_touching_the_input():
    raw = np.array([[[1.0, 3.0]]])
    pmf = as_pmf(raw, ndim=3)
    np.testing.assert_allclose(pmf, [[[0.25, 0.75]]])
    assert raw[0, 0, 1] == 3.0


@pytest.mark.parametrize(
    "joint, match",
    [
        (np.ones((2, 2)), "3 dimensions"),
        (np.full((2, 2, 2), np.inf), "NaN or inf"),
        (np.array([[[0.5, -0.5]]]), r"negative mass.*index \(0, 0, 1\)"),
        (np.zeros((2, 2, 2)), "zero total"),
        (np.ones((2, 0, 2)), "empty"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_bad_joints_are_rejected_with_the_problem_named(joint, match):
    with pytest.raises(InvalidJointError, match=match):
        as_pmf(joint, ndim=3)
