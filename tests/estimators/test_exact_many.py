"""The vectorised estimator must give, joint by joint, what the single exact estimator gives."""

import numpy as np
import pytest
import torch

from pidengine import EstimationError, ExactEstimator, InvalidJointError
from pidengine.datasets import CANONICAL
from pidengine.estimators.exact_many import ExactManyEstimator
from pidengine.parts import ATOMS
from tests.reference import dirichlet_joint

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


def mixed_batch(rng: np.random.Generator) -> np.ndarray:
    """Joints of one shape with the awkward cases: zero rows and labels, one label, a gate, peaked masses."""
    shape = (5, 4, 3)
    joints = [dirichlet_joint(rng, shape, alpha) for alpha in (1.0, 0.3, 0.1)]
    sparse = dirichlet_joint(rng, shape, 1.0, zero_fraction=0.5)
    joints.append(sparse)
    padded = np.zeros(shape)
    padded[1:3, 1:3, :2] = CANONICAL["and"].pmf
    joints.append(padded)
    one_label = np.zeros(shape)
    one_label[:, :, 1] = rng.random(shape[:2])
    joints.append(one_label)
    holes = dirichlet_joint(rng, shape, 1.0)
    holes[0] = 0.0
    holes[:, :, 2] = 0.0
    joints.append(holes)
    return np.stack(joints)


@pytest.mark.parametrize("device", DEVICES)
def test_matches_the_single_estimator_joint_by_joint(rng, device):
    joints = mixed_batch(rng)
    many = ExactManyEstimator(device=device).estimate_many(joints)
    for joint, result in zip(joints, many):
        single = ExactEstimator().estimate(joint)
        assert result.certificate.certified
        for key in (*ATOMS, "total"):
            assert getattr(result, key) == pytest.approx(getattr(single, key), abs=1e-6), key
    assert many[4].redundancy == pytest.approx(CANONICAL["and"].redundancy, abs=1e-6)
    assert many[5].certificate.solver == "closed-form"


def test_many_random_joints_are_certified_in_the_batch(rng):
    joints = np.stack([dirichlet_joint(rng, (8, 6, 3), 0.5) for _ in range(60)])
    results = ExactManyEstimator(device="cpu").estimate_many(joints)
    assert all(r.certificate.certified for r in results)
    in_batch = sum(not r.certificate.status.startswith("left the batch") for r in results)
    assert in_batch >= 55  # almost all finish inside the vectorised path


def test_bad_stacks_name_the_joint():
    joints = np.ones((3, 2, 2, 2))
    joints[1, 0, 0, 0] = -1.0
    with pytest.raises(InvalidJointError, match=r"joint 1: .*negative"):
        ExactManyEstimator().estimate_many(joints)
    with pytest.raises(InvalidJointError, match="stack of joints"):
        ExactManyEstimator().estimate_many(np.ones((2, 2, 2)))


def test_uncertifiable_joint_raises(rng):
    joints = np.stack([dirichlet_joint(rng, (6, 6, 3)) for _ in range(3)])
    with pytest.raises(EstimationError, match="not certified"):
        ExactManyEstimator(max_iter=1).estimate_many(joints)
