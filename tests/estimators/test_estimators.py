import json

import numpy as np
import pytest

from pidengine import CVXEstimator, ExactEstimator, InvalidJointError
from pidengine.parts import ATOMS
from tests.reference import dirichlet_joint, reference_pid

ATOL = 1e-6  # bits


@pytest.fixture(scope="module", params=[ExactEstimator, CVXEstimator], ids=["exact", "cvxpy"])
def estimator(request):
    """Every discrete estimator must pass the same checks."""
    return request.param()


def assert_pid(result, expected: dict[str, float], atol: float = ATOL) -> None:
    for key, value in expected.items():
        assert getattr(result, key) == pytest.approx(value, abs=atol), key


def test_closed_forms(estimator, canonical):
    result = estimator.estimate(canonical.pmf)
    assert_pid(result, canonical.expected())
    assert result.certificate.certified
    assert result.units == "bits"


def test_and_gate_textbook_value(estimator):
    from pidengine.datasets import CANONICAL

    result = estimator.estimate(CANONICAL["and"].pmf)
    assert result.redundancy == pytest.approx(0.311278, abs=1e-6)
    assert result.synergy == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 2), (4, 4, 3), (6, 5, 4), (8, 8, 2)])
@pytest.mark.parametrize(
    "alpha, zero_fraction", [(1.0, 0.0), (1.0, 0.5), (0.1, 0.0)], ids=["dense", "sparse", "peaked"]
)
def test_agrees_with_independent_dual_program(estimator, rng, shape, alpha, zero_fraction):
    p = dirichlet_joint(rng, shape, alpha, zero_fraction)
    result = estimator.estimate(p)
    assert_pid(result, reference_pid(p))


def test_certificate_is_real(estimator, rng):
    p = dirichlet_joint(rng, (5, 4, 3))
    result = estimator.estimate(p)
    c = result.certificate
    assert c.certified and c.n_iter > 0
    assert 0 <= c.marginal_violation <= 1e-8
    assert abs(c.duality_gap) <= 1e-7
    # q* really lies in Delta_p and attains the reported optimum.
    pn = p / p.sum()
    np.testing.assert_allclose(result.q.sum(1), pn.sum(1), atol=1e-8)
    np.testing.assert_allclose(result.q.sum(0), pn.sum(0), atol=1e-8)
    assert (result.q >= 0).all()
    from pidengine import conditional_mutual_information

    u1 = conditional_mutual_information(result.q.transpose(0, 2, 1))  # I_q(X1; Y | X2)
    assert u1 == pytest.approx(result.unique1, abs=ATOL)


def test_sum_identity_and_nonnegativity(estimator, rng):
    for _ in range(3):
        result = estimator.estimate(dirichlet_joint(rng, (4, 5, 3), alpha=0.3))
        result.check(atol=1e-9)
        assert all(v >= -1e-9 for v in result.atoms().values())
        assert sum(result.atoms().values()) == pytest.approx(result.total, abs=1e-12)


def test_swapping_modalities_swaps_uniques(estimator, rng):
    p = dirichlet_joint(rng, (4, 3, 3))
    a = estimator.estimate(p)
    b = estimator.estimate(p.transpose(1, 0, 2))
    assert b.unique1 == pytest.approx(a.unique2, abs=ATOL)
    assert b.unique2 == pytest.approx(a.unique1, abs=ATOL)
    assert b.redundancy == pytest.approx(a.redundancy, abs=ATOL)
    assert b.synergy == pytest.approx(a.synergy, abs=ATOL)


def test_relabelling_values_changes_nothing(estimator, rng):
    p = dirichlet_joint(rng, (4, 5, 3), zero_fraction=0.3)
    permuted = p[rng.permutation(4)][:, rng.permutation(5)][:, :, rng.permutation(3)]
    a, b = estimator.estimate(p), estimator.estimate(permuted)
    for key in (*ATOMS, "total"):
        assert getattr(b, key) == pytest.approx(getattr(a, key), abs=ATOL)


def test_unnormalised_and_padded_joints(estimator, rng):
    p = dirichlet_joint(rng, (3, 3, 2))
    padded = np.zeros((5, 4, 4))
    padded[1:4, :3, 1:3] = 7.5 * p  # empty rows, an empty column, two empty labels, total mass 7.5
    a, b = estimator.estimate(p), estimator.estimate(padded)
    for key in (*ATOMS, "total"):
        assert getattr(b, key) == pytest.approx(getattr(a, key), abs=ATOL)
    assert b.q.shape == padded.shape and b.q.sum() == pytest.approx(1.0)
    assert b.q[0].sum() == 0 and b.q[:, :, 0].sum() == 0


def test_single_label_is_all_zero(estimator):
    result = estimator.estimate(np.ones((3, 4, 1)))
    assert all(getattr(result, k) == 0 for k in (*ATOMS, "total"))
    assert result.certificate.solver == "closed-form" and result.certificate.certified


def test_constant_modality_has_only_unique_information_of_the_other(estimator, rng):
    p_x2y = rng.dirichlet(np.ones(6)).reshape(1, 3, 2)
    result = estimator.estimate(p_x2y)
    from pidengine import mutual_information

    assert_pid(result, {"redundancy": 0, "unique1": 0, "synergy": 0, "unique2": mutual_information(p_x2y[0])})


def test_bad_joint_names_the_problem(estimator):
    with pytest.raises(InvalidJointError, match="negative"):
        estimator.estimate(np.array([[[0.5, -0.1]], [[0.3, 0.3]]]))
    with pytest.raises(InvalidJointError, match="NaN"):
        estimator.estimate(np.full((2, 2, 2), np.nan))
    with pytest.raises(InvalidJointError, match="3 dimensions"):
        estimator.estimate(np.ones((4, 4)))
    with pytest.raises(InvalidJointError, match="zero total"):
        estimator.estimate(np.zeros((2, 2, 2)))


def test_estimate_samples_counts_rows(estimator):
    rng = np.random.default_rng(3)
    x1, x2 = rng.integers(0, 2, 4000), rng.integers(0, 2, 4000)
    result = estimator.estimate_samples(x1, x2, x1 ^ x2)
    assert result.n_samples == 4000
    assert result.synergy == pytest.approx(1.0, abs=5e-3)  # empirical margins are not exactly uniform


def test_result_dict_is_json_ready(estimator, canonical):
    payload = json.loads(json.dumps(estimator.estimate(canonical.pmf).to_dict()))
    assert {"redundancy", "unique1", "unique2", "synergy", "total", "duality_gap_bits"} <= payload.keys()
