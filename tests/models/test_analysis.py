import math

import numpy as np
import pytest

from pidengine.models.analysis import Correlation, analyse, pid_agreement
from pidengine.models.sweep import ModelReport

R = {"redundancy": 1.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}
S = {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 1.0}
HALF = {"redundancy": 0.5, "unique1": 0.0, "unique2": 0.0, "synergy": 0.5}
NOTHING = {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}


def test_agreement_is_one_minus_half_the_l1_distance_of_shares():
    assert pid_agreement(R, {k: 3 * v for k, v in R.items()}) == 1.0  # scale does not matter, shares do
    assert pid_agreement(R, S) == 0.0
    assert pid_agreement(R, HALF) == pytest.approx(0.5)
    assert math.isnan(pid_agreement(R, NOTHING))  # a constant model has no interactions to compare


def test_a_part_that_does_not_clear_its_null_counts_as_zero_on_either_side():
    # the model's flags come with its PID's flat view, the dataset's from its estimate's records
    assert pid_agreement(R, {**HALF, "synergy_significant": False}) == 1.0
    assert pid_agreement(HALF, R, {"synergy": False}) == 1.0
    assert pid_agreement(HALF, R, {"synergy": True}) == pytest.approx(0.5)
    # a dataset none of whose parts clears its null has no interactions to agree with
    assert math.isnan(pid_agreement(HALF, R, {"redundancy": False, "synergy": False}))


def test_correlation_matches_numpy_and_is_nan_when_undefined():
    x, y = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 5.0]
    c = Correlation.of(x, y)
    assert c.n == 4 and c.pearson == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert c.spearman == pytest.approx(0.8)  # ranks 1,2,3,4 vs 1,3,2,4: 1 - 6·2/(4·15)
    assert math.isnan(Correlation.of([1, 2], [3, 4]).pearson)
    assert math.isnan(Correlation.of([1, 1, 1], [1, 2, 3]).spearman)
    assert Correlation.of([1, 2, float("nan"), 3], [2, 4, 0, 6]).n == 3


def report(dataset, family, accuracy, pid, without):
    return ModelReport(dataset, family, accuracy, accuracy, 1, 0.0, 100, {**pid, "total": sum(pid.values())}, without)


def test_analyse_on_a_hand_built_sweep():
    pids = {"syn": S, "uniq": {"redundancy": 0.0, "unique1": 1.0, "unique2": 0.0, "synergy": 0.0}}
    reports = [
        report("syn", "multiplicative", 1.0, S, {"x1": 0.5, "x2": 0.5}),
        report("syn", "additive", 0.5, NOTHING, {"x1": 0.5, "x2": 0.5}),
        report("syn", "half", 0.8, HALF, {"x1": 0.6, "x2": 0.6}),
        report("uniq", "multiplicative", 1.0, pids["uniq"], {"x1": 0.5, "x2": 1.0}),
        report("uniq", "additive", 0.9, pids["uniq"], {"x1": 0.5, "x2": 0.9}),
        report("other", "additive", 0.9, R, {"x1": 0.5, "x2": 0.9}),  # no dataset PID: left out
    ]
    analysis = analyse(pids, reports)
    frame = analysis.agreement.set_index(["dataset", "family"])
    assert frame.loc[("syn", "half"), "agreement"] == pytest.approx(0.5)
    assert frame.loc[("syn", "half"), "relative_accuracy"] == pytest.approx(0.8)
    assert math.isnan(frame.loc[("syn", "additive"), "agreement"]) and len(frame) == 5
    # Agreement rises with relative accuracy over the four defined points (0.5→0.8, 1→1, 1→1, 1→0.9).
    assert analysis.agreement_vs_relative_accuracy.n == 4 and analysis.agreement_vs_relative_accuracy.pearson > 0
    drops = analysis.ablation.set_index(["dataset", "modality"])["mean_accuracy_drop"]
    assert drops[("uniq", "x1")] == pytest.approx(0.45) and drops[("uniq", "x2")] == pytest.approx(0.0)
    assert drops[("syn", "x1")] == pytest.approx((0.5 + 0.0 + 0.2) / 3)
    # U1 of "uniq" (1 bit) goes with the largest drop; the other three points have U = 0.
    assert analysis.unique_vs_accuracy_drop.n == 4 and analysis.unique_vs_accuracy_drop.pearson > 0.5
    assert "Spearman" in analysis.summary() and len(analysis.figure().axes) == 2
