"""The contract every result shares: its parts and their checks (Decomposition), and the flat view written by
flatten_parts and read back by read_parts."""

import re

import numpy as np
import pytest

from pidengine.bootstrap import bootstrap_pid
from pidengine.datasets.canonical import CANONICAL
from pidengine.estimators.base import PIDResult
from pidengine.estimators.batch import BatchPIDResult
from pidengine.estimators.crossfit import CrossFitResult
from pidengine.exceptions import EstimationError
from pidengine.parts import PARTS, Decomposition, PartEstimate, flatten_parts, other_values, read_parts
from tests.test_bootstrap import sample_from


def test_flatten_and_read_are_inverse_and_keep_the_rest_apart():
    parts = {"redundancy": PartEstimate(0.5, low=0.4, high=0.6, significant=True, plugin=0.55, shuffled=0.01),
             "synergy": PartEstimate(0.2, learning_gain=0.05, learning_limited=False),
             "total": PartEstimate(1.0, std=0.1, learning_limited=True)}
    flat = {**flatten_parts(parts), "certified": True, "n_samples": 300}
    assert read_parts(flat) == parts
    assert other_values(flat) == {"certified": True, "n_samples": 300}


def test_a_bootstrap_result_reads_back_as_its_corrected_parts():
    x1, x2, y = sample_from(CANONICAL["xor"].pmf, 400, seed=1)
    result = bootstrap_pid(x1, x2, y, n_resamples=40, n_permutations=20, random_state=0)
    parts = read_parts(result.to_dict())
    assert list(parts) == list(PARTS)
    for part in PARTS:
        assert parts[part].value == result.corrected[part]
        assert (parts[part].low, parts[part].high) == result.intervals[part]
        assert parts[part].significant == result.significant[part]
        assert parts[part].plugin == getattr(result.estimate, part)
        assert np.isclose(parts[part].shuffled, result.null[:, PARTS.index(part)].mean())


@pytest.mark.parametrize("result", [PIDResult, BatchPIDResult, CrossFitResult], ids=lambda result: result.__name__)
def test_every_result_is_a_decomposition_and_checks_its_parts_one_way(result):
    assert issubclass(result, Decomposition)
    assert not {"atoms", "negative_parts", "check"} & set(vars(result))  # inherited, not redefined
    assert not set(PARTS) & set(vars(result)["__annotations__"])  # the parts are the base's fields


def test_check_holds_the_parts_to_their_sum_and_to_the_results_own_floor():
    parts = {"redundancy": -0.01, "unique1": 0.2, "unique2": 0.3, "synergy": 0.5}
    plain = Decomposition(**parts, total=sum(parts.values()), estimator="test")
    assert plain.negative_parts == ("redundancy",) and plain.units == "bits"
    with pytest.raises(EstimationError, match=re.escape("from test: redundancy = -0.01 bits < -1e-06")):
        plain.check()
    plain.check(negative_tol=0.02)
    with pytest.raises(EstimationError, match=re.escape("R + U1 + U2 + S - total = -0.1 bits")):
        Decomposition(**parts, total=plain.total + 0.1, estimator="test").check(negative_tol=0.02)
    assert BatchPIDResult.negative_tol == 0.02  # a mean over finite batches may dip below zero
