import math
import re
import warnings

import numpy as np
import pytest

from pidengine import InvalidJointError, joint_from_samples
from pidengine.datasets import gate_samples
from pidengine.exceptions import SparseTableWarning
from pidengine.joint import as_pmf


def test_contingency_table_counts_and_value_mapping():
    x1 = np.array([3, 3, 7, 7, 7])
    x2 = np.array(["b", "a", "a", "b", "b"])
    y = np.array([True, False, False, True, True])
    with pytest.warns(SparseTableWarning):  # 5 samples for 8 cells
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


@pytest.mark.parametrize("name", ["x1", "x2", "y"])
def test_continuous_samples_are_refused_with_the_fix(name):
    rng = np.random.default_rng(0)
    samples = {"x1": rng.integers(0, 2, 500), "x2": rng.integers(0, 2, 500), "y": rng.integers(0, 2, 500)}
    samples[name] = rng.normal(size=500)
    with pytest.raises(InvalidJointError) as info:
        joint_from_samples(samples["x1"], samples["x2"], samples["y"])
    message = str(info.value)
    assert message.startswith(f"{name} has 500 non-integer float values, e.g. ")
    assert "discretise it first" in message and "ModalityFeaturizer" in message and "\n" not in message
    example = float(re.search(r"e\.g\. (\S+);", message)[1])
    assert example == pytest.approx(samples[name][0], rel=1e-3)  # the first offending value, 4 digits


def test_one_fractional_value_among_integer_floats_is_refused():
    with pytest.raises(InvalidJointError, match=r"x2 has 1 non-integer float value, e\.g\. 2\.00001;"):
        joint_from_samples([0, 1, 1], np.array([0.0, 1.0, 2.00001]), [0, 1, 0])


def test_integer_valued_floats_are_accepted_like_integers():
    x1, x2, y = (np.tile(codes, 50) for codes in ([0, 0, 1, 1, 2], [1, 0, 1, 0, 1], [0, 1, 1, 0, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither refused nor warned about
        as_floats = joint_from_samples(x1.astype(np.float64), x2.astype(np.float32), y.astype(np.float64))
    as_ints = joint_from_samples(x1, x2, y)
    np.testing.assert_array_equal(as_floats.pmf, as_ints.pmf)
    assert as_floats.values1.tolist() == [0.0, 1.0, 2.0]


def test_sparse_table_warns_with_the_miller_bias():
    rng = np.random.default_rng(1)
    x1, x2, y = rng.integers(0, 30, 300), rng.integers(0, 30, 300), rng.integers(0, 3, 300)
    # Miller's bias of the plug-in total, from the samples: k12 observed (x1, x2) pairs, |Y| observed labels.
    k12, n_y, n = len(set(zip(x1.tolist(), x2.tolist()))), len(set(y.tolist())), len(y)
    bias = (k12 - 1) * (n_y - 1) / (2 * n * np.log(2))
    assert bias > 1  # a table of more cells than samples
    with pytest.warns(SparseTableWarning) as record:
        table = joint_from_samples(x1, x2, y)
    assert table.n_samples == 300  # the table is still built
    assert len(record) == 1
    message = str(record[0].message)
    assert "\n" not in message and "fewer codes" in message
    assert f"{n} samples for {k12} observed (x1, x2) pairs x {n_y} values of y ({k12 * n_y} cells)" in message
    assert float(re.search(r"biased upward by up to about ([0-9.]+) bits", message)[1]) == pytest.approx(bias, abs=5e-4)
    needed = math.ceil((k12 - 1) * (n_y - 1) / (2 * 0.05 * np.log(2)))
    assert re.search(r"at least (\d+) samples for a bias of 0\.05 bits", message)[1] == str(needed)


@pytest.mark.parametrize("n, warns", [(21, True), (22, False)])
def test_sparse_warning_starts_above_a_tenth_of_a_bit(n, warns):
    """All four (x1, x2) pairs and both labels: bias 3 / (2 n ln 2) bits, above 0.1 for n <= 21."""
    i = np.arange(n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        joint_from_samples(i % 2, i // 2 % 2, i // 4 % 2)
    assert [w.category for w in caught] == ([SparseTableWarning] if warns else [])


@pytest.mark.parametrize("gate", ["and", "xor", "copy"])
def test_well_sampled_table_is_silent(gate):
    data = gate_samples(gate, 1000, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = joint_from_samples(data.latent1, data.latent2, data.y)
    assert table.n_samples == 1000
    assert caught == []


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
        ([["a", "b"]], "real numbers"),
    ],
)
def test_bad_joints_are_rejected_with_the_problem_named(joint, match):
    with pytest.raises(InvalidJointError, match=match):
        as_pmf(joint, ndim=3)
