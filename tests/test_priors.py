"""Prior objects (``skbdl/priors.py``): LaplacePrior against its density, its
moments and the Gaussian prior of equal variance."""

import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from scipy import stats

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.inference import Laplace
from skbdl.priors import GaussianPrior, LaplacePrior, SpikeAndSlabPrior
from skbdl.utils._torch import make_generator

import oracles


# ---------------------------------------------------------------------------
# The only skbdl internal used here (adapt when it moves).
def _spy_on_evidence_maximisation(monkeypatch):
    """Record the arguments of the marginal-likelihood maximisation behind
    ``Laplace(prior_precision="marglik")``; returns the list of calls."""
    from skbdl.inference import _laplace

    calls = []
    original = _laplace.maximize_evidence

    def spy(evidence, log_delta0, log_s0, tune_s):
        result = original(evidence, log_delta0, log_s0, tune_s)
        calls.append({"log_delta0": np.array(log_delta0, dtype=float),
                      "log_delta": np.array(result[0], dtype=float)})
        return result

    monkeypatch.setattr(_laplace, "maximize_evidence", spy)
    return calls
# ---------------------------------------------------------------------------


rng = np.random.RandomState(0)
X_SPARSE = rng.randn(200, 10)
Y_SPARSE = 2 * X_SPARSE[:, 0] - X_SPARSE[:, 1] + 0.5 * rng.randn(200)  # 8 unused


def test_laplace_prior_density():
    prior = LaplacePrior(scale=0.3)
    w = torch.tensor([-1.0, -0.1, 0.0, 0.2, 2.5], dtype=torch.float64)
    # -log p(w) up to a constant: sum |w| / b
    logpdf = stats.laplace(scale=0.3).logpdf(w.numpy())
    expected = -(logpdf - stats.laplace(scale=0.3).logpdf(0.0)).sum()
    assert float(prior.neg_log_prob([w])) == pytest.approx(expected, rel=1e-12)
    assert float(prior.neg_log_prob([w[:2], w[2:]])) == pytest.approx(expected,
                                                                       rel=1e-12)
    # the precision of the Gaussian with the same variance 2 b^2
    assert prior.precision == pytest.approx(1 / (2 * 0.3**2), rel=1e-15)


def test_laplace_prior_sample_moments():
    """Laplace(0, b): mean 0, variance 2 b^2, E|w| = b, fourth moment 24 b^4.
    Tolerances are 5 standard errors of the n-draw estimates: sqrt(2 b^2 / n)
    for the mean, sqrt((24 - 4) b^4 / n) for the variance, b / sqrt(n) for
    E|w| (Var|w| = 2 b^2 - b^2); the Kolmogorov-Smirnov distance to the CDF
    stays below its 0.1 % critical value sqrt(ln(2 / 0.001) / 2) / sqrt(n)."""
    b, n = 0.7, 20000
    w = LaplacePrior(scale=b).sample((n,), make_generator(0)).double().numpy()
    assert abs(w.mean()) <= 5 * math.sqrt(2 * b**2 / n)
    assert abs(w.var() - 2 * b**2) <= 5 * math.sqrt(20 * b**4 / n)
    assert abs(np.abs(w).mean() - b) <= 5 * b / math.sqrt(n)
    ks = stats.kstest(w, stats.laplace(scale=b).cdf).statistic
    assert ks <= math.sqrt(math.log(2 / 0.001) / 2) / math.sqrt(n)
    # a shape, a seed: the same draws
    again = LaplacePrior(scale=b).sample((n,), make_generator(0)).double().numpy()
    np.testing.assert_array_equal(w, again)
    assert LaplacePrior().sample((2, 3), make_generator(0)).shape == (2, 3)


def test_map_with_a_strong_laplace_prior_is_sparse():
    """A linear model with 2 used and 8 unused features. At equal prior
    variance (Gaussian scale sqrt(2) b), the L1 prior keeps the two large
    weights and puts the others near 0; the L2 prior shrinks all of them in
    proportion. Adam never lands on an exact 0 (no proximal step), so "small"
    is relative: |w| <= 2 % of the largest weight."""
    b = 0.02
    weights = {}
    for name, prior in [("laplace", LaplacePrior(b)),
                        ("gaussian", GaussianPrior(math.sqrt(2) * b))]:
        reg = BayesianMLPRegressor((), method="map", prior=prior, max_epochs=500,
                                   batch_size=200, lr=1e-2, random_state=0)
        reg.fit(X_SPARSE, Y_SPARSE)
        (W, b_head), = oracles.mlp_layers(reg.method_.module_)[0]
        weights[name] = np.concatenate([W[0], b_head])
    small = {k: int((np.abs(w) <= 0.02 * np.abs(w).max()).sum())
             for k, w in weights.items()}
    assert small["laplace"] >= 8  # the unused features (and the bias)
    assert small["laplace"] >= small["gaussian"] + 4
    # the two used features are the largest weights under the L1 prior
    assert set(np.argsort(-np.abs(weights["laplace"]))[:2]) == {0, 1}


def test_laplace_prior_precision_starts_the_marglik_search(monkeypatch):
    calls = _spy_on_evidence_maximisation(monkeypatch)
    X, y = X_SPARSE[:40, :3], (X_SPARSE[:40, 0] > 0).astype(int)
    b = 0.25
    clf = BayesianMLPClassifier((6,), prior=LaplacePrior(b), max_epochs=3,
                                random_state=0,
                                method=Laplace(prior_precision="marglik"))
    clf.fit(X, y)
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0]["log_delta0"], [math.log(1 / (2 * b**2))],
                               rtol=1e-15)
    np.testing.assert_allclose(np.log(clf.method_.prior_precision_),
                               calls[0]["log_delta"], rtol=1e-15)


def test_laplace_prior_precision_starts_the_online_precisions():
    """``prior_precision="online"`` starts from the prior's precision: with one
    update of one Adam step of size 1e-9 (Adam's first step is at most its
    learning rate), the learned precision is still 1 / (2 b^2)."""
    X, y = X_SPARSE[:40, :3], (X_SPARSE[:40, 0] > 0).astype(int)
    b = 0.25
    method = Laplace(prior_precision="online", online_burnin=100, online_steps=1,
                     online_lr=1e-9)
    clf = BayesianMLPClassifier((6,), prior=LaplacePrior(b), max_epochs=3,
                                random_state=0, method=method).fit(X, y)
    assert clf.method_.n_marglik_updates_ == 1  # the final weights only
    np.testing.assert_allclose(np.log(clf.method_.prior_precision_),
                               [math.log(1 / (2 * b**2))], atol=2e-9)


def test_gradient_falls_back_to_autograd():
    # a prior without a closed form (here a subclass that only defines the
    # density) still gets the gradient of its density, member by member
    from skbdl.priors._elementwise import _BasePrior

    class Quartic(GaussianPrior):
        def _neg_log_prob(self, param):
            return param.pow(4).sum()

        _batched_energy = _BasePrior._batched_energy

    t = torch.tensor([[[1.0, -2.0]], [[0.5, 0.0]]], dtype=torch.float64)
    grad = torch.ones_like(t)  # the gradient is added, times alpha
    step, values = Quartic()._batched_energy()
    value = values([step(t, grad, 2.0)])[0]
    assert_allclose(value.numpy(), [1 + 16, 0.0625])
    assert_allclose(grad.numpy(), 1 + 2 * 4 * t.numpy() ** 3)


@pytest.mark.parametrize("prior", [
    GaussianPrior(0.7), GaussianPrior(0.7, mean=0.3),
    GaussianPrior(scale=[1.0, 2.0, 3.0, 4.0], mean=[0.0, 0.2, -0.1, 0.0]),
    LaplacePrior(0.5),
    SpikeAndSlabPrior([0.9, 0.1, 0.5, 0.5], scale=[1.0, 2.0, 1.0, 0.5]),
    SpikeAndSlabPrior(0.3, scale=2.0, mean=[0.1, 0.0, -0.2, 0.3], spike_scale=0.05),
    SpikeAndSlabPrior([0.9, 0.1, 0.5, 0.5], scale=2.0, spike_scale=0.05),
    # a wide spike: responsibilities of 0.05-0.1, far from saturated
    SpikeAndSlabPrior(0.5, scale=1.0, spike_scale=0.5),
], ids=lambda p: repr(p))
def test_batched_gradient_equals_autograd_per_member(prior):
    # the fused path's form: one call for S stacked members (S, out, in).
    # Closed form and autograd evaluate the same float64 expression in a
    # different order: they agree to ~1e-15 relative, so 1e-12 / 1e-10 (the
    # gradient's near-cancelling mixture terms) only allow for rounding.
    t = 0.3 * torch.randn(3, 5, 4, generator=make_generator(0), dtype=torch.float64)
    grad = torch.full_like(t, 0.25)  # the gradient is added, times alpha
    step, values = prior._batched_energy()
    kept = [step(t, grad, 0.5), step(2 * t, torch.zeros_like(t), 1.0)]
    value, value_2t = values(kept)  # the values of both steps, in order
    grad = (grad - 0.25) / 0.5
    for k in range(3):
        leaf = t[k].clone().requires_grad_()
        expected = prior._neg_log_prob(leaf)
        (expected_grad,) = torch.autograd.grad(expected, leaf)
        assert float(value[k]) == pytest.approx(float(expected), rel=1e-12)
        assert float(value_2t[k]) == pytest.approx(
            float(prior._neg_log_prob(2 * t[k])), rel=1e-12)
        assert_allclose(grad[k].numpy(), expected_grad.numpy(), rtol=1e-10,
                        atol=1e-12)
