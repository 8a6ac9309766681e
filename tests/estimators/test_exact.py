"""The specialised interior-point estimator against the cvxpy reference, on harder joints than the shared suite."""

import warnings

import numpy as np
import pytest
import torch

from pidengine import ConfigError, ConvergenceWarning, CVXEstimator, EstimationError, ExactEstimator, get_estimator
from pidengine.estimators.exact import _subtract_lower_gram
from pidengine.estimators.progress import Progress
from pidengine.parts import ATOMS
from tests.reference import dirichlet_joint, reference_pid

ATOL = 1e-6  # bits


def assert_same(a, b, atol=ATOL):
    for key in (*ATOMS, "total"):
        assert getattr(a, key) == pytest.approx(getattr(b, key), abs=atol), key


@pytest.mark.parametrize("shape", [(20, 20, 4), (30, 12, 3), (8, 25, 6)])
@pytest.mark.parametrize(
    "alpha, zero_fraction", [(1.0, 0.0), (1.0, 0.5), (0.1, 0.0), (0.1, 0.5)], ids=["dense", "sparse", "peaked", "both"]
)
def test_agrees_with_cvxpy_reference(rng, shape, alpha, zero_fraction):
    p = dirichlet_joint(rng, shape, alpha, zero_fraction)
    exact = ExactEstimator().estimate(p)
    reference = CVXEstimator(tol=1e-6).estimate(p)
    assert_same(exact, reference)
    assert exact.certificate.certified and abs(exact.certificate.duality_gap) <= 1e-7


def deterministic(label, n1: int, n2: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Y = label(x1, x2) for uniform x1, x2, optionally with a little mass spread over every cell."""
    labels = np.array([[label(a, b) for b in range(n2)] for a in range(n1)])
    p = np.zeros((n1, n2, labels.max() + 1))
    p[np.arange(n1)[:, None], np.arange(n2)[None, :], labels] = 1.0
    if noise:
        p += noise * np.random.default_rng(seed).random(p.shape)
    return p / p.sum()


@pytest.mark.parametrize(
    "label, n1, n2",
    [
        (lambda a, b: (a + b) % 3, 3, 3),  # pure synergy, 3 symbols
        (lambda a, b: a + b, 4, 4),  # sum: 7 labels, degenerate dual
        (lambda a, b: min(a, b), 5, 4),
        (lambda a, b: a // 2 + 3 * (b % 2), 6, 4),  # unique parts from both
    ],
)
@pytest.mark.parametrize("noise", [0.0, 1e-3])
def test_degenerate_deterministic_joints_match_the_dual_program(label, n1, n2, noise):
    p = deterministic(label, n1, n2, noise)
    result = ExactEstimator().estimate(p)
    for key, value in reference_pid(p).items():
        assert getattr(result, key) == pytest.approx(value, abs=ATOL), key


def test_auto_is_the_exact_estimator():
    assert isinstance(get_estimator("auto"), ExactEstimator)


def test_too_few_iterations_raise_or_warn(rng):
    p = dirichlet_joint(rng, (6, 6, 3))
    with pytest.raises(EstimationError, match="not certified"):
        ExactEstimator(max_iter=2).estimate(p)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ExactEstimator(max_iter=2, on_failure="warn").estimate(p)
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert not result.certificate.certified


def test_bad_max_iter_is_rejected(rng):
    with pytest.raises(ConfigError, match="max_iter"):
        ExactEstimator(max_iter=0).estimate(dirichlet_joint(rng, (2, 2, 2)))


def test_extreme_dynamic_range_is_certified_or_raises():
    """Masses from 1e-90 to 1 (Dirichlet with concentration 0.02): certified and right, or an error — never a
    quiet number."""
    rng = np.random.default_rng(266)
    for _ in range(20):
        p = rng.dirichlet(np.full(48, 0.02)).reshape(4, 2, 6)
        try:
            result = ExactEstimator().estimate(p)
        except EstimationError as exc:
            assert "not certified" in str(exc)
            continue
        assert result.certificate.certified
        for key, value in reference_pid(p).items():
            assert getattr(result, key) == pytest.approx(value, abs=1e-5), key


# 2x2x2 laws on which the path used to stall far from the optimum (a dual step of up to 5 nats overshot the
# linearised exponentials; see MAX_DUAL_MOVE): (Dirichlet concentration, seed of default_rng), seed 1 the law of the
# bug report. Found by benchmarks/exact_robustness.py-style sweeps; each failed to certify before the fix.
STALLED_2X2X2 = [(1.0, 1), (1.0, 144), (1.0, 265), (0.5, 295), (0.1, 12), (0.1, 163), (0.1, 195)]


def stalled_law(alpha: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(8, alpha)).reshape(2, 2, 2)


@pytest.mark.parametrize("alpha, seed", STALLED_2X2X2)
def test_small_laws_where_the_path_used_to_stall_match_cvxpy(alpha, seed):
    p = stalled_law(alpha, seed)
    result = ExactEstimator().estimate(p)
    assert result.certificate.certified and abs(result.certificate.duality_gap) <= 1e-7
    assert_same(result, CVXEstimator(tol=1e-6).estimate(p))


def test_the_bug_report_law_has_its_known_parts():
    """The law of the report, with cvxpy's (Clarabel's) parts: U2 sits at 0, on the boundary."""
    result = ExactEstimator().estimate(stalled_law(1.0, 1))
    expected = {"redundancy": 0.188402943, "unique1": 0.157332110, "unique2": 0.0, "synergy": 0.069475914}
    for key, value in expected.items():
        assert getattr(result, key) == pytest.approx(value, abs=ATOL), key


def test_the_batch_solves_the_stalled_laws_without_leaving_it():
    from pidengine.estimators.exact_many import ExactManyEstimator

    laws = np.stack([stalled_law(alpha, seed) for alpha, seed in STALLED_2X2X2])
    results = ExactManyEstimator(device="cpu").estimate_many(laws)
    for law, result in zip(laws, results):
        assert not result.certificate.status.startswith("left the batch"), result.certificate.status
        assert_same(result, CVXEstimator(tol=1e-6).estimate(law))


@pytest.mark.slow
@pytest.mark.parametrize("zero_fraction", [0.0, 0.5])
def test_agrees_with_cvxpy_at_benchmark_sizes(rng, zero_fraction):
    """60 x 60 x 4: the reference takes seconds; agreement is bounded by the reference's own certified gap."""
    p = dirichlet_joint(rng, (60, 60, 4), 1.0, zero_fraction)
    exact = ExactEstimator().estimate(p)
    reference = CVXEstimator().estimate(p)
    assert_same(
        exact, reference, atol=abs(reference.certificate.duality_gap) + abs(exact.certificate.duality_gap) + 1e-9
    )


@pytest.mark.parametrize("size", [300, 2000, 3000])
def test_schur_update_forms_the_lower_triangle_of_the_gram_product(rng, size):
    """The Schur complement is updated on and below its block diagonal only (the factorisation reads no more):
    that lower triangle must equal the full product's, whatever the number of column blocks."""
    c = torch.as_tensor(rng.standard_normal((2, 7, size)))
    start = torch.as_tensor(rng.standard_normal((2, size, size)))
    matrix = start.clone()
    _subtract_lower_gram(matrix, c)
    expected = start - c.transpose(1, 2) @ c
    assert torch.allclose(torch.tril(matrix), torch.tril(expected), rtol=0, atol=1e-12)


def test_progress_reports_every_iteration_and_changes_nothing(rng, caplog):
    """A callable gets ("exact", iteration, max_iter, complementarity in bits) once per iteration, the
    complementarity falling to about the tolerance; the estimate is the same as without it."""
    p = dirichlet_joint(rng, (15, 12, 4))
    events = []
    caplog.set_level("DEBUG", logger="pidengine.progress")
    result = ExactEstimator(progress=lambda *event: events.append(event)).estimate(p)
    assert [e[1] for e in events] == list(range(1, result.certificate.n_iter + 1))
    assert {e[0] for e in events} == {"exact"} and {e[2] for e in events} == {100}
    assert events[0][3] > 1e3 * events[-1][3] and events[-1][3] < 1e-6
    assert sum(r.getMessage().startswith("exact: iteration") for r in caplog.records) == len(events)
    plain = ExactEstimator().estimate(p)
    for key in (*ATOMS, "total"):
        assert getattr(result, key) == getattr(plain, key)
    with pytest.raises(ConfigError, match="progress"):
        ExactEstimator(progress="yes").estimate(p)
    caplog.set_level("WARNING", logger="pidengine.progress")
    assert not Progress(False, "exact", 100, "iteration", "complementarity (bits)").active  # nothing computed then


def test_a_bar_with_a_target_shows_the_log_distance_covered():
    # The path ends at the tolerance, long before max_iter: the bar counts percent of the way there, on a log scale.
    bar = Progress(False, "exact", 100, "iteration", "complementarity (bits)", target=1e-7)
    assert [bar._percent(value) for value in (1e-1, 1e-3, 1e-5, 2e-5, 1e-7, 1e-9)] == [0, 33, 66, 61, 100, 100]
