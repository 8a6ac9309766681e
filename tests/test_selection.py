import pytest

from pidengine import ConfigError, InvalidJointError
from pidengine.selection import ReferenceRow, normalized_pid, recommend, selection_score

REFERENCE = [
    ReferenceRow("redundant", {"redundancy": 1.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0},
                 {"late_fusion": 0.99, "early_fusion": 0.98, "agreement": 0.99, "tensor_fusion": 0.97}),
    ReferenceRow("synergistic", {"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 2.0},
                 {"late_fusion": 0.50, "early_fusion": 0.95, "agreement": 0.52, "tensor_fusion": 0.97}),
]


def test_normalised_pid_is_a_distribution_and_ignores_noise_below_zero():
    assert normalized_pid({"redundancy": 1.0, "unique1": -1e-9, "unique2": 1.0, "synergy": 2.0}).tolist() == [0.25, 0.0, 0.25, 0.5]
    with pytest.raises(InvalidJointError, match="is zero"):
        normalized_pid({"redundancy": 0.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0})
    with pytest.raises(InvalidJointError, match="lacks"):
        normalized_pid({"redundancy": 1.0})


def test_nearest_reference_by_l1_gives_its_best_families():
    result = recommend("mostly-synergy", {"redundancy": 0.1, "unique1": 0.0, "unique2": 0.0, "synergy": 0.9}, REFERENCE, k=2)
    assert result.nearest == "synergistic"
    assert result.distance == pytest.approx(0.2)  # |0.1 - 0| + |0.9 - 1|
    assert result.families == ("tensor_fusion", "early_fusion")
    assert [name for name, _ in result.neighbours] == ["synergistic", "redundant"]
    assert result.neighbours[1][1] == pytest.approx(1.8)


def test_ties_are_broken_by_name():
    result = recommend("r", {"redundancy": 1.0, "unique1": 0.0, "unique2": 0.0, "synergy": 0.0}, REFERENCE, k=2)
    assert result.families == ("agreement", "late_fusion")


def test_selection_score():
    accuracy = {"late_fusion": 0.6, "early_fusion": 0.9, "tensor_fusion": 0.8}
    assert selection_score(("late_fusion", "tensor_fusion"), accuracy) == pytest.approx(100 * 0.8 / 0.9)
    assert selection_score(["early_fusion"], accuracy) == 100.0
    with pytest.raises(ConfigError, match="no accuracy"):
        selection_score(["agreement"], accuracy)
    with pytest.raises(ConfigError, match="empty"):
        recommend("x", {"redundancy": 1, "unique1": 0, "unique2": 0, "synergy": 0}, [])
