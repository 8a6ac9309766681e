"""The flat view every result shares: written by flatten_parts, read back by read_parts."""

import numpy as np

from pidengine.bootstrap import bootstrap_pid
from pidengine.datasets.canonical import CANONICAL
from pidengine.parts import PARTS, PartEstimate, flatten_parts, other_values, read_parts
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
