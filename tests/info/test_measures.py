import numpy as np
import pytest

from pidengine import InvalidJointError, conditional_mutual_information, entropy, mutual_information


def test_entropy_of_uniform_is_log2_of_size():
    assert entropy(np.ones(8)) == pytest.approx(3.0, abs=1e-12)
    assert entropy(np.ones((2, 2, 4))) == pytest.approx(4.0, abs=1e-12)


def test_entropy_binary_closed_form_and_zero_cells():
    p = 0.1
    expected = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    assert entropy([p, 0.0, 1 - p]) == pytest.approx(expected, abs=1e-12)


def test_entropy_normalises_unnormalised_masses():
    assert entropy([2.0, 2.0]) == pytest.approx(1.0, abs=1e-12)


def test_mutual_information_copy_and_independence():
    assert mutual_information(np.eye(4) / 4) == pytest.approx(2.0, abs=1e-12)
    assert mutual_information(np.outer([0.3, 0.7], [0.2, 0.5, 0.3])) == pytest.approx(0.0, abs=1e-12)


def test_mutual_information_binary_symmetric_channel():
    eps = 0.2
    p = 0.5 * np.array([[1 - eps, eps], [eps, 1 - eps]])
    h = -(eps * np.log2(eps) + (1 - eps) * np.log2(1 - eps))
    assert mutual_information(p) == pytest.approx(1.0 - h, abs=1e-12)


def test_conditional_mutual_information_xor_and_markov_chain():
    xor = np.zeros((2, 2, 2))
    for x in (0, 1):
        for z in (0, 1):
            xor[x, x ^ z, z] = 0.25  # p[x, y, z], y = x XOR z
    assert conditional_mutual_information(xor) == pytest.approx(1.0, abs=1e-12)
    assert mutual_information(xor.sum(2)) == pytest.approx(0.0, abs=1e-12)
    # X - Z - Y Markov chain: p(x, y, z) = p(z) p(x|z) p(y|z) gives I(X;Y|Z) = 0.
    pz = np.array([0.4, 0.6])
    px_z = np.array([[0.9, 0.1], [0.3, 0.7]])  # [z, x]
    py_z = np.array([[0.2, 0.8], [0.5, 0.5]])  # [z, y]
    chain = np.einsum("z,zx,zy->xyz", pz, px_z, py_z)
    assert conditional_mutual_information(chain) == pytest.approx(0.0, abs=1e-12)


def test_chain_rule_holds_on_random_joint(rng):
    p = rng.random((3, 4, 5))
    p /= p.sum()
    # I(X; Y, Z) = I(X; Z) + I(X; Y | Z)
    lhs = mutual_information(p.reshape(3, 20))
    rhs = mutual_information(p.sum(1)) + conditional_mutual_information(p)
    assert lhs == pytest.approx(rhs, abs=1e-12)


@pytest.mark.parametrize(
    "bad, match",
    [([np.nan, 1.0], "NaN"), ([-0.1, 1.0], "negative"), ([0.0, 0.0], "zero total"), ([], "empty")],
)
def test_bad_distributions_are_rejected(bad, match):
    with pytest.raises(InvalidJointError, match=match):
        entropy(bad)


def test_wrong_dimensions_are_rejected():
    with pytest.raises(InvalidJointError, match="2 dimensions"):
        mutual_information(np.ones(3))
    with pytest.raises(InvalidJointError, match="3 dimensions"):
        conditional_mutual_information(np.ones((2, 2)))
