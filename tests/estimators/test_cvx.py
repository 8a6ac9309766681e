"""Behaviour specific to the cvxpy reference estimator: solver choice, failures and the explicit fallback."""

import warnings

import pytest

from pidengine import ConfigError, ConvergenceWarning, CVXEstimator, EstimationError
from tests.reference import dirichlet_joint, reference_pid


def test_default_solver_is_recorded(rng):
    c = CVXEstimator().estimate(dirichlet_joint(rng, (3, 3, 2))).certificate
    assert c.solver == "CLARABEL" and c.status == "optimal" and c.attempts == ("CLARABEL: optimal",)


def test_solver_failure_raises_and_never_falls_back_silently(rng):
    p = dirichlet_joint(rng, (5, 5, 4))
    starved = {"CLARABEL": {"max_iter": 2}}
    with pytest.raises(EstimationError, match="CLARABEL"):
        CVXEstimator(solver_options=starved).estimate(p)
    result = CVXEstimator(solver_options=starved, fallback_solver="ECOS").estimate(p)
    assert result.certificate.solver == "ECOS"
    assert result.certificate.attempts[0].startswith("CLARABEL: failed")
    for key, value in reference_pid(p).items():
        assert getattr(result, key) == pytest.approx(value, abs=1e-6), key


def test_uncertified_estimate_raises_or_warns(rng):
    p = dirichlet_joint(rng, (4, 4, 3))
    with pytest.raises(EstimationError, match="not certified"):
        CVXEstimator(tol=1e-30, marginal_tol=1e-30).estimate(p)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CVXEstimator(tol=1e-30, marginal_tol=1e-30, on_failure="warn").estimate(p)
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert not result.certificate.certified


def test_bad_settings_are_rejected(rng):
    p = dirichlet_joint(rng, (2, 2, 2))
    with pytest.raises(ConfigError, match="tol"):
        CVXEstimator(tol=-1).estimate(p)
    with pytest.raises(ConfigError, match="not an installed cvxpy solver"):
        CVXEstimator(solver="NOPE").estimate(p)
    with pytest.raises(ConfigError, match="on_failure"):
        CVXEstimator(on_failure="ignore").estimate(p)
