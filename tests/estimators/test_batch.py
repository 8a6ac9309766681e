"""The BATCH estimator (classifiers + Sinkhorn-projected alignment networks) and its Sinkhorn projection."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from pidengine import ConfigError, ConvergenceWarning, EstimationError, ExactEstimator, InvalidJointError
from pidengine.datasets import CANONICAL, gate_samples, latent_concept
from pidengine.estimators.batch import BatchEstimator, BatchPIDResult, batch_marginals, conditional_entropy_of_plan
from pidengine.estimators.sinkhorn import sinkhorn_log, sinkhorn_unrolled
from pidengine.parts import ATOMS, PARTS

# Small networks and few epochs: each fit takes a few seconds on two CPU cores.
FAST = {"hidden_dim": 32, "batch_size": 128, "max_epochs": 60, "align_max_epochs": 15, "device": "cpu"}


def max_error(result: BatchPIDResult, truth: dict[str, float]) -> float:
    return max(abs(getattr(result, k) - truth[k]) for k in ATOMS)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks gain nothing from intra-op threads, and lose a lot when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def and_result() -> tuple[BatchPIDResult, dict[str, float]]:
    """AND on 10,000 samples: the BATCH estimate on the held-out fifth, and the exact PID of those same samples."""
    data = gate_samples("and", 10_000, random_state=3)
    order = np.random.default_rng(0).permutation(10_000)
    test, train = order[:2000], order[2000:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean dataset fits without any warning
        estimator = BatchEstimator(**FAST, random_state=0).fit(data.x1[train], data.x2[train], data.y[train])
        result = estimator.estimate(data.x1[test], data.x2[test], data.y[test])
    plug_in = ExactEstimator().estimate_samples(data.x1[test, 0], data.x2[test, 0], data.y[test])
    return result, plug_in.atoms()


# ---------------------------------------------------------------------------------------------- Sinkhorn


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sinkhorn_matches_both_marginals_and_keeps_dtype(dtype):
    gen = torch.Generator().manual_seed(0)
    kernel = (3 * torch.randn(3, 20, 30, generator=gen)).to(dtype)
    row = torch.rand(3, 20, generator=gen).to(dtype) + 0.1
    col = torch.rand(3, 30, generator=gen).to(dtype) + 0.1
    col = col * row.sum(1, keepdim=True) / col.sum(1, keepdim=True)  # equal mass per slice
    row, col = row / row.sum(), col / row.sum()
    result = sinkhorn_log(kernel, row.log(), col.log(), tol=1e-5)
    q = torch.exp(result.log_plan(kernel))
    assert result.converged and result.marginal_error <= 1e-5
    assert q.dtype == dtype and result.alpha.dtype == dtype
    assert torch.allclose(q.sum(2), row, atol=1e-5) and torch.allclose(q.sum(1), col, atol=1e-5)


def test_sinkhorn_reports_non_convergence_instead_of_hiding_it():
    kernel = torch.tensor([[[0.0, -30.0], [-30.0, 0.0]]], dtype=torch.float64)
    row = torch.log(torch.tensor([[0.9, 0.1]], dtype=torch.float64))
    col = torch.log(torch.tensor([[0.1, 0.9]], dtype=torch.float64))
    result = sinkhorn_log(kernel, row, col, max_iter=3, tol=1e-12)
    assert not result.converged and result.n_iter == 3 and result.marginal_error > 1e-12


def test_sinkhorn_rolls_back_a_non_finite_iterate():
    kernel = torch.zeros(1, 2, 2, dtype=torch.float64)
    row = torch.log(torch.tensor([[0.5, 0.5]], dtype=torch.float64))
    col = torch.tensor([[float("nan"), np.log(0.5)]], dtype=torch.float64)
    with pytest.warns(ConvergenceWarning, match="non-finite"):
        result = sinkhorn_log(kernel, row, col)
    assert not result.converged and torch.isfinite(result.alpha).all() and torch.isfinite(result.beta).all()


def test_unrolled_projection_is_differentiable_and_feasible():
    kernel = torch.randn(2, 8, 8, dtype=torch.float64, requires_grad=True)
    row = torch.full((2, 8), 1 / 16, dtype=torch.float64).log()
    start = sinkhorn_log(kernel.detach(), row, row)
    log_q = sinkhorn_unrolled(kernel, row, row, start.beta, n_iter=3)
    (-conditional_entropy_of_plan(log_q)).backward()
    assert kernel.grad is not None and torch.isfinite(kernel.grad).all()
    assert torch.allclose(torch.exp(log_q).sum(1), torch.exp(row), atol=1e-8)


def test_batch_marginals_share_the_label_marginal():
    gen = torch.Generator().manual_seed(1)
    lp1 = torch.log_softmax(torch.randn(50, 4, generator=gen, dtype=torch.float64), 1)
    lp2 = torch.log_softmax(torch.randn(50, 4, generator=gen, dtype=torch.float64), 1)
    log_r, log_c, mismatch = batch_marginals(lp1, lp2)
    assert torch.allclose(torch.exp(log_r).sum(1), torch.exp(log_c).sum(1))
    assert torch.exp(log_r).sum() == pytest.approx(1.0) and float(mismatch) > 0


# ---------------------------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("gate", ["xor", "unique1", "redundant"])
def test_bitwise_gates_within_002_bits(gate):
    data = gate_samples(gate, 3000, random_state=1)
    result = BatchEstimator(**FAST, random_state=0).fit_estimate(data.x1, data.x2, data.y)
    assert max_error(result, data.true_pid) < 0.02, result.atoms()
    result.check()


def test_and_gate_needs_a_learned_coupling_and_gets_it(and_result):
    result, plug_in = and_result
    # Conditional independence given Y (the untrained coupling) gives R = 0.08, S = 0.27. The reference is the
    # exact PID of the same held-out samples: 2,000 samples of AND alone move the plug-in PID by ~0.02 bits.
    assert max_error(result, plug_in) < 0.02, (result.atoms(), plug_in)
    assert max_error(result, CANONICAL["and"].expected()) < 0.04
    assert result.diagnostics.epochs["alignment"][0] > 0
    assert result.diagnostics.sinkhorn_converged


def test_latent_concept_within_005_bits():
    data = latent_concept(3000, dim1=32, dim2=48, random_state=0)
    result = BatchEstimator(**FAST, random_state=0).fit_estimate(data.x1, data.x2, data.y)
    assert max_error(result, data.true_pid) < 0.05, (result.atoms(), data.true_pid)
    assert result.total == pytest.approx(data.true_pid["total"], abs=0.05)


def test_user_classifiers_with_exact_posteriors_reproduce_the_closed_form():
    data = gate_samples("xor", 2000, random_state=2)

    def uniform(x):
        return np.full((len(x), 2), 0.5)

    def exact12(a, b):
        return np.eye(2)[(a[:, 0].astype(int) ^ b[:, 0].astype(int))]

    settings = dict(FAST, align_max_epochs=0)
    estimator = BatchEstimator(**settings, classifier1=uniform, classifier2=torch_uniform, classifier12=exact12)
    result = estimator.fit_estimate(data.x1, data.x2, data.y)
    assert result.synergy == pytest.approx(1.0, abs=2e-3) and result.redundancy == pytest.approx(0.0, abs=2e-3)
    assert result.diagnostics.epochs["x1"] == (0,) and result.diagnostics.epochs["x1x2"] == (0,)


def torch_uniform(x: np.ndarray) -> torch.Tensor:
    """A user classifier returning a torch tensor."""
    return torch.full((len(x), 2), 0.5)


# ---------------------------------------------------------------------------------------------- API and reporting


def test_result_reports_spread_diagnostics_and_pidresult_keys(and_result):
    result, _ = and_result
    flat = result.to_dict()
    discrete = ExactEstimator().estimate(CANONICAL["and"].pmf).to_dict()
    # Every key of the discrete result applies except the duality certificate.
    assert set(discrete) - {"certified", "duality_gap_bits"} <= set(flat)
    assert flat["units"] == "bits" and flat["estimator"] == "batch" and flat["solver"] == "sinkhorn"
    assert all(isinstance(v, (int, float, str, bool, type(None))) for v in flat.values())
    assert sum(result.atoms().values()) == pytest.approx(result.total, abs=1e-9)
    assert result.estimates.shape == (result.diagnostics.n_batches * result.n_seeds, len(PARTS))
    for part in PARTS:
        low, high = result.intervals[part]
        assert low <= getattr(result, part) <= high and result.std[part] >= 0
    d = result.diagnostics
    assert set(d.cross_entropy) == {"x1", "x2", "x1x2"} and d.cross_entropy_source == "held-out labels"
    assert not any(d.worse_than_prior.values()) and d.cross_entropy["x1x2"] < d.prior_cross_entropy
    assert d.sinkhorn_marginal_error <= d.sinkhorn_tol and d.device == "cpu"


def test_negative_parts_are_reported_not_clipped():
    base = {"unique1": 0.1, "unique2": 0.2, "synergy": 0.3, "std": dict.fromkeys(PARTS, 0.0)}
    result = BatchPIDResult(
        redundancy=-0.05, total=0.55, intervals=dict.fromkeys(PARTS, (0.0, 0.0)), estimates=np.zeros((1, 5)), **base
    )
    assert result.redundancy == -0.05 and result.negative_parts == ("redundancy",)
    assert result.to_dict()["negative_parts"] == "redundancy"
    with pytest.raises(EstimationError, match="redundancy"):
        result.check(negative_tol=0.01)


@pytest.mark.filterwarnings("ignore:classifier x1 is overconfident")
def test_fixed_seed_is_deterministic_on_cpu():
    data = latent_concept(600, dim1=8, dim2=8, n_redundant=1, n_unique1=0, n_unique2=1, n_synergy=0, random_state=4)
    settings = dict(FAST, max_epochs=5, align_max_epochs=2, batch_size=64, random_state=7)
    first = BatchEstimator(**settings).fit_estimate(data.x1, data.x2, data.y)
    second = BatchEstimator(**settings).fit_estimate(data.x1, data.x2, data.y)
    np.testing.assert_array_equal(first.estimates, second.estimates)
    other = BatchEstimator(**{**settings, "random_state": 8}).fit_estimate(data.x1, data.x2, data.y)
    assert not np.array_equal(first.estimates, other.estimates)


def test_seeds_and_progress_callback():
    data = gate_samples("unique1", 600, random_state=0)
    events = []
    estimator = BatchEstimator(
        **dict(FAST, max_epochs=3, align_max_epochs=1, batch_size=64),
        n_seeds=2,
        progress=lambda stage, epoch, total, loss: events.append((stage, epoch)),
    )
    result = estimator.fit_estimate(data.x1, data.x2, data.y)
    assert result.n_seeds == 2 and len(estimator.fitted_) == 2
    assert len(result.estimates) == 2 * result.diagnostics.n_batches
    assert ("classifier x1 (seed 1)", 1) in events and any(stage.startswith("alignment") for stage, _ in events)


def test_estimate_without_labels_uses_the_validation_split():
    data = gate_samples("xor", 800, random_state=0)
    estimator = BatchEstimator(**dict(FAST, max_epochs=10, align_max_epochs=0)).fit(
        data.x1[:600], data.x2[:600], data.y[:600]
    )
    result = estimator.estimate(data.x1[600:], data.x2[600:])
    assert result.diagnostics.cross_entropy_source == "validation split" and result.n_samples == 200


# ---------------------------------------------------------------------------------------------- guards


def test_unconverged_sinkhorn_is_flagged(and_result):
    data = gate_samples("and", 1500, random_state=3)
    estimator = BatchEstimator(**dict(FAST, max_epochs=20, align_max_epochs=5), sinkhorn_max_iter=1, sinkhorn_tol=1e-12)
    with pytest.warns(ConvergenceWarning, match="sinkhorn_max_iter"):
        result = estimator.fit_estimate(data.x1, data.x2, data.y)
    assert not result.diagnostics.sinkhorn_converged and result.to_dict()["status"] == "not converged"
    assert any("sinkhorn_max_iter" in w for w in result.diagnostics.warnings)


def test_classifier_worse_than_prior_is_flagged():
    data = gate_samples("unique1", 1000, random_state=0)

    def wrong(x):
        return np.eye(2)[1 - x[:, 0].astype(int)] * 0.98 + 0.01

    estimator = BatchEstimator(**dict(FAST, max_epochs=10, align_max_epochs=0), classifier1=wrong)
    with pytest.warns(UserWarning, match="classifier x1 is worse than the label prior"):
        result = estimator.fit_estimate(data.x1, data.x2, data.y)
    assert result.diagnostics.worse_than_prior == {"x1": True, "x2": False, "x1x2": False}
    assert result.to_dict()["worse_than_prior_x1"] is True


def test_batch_too_small_for_the_classes_is_flagged():
    data = latent_concept(400, dim1=4, dim2=4, n_redundant=2, n_unique1=1, n_unique2=1, n_synergy=0, random_state=0)
    estimator = BatchEstimator(**dict(FAST, max_epochs=2, align_max_epochs=0, batch_size=16, eval_batch_size=16))
    with pytest.warns(UserWarning, match="batch_size=16 is too small for 16 classes"):
        estimator.fit(data.x1, data.x2, data.y)


# ---------------------------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def fitted() -> BatchEstimator:
    data = gate_samples("xor", 300, random_state=0)
    return BatchEstimator(**dict(FAST, max_epochs=2, align_max_epochs=0)).fit(data.x1, data.x2, data.y)


def test_bad_samples_are_rejected_with_a_message_naming_the_problem():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 3)), rng.integers(0, 2, 100)
    est = BatchEstimator(**FAST)
    nan = x.copy()
    nan[5, 1] = np.nan
    with pytest.raises(InvalidJointError, match=r"x1 contains NaN or inf .*sample 5"):
        est.fit(nan, x, y)
    with pytest.raises(InvalidJointError, match="lengths"):
        est.fit(x, x[:90], y)
    with pytest.raises(InvalidJointError, match="single class"):
        est.fit(x, x, np.zeros(100, dtype=int))
    with pytest.raises(InvalidJointError, match="2-D"):
        est.fit(x.reshape(100, 3, 1), x, y)
    with pytest.raises(InvalidJointError, match="y must be 1-D"):
        est.fit(x, x, y[:, None])
    with pytest.raises(InvalidJointError, match="too few samples"):
        est.fit(x[:10], x[:10], y[:10])
    with pytest.raises(InvalidJointError, match="y contains NaN"):
        est.fit(x, x, np.where(y == 0, np.nan, 1.0))
    with pytest.raises(EstimationError, match="not fitted"):
        est.estimate(x, x)


def test_estimate_rejects_inputs_unlike_the_training_data(fitted):
    x = np.zeros((50, 1))
    with pytest.raises(InvalidJointError, match="x2 has 3 features, but the estimator was fitted on 1"):
        fitted.estimate(x, np.zeros((50, 3)))
    with pytest.raises(InvalidJointError, match="labels not seen by fit: \\[7\\]"):
        fitted.estimate(x, x, np.full(50, 7))
    with pytest.raises(InvalidJointError, match="too few samples"):
        fitted.estimate(x[:1], x[:1])


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"batch_size": 1}, "batch_size must be an integer >= 2"),
        ({"hidden_dim": 0}, "hidden_dim"),
        ({"max_epochs": 2.5}, "max_epochs"),
        ({"learning_rate": -1.0}, "learning_rate must be a positive number"),
        ({"sinkhorn_tol": 0.0}, "sinkhorn_tol"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"device": "tpu"}, "device must be 'auto', 'cpu', 'cuda'"),
        ({"classifier1": "model.pt"}, "classifier1 must be None or a callable"),
        ({"eval_batch_size": 1}, "eval_batch_size"),
        ({"random_state": None}, "random_state must be an integer"),
    ],
)
def test_bad_settings_raise_config_error_at_fit(setting, match):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), rng.integers(0, 2, 60)
    estimator = BatchEstimator(**{**FAST, **setting})  # construction only stores
    with pytest.raises(ConfigError, match=match):
        estimator.fit(x, x, y)


def test_user_classifier_with_wrong_output_is_a_config_error():
    data = gate_samples("xor", 200, random_state=0)

    def three_columns(x):
        return np.full((len(x), 3), 1 / 3)

    with pytest.raises(ConfigError, match=r"classifier1 returned shape \(\d+, 3\); expected"):
        BatchEstimator(**FAST, classifier1=three_columns).fit(data.x1, data.x2, data.y)

    def logits(x):
        return np.full((len(x), 2), 3.0)

    with pytest.raises(ConfigError, match="softmax"):
        BatchEstimator(**FAST, classifier2=logits).fit(data.x1, data.x2, data.y)


def test_cuda_requested_without_cuda_is_a_config_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        BatchEstimator(device="cuda").fit(np.zeros((30, 1)), np.zeros((30, 1)), np.arange(30) % 2)


# ---------------------------------------------------------------------------------------------- devices and size


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_the_targets_and_the_cpu():
    data = gate_samples("and", 4000, random_state=3)
    gpu = BatchEstimator(**{**FAST, "device": "cuda"}).fit_estimate(data.x1, data.x2, data.y)
    assert gpu.diagnostics.device.startswith("cuda")
    assert max_error(gpu, data.true_pid) < 0.02, gpu.atoms()
    latent = latent_concept(3000, dim1=32, dim2=48, random_state=0)
    result = BatchEstimator(**{**FAST, "device": "auto"}).fit_estimate(latent.x1, latent.x2, latent.y)
    assert result.diagnostics.device.startswith("cuda") and max_error(result, latent.true_pid) < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("dim", [32, 512])
def test_latent_concept_at_benchmark_size_with_defaults(dim):
    data = latent_concept(10_000, dim1=dim, dim2=dim, random_state=0)
    result = BatchEstimator(device="cpu").fit_estimate(data.x1, data.x2, data.y)
    tolerance = max(0.05, 0.1 * data.true_pid["total"])
    assert max_error(result, data.true_pid) < 0.05 <= tolerance, result.atoms()
