"""Predictive properties of the Bayesian MLPs, tested against oracles.

Each test compares with an independent computation (moments of the draws, a
closed form, the generating process of the data) and is written so that a
plausible bug makes it fail.
"""

import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import norm

from skbdl.inference import MAP, METHODS, Ensemble, MCDropout
from skbdl.neural_network import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.priors import GaussianPrior
from skbdl.utils._torch import to_tensor

import scenarios

rng = np.random.RandomState(0)
X = rng.uniform(-2, 2, size=(80, 2))
y_clf = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
y_reg = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.randn(80)
X_test = np.vstack([X[:10], rng.uniform(-6, 6, size=(10, 2))])


def _method(name):
    method = METHODS[name]()
    if "n_members" in method.get_params():
        method.set_params(n_members=3)
    return method


def _clf(method, **params):
    params = {
        "hidden_layer_sizes": (16,),
        "max_epochs": 50,
        "random_state": 0,
        **params,
    }
    return BayesianMLPClassifier(method=method, **params).fit(X, y_clf)


def _reg(method, **params):
    params = {
        "hidden_layer_sizes": (16,),
        "max_epochs": 50,
        "random_state": 0,
        **params,
    }
    return BayesianMLPRegressor(method=method, **params).fit(X, y_reg)


def _entropy(p, axis):
    return -(p * np.log(p)).sum(axis=axis)


# ------------------------------------------------------------- classifier
@pytest.mark.parametrize("name", list(METHODS))
def test_proba_is_a_distribution(name):
    clf = _clf(_method(name))
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3) and proba.dtype == np.float64
    assert (proba >= 0).all() and (proba <= 1).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    samples = clf.predict_proba_samples(X_test, n_samples=4)
    assert samples.shape == (len(X_test), 3, 4)
    assert_allclose(samples.sum(axis=1), 1.0, rtol=1e-6)
    assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(axis=1)])


@pytest.mark.parametrize("name", list(METHODS))
def test_proba_is_mean_of_draws(name):
    clf = _clf(_method(name))
    proba = clf.predict_proba(X_test)
    method = clf.method_
    if not method.closed_form:
        # Monte-Carlo predictive: the very same draws.
        samples = clf.predict_proba_samples(X_test)
        assert samples.shape[-1] == method.default_n_samples
        assert_allclose(proba, samples.mean(axis=-1), rtol=1e-6, atol=1e-7)
        if isinstance(method, Ensemble):
            # Ensemble: a multiple of n_members draws is the exact mixture.
            more = clf.predict_proba_samples(X_test, n_samples=4 * method.n_members)
            assert_allclose(proba, more.mean(axis=-1), rtol=1e-6, atol=1e-7)
        return
    with torch.no_grad():
        mean, var = method.predict_f(to_tensor(X_test))
    if float(var.abs().max()) == 0:
        # A point estimate: every draw is the mean function.
        samples = clf.predict_proba_samples(X_test, n_samples=3)
        assert_allclose(proba, samples.mean(axis=-1), rtol=1e-6, atol=1e-7)
        return
    # Closed form with spread: the probit approximation of E[softmax(f)] on
    # the latent moments (its error is the approximation's, up to ~0.1 for
    # three classes far from the data, so it is not compared with the draws;
    # the moments themselves are checked against sample_f in test_contract).
    expected = (
        torch.softmax(mean / torch.sqrt(1 + math.pi / 8 * var), -1).double().numpy()
    )
    assert_allclose(proba, expected / expected.sum(1, keepdims=True), rtol=1e-6)


def test_map_has_no_epistemic_uncertainty():
    clf = _clf(MAP())
    assert_array_equal(clf.predict_std(X_test), 0.0)
    unc = clf.predict_uncertainty(X_test)
    assert_array_equal(unc.epistemic, 0.0)
    assert_allclose(unc.total, _entropy(clf.predict_proba(X_test), axis=1), rtol=1e-6)
    reg = _reg(MAP())
    unc = reg.predict_uncertainty(X_test)
    assert_array_equal(unc.epistemic, 0.0)
    assert_allclose(reg.predict_std(X_test) ** 2, unc.aleatoric, rtol=1e-12)


@pytest.mark.parametrize("name", list(METHODS))
def test_classifier_uncertainty_decomposition(name):
    clf = _clf(_method(name))
    unc = clf.predict_uncertainty(X_test)
    draws = clf.predict_proba_samples(X_test)
    # By hand: entropy of the mean, mean entropy, mutual information.
    total = _entropy(draws.mean(axis=-1), axis=1)
    aleatoric = _entropy(draws, axis=1).mean(axis=-1)
    assert_allclose(unc.total, total, rtol=1e-9, atol=1e-12)
    assert_allclose(unc.aleatoric, aleatoric, rtol=1e-9, atol=1e-12)
    assert_allclose(unc.total, unc.aleatoric + unc.epistemic, rtol=1e-12)
    assert (unc.epistemic >= 0).all()
    assert (unc.aleatoric >= 0).all() and (unc.total <= math.log(3) + 1e-9).all()
    assert_allclose(clf.predict_std(X_test), draws.std(axis=-1), rtol=1e-12)


@pytest.mark.parametrize(
    "method", [Ensemble(n_members=3), MCDropout(p=0.2)], ids=["ensemble", "mc_dropout"]
)
def test_epistemic_positive_for_spread_methods(method):
    clf = _clf(method)
    unc = clf.predict_uncertainty(X_test)
    assert (unc.epistemic > 0).all()
    assert (clf.predict_std(X_test).max(axis=1) > 0).all()
    reg = _reg(method)
    unc = reg.predict_uncertainty(X_test)
    assert (unc.epistemic > 0).all()


def test_mc_dropout_repeated_calls_identical_and_draws_differ():
    clf = _clf(MCDropout(p=0.3, n_samples=16))
    a = clf.predict_proba_samples(X_test)
    assert_array_equal(a, clf.predict_proba_samples(X_test))
    assert_array_equal(clf.predict_proba(X_test), clf.predict_proba(X_test))
    # different masks per draw, the same mask for every row of a draw
    assert a.shape[-1] == 16
    assert len({a[:, :, s].tobytes() for s in range(16)}) == 16
    reg = _reg(MCDropout(p=0.3))
    assert_array_equal(
        reg.predict(X_test, return_std=True), reg.predict(X_test, return_std=True)
    )
    assert_array_equal(
        reg.sample_y(X_test, 7, random_state=3), reg.sample_y(X_test, 7, random_state=3)
    )
    assert not np.array_equal(
        reg.sample_y(X_test, 7, random_state=3), reg.sample_y(X_test, 7, random_state=4)
    )


# -------------------------------------------------------------- regressor
@pytest.mark.parametrize("name", list(METHODS))
def test_regressor_std_is_total_variance(name):
    reg = _reg(_method(name))
    mean, std = reg.predict(X_test, return_std=True)
    unc = reg.predict_uncertainty(X_test)
    assert_allclose(std**2, unc.aleatoric + unc.epistemic, rtol=1e-10)
    assert_allclose(unc.total, unc.aleatoric + unc.epistemic, rtol=1e-12)
    assert (unc.aleatoric > 0).all() and (unc.epistemic >= 0).all()
    assert_allclose(reg.predict_std(X_test), std, rtol=1e-12)
    assert_array_equal(reg.predict(X_test), mean)


@pytest.mark.parametrize("name", list(METHODS))
def test_sample_y_moments_match_predict(name):
    reg = _reg(_method(name))
    n = 4000
    if not reg.method_.closed_form and not isinstance(reg.method_, Ensemble):
        # A Monte-Carlo predictive: give it as many draws as sample_y gets.
        reg.set_params(n_samples=n)
    mean, std = reg.predict(X_test, return_std=True)
    draws = reg.sample_y(X_test, n_samples=n, random_state=0)
    assert draws.shape == (len(X_test), n)
    # Standard errors of the sample mean and (roughly) of the sample std; the
    # predict side is itself an n-draw estimate, hence the factor sqrt(2).
    kurt = ((draws - draws.mean(1, keepdims=True)) ** 4).mean(1) / draws.var(1) ** 2
    se_mean = std * math.sqrt(2.0 / n)
    se_std = std * np.sqrt((kurt - 1) / (4 * n)) * math.sqrt(2.0)
    assert np.all(np.abs(draws.mean(axis=1) - mean) <= 5 * se_mean)
    assert np.all(np.abs(draws.std(axis=1) - std) <= 5 * se_std)


def test_predict_interval_is_mean_pm_z_std():
    reg = _reg(Ensemble(n_members=2))
    mean, std = reg.predict(X_test, return_std=True)
    interval = reg.predict_interval(X_test, confidence=0.95)
    assert interval.shape == (len(X_test), 2)
    assert_allclose(interval[:, 0], mean - 1.959963984540054 * std, rtol=1e-12)
    assert_allclose(interval[:, 1], mean + 1.959963984540054 * std, rtol=1e-12)
    half = reg.predict_interval(X_test, confidence=0.5)
    assert_allclose(half[:, 1] - half[:, 0], 2 * norm.ppf(0.75) * std, rtol=1e-12)


def test_heteroscedastic_noise_follows_the_data():
    r = np.random.RandomState(1)
    x = r.uniform(-2, 2, size=(400, 1))
    noise = np.where(x[:, 0] < 0, 0.05, 0.5)
    y = x[:, 0] + noise * r.randn(400)
    reg = BayesianMLPRegressor(
        hidden_layer_sizes=(32,), heteroscedastic=True, lr=1e-2, random_state=0
    ).fit(x, y)
    left = np.sqrt(reg.predict_uncertainty([[-1.5], [-1.0], [-0.5]]).aleatoric)
    right = np.sqrt(reg.predict_uncertainty([[0.5], [1.0], [1.5]]).aleatoric)
    assert right.min() >= 3 * left.max(), (left, right)
    # and the levels are roughly right
    assert 0.3 < right.mean() < 0.8 and left.mean() < 0.15
    # homoscedastic: one noise level everywhere
    homo = BayesianMLPRegressor(
        hidden_layer_sizes=(8,), max_epochs=20, random_state=0
    ).fit(x, y)
    aleatoric = homo.predict_uncertainty(x).aleatoric
    assert_allclose(aleatoric, aleatoric[0], rtol=1e-12)


def test_homoscedastic_noise_recovers_the_truth():
    r = np.random.RandomState(2)
    x = r.normal(size=(400, 1))
    y = 2 * x[:, 0] + 0.5 * r.randn(400)
    reg = BayesianMLPRegressor(hidden_layer_sizes=(), lr=1e-2, random_state=0).fit(x, y)
    sigma = np.sqrt(reg.predict_uncertainty(x[:3]).aleatoric)
    assert np.all((0.4 <= sigma) & (sigma <= 0.6)), sigma
    mean = reg.predict(np.array([[-1.0], [0.0], [1.0]]))
    assert_allclose(mean, [-2.0, 0.0, 2.0], atol=0.15)


# ------------------------------------------------- the prior is weight decay
def test_gaussian_prior_map_is_ridge():
    r = np.random.RandomState(3)
    n, s = 200, 0.05
    x = r.normal(size=(n, 3))
    y = x @ [1.0, -2.0, 0.5] + 0.3 + 0.5 * r.randn(n)
    reg = BayesianMLPRegressor(
        hidden_layer_sizes=(),
        method="map",
        prior=GaussianPrior(scale=s),
        batch_size=n,
        max_epochs=3000,
        lr=1e-2,
        random_state=0,
        noise_estimate="train",  # the joint optimum on all rows, noise included
    ).fit(x, y)
    module = reg.method_.module_
    w = torch.cat([module.head.weight[0], module.head.bias]).detach().double().numpy()
    noise_var = float(reg.method_.likelihood_.noise_var[0])
    # Closed form on the standardised targets, with the learned noise fixed:
    # (A^T A + sigma^2 / s^2 I) w = A^T y, A = [x, 1]: the bias is a weight too.
    y_std = (y - y.mean()) / y.std()
    A = scenarios.with_bias(x.astype(np.float32))
    # the MAP of Bayesian linear regression is its posterior mean
    ridge = scenarios.blr_posterior(A, y_std, 1 / s**2, noise_var)[0]
    ols = np.linalg.lstsq(A, y_std, rcond=None)[0]
    assert np.abs(ridge - ols).max() > 0.05  # the prior matters here
    assert_allclose(w, ridge, atol=2e-3)
    # and the learned noise is the mean squared residual (its own stationarity)
    assert_allclose(noise_var, np.mean((y_std - A @ w) ** 2), rtol=1e-2)


def test_map_classifier_energy_is_stationary():
    # Energy per row: mean NLL + ||w||^2 / (2 N s^2), the minibatch energy divided
    # by N. At the MAP
    # its gradient vanishes; the gradient of the NLL alone does not.
    n, s = len(X), 0.3
    clf = BayesianMLPClassifier(
        hidden_layer_sizes=(),
        method="map",
        prior=s,
        batch_size=n,
        max_epochs=3000,
        lr=1e-2,
        random_state=0,
    ).fit(X, y_clf)
    module = clf.method_.module_
    params = [module.head.weight, module.head.bias]
    Xt = to_tensor(X)
    yt = torch.as_tensor(y_clf)

    def grad_norm(with_prior):
        nll = torch.nn.functional.cross_entropy(module(Xt), yt)
        energy = nll + with_prior * sum((p**2).sum() for p in params) / (2 * n * s**2)
        grads = torch.autograd.grad(energy, params)
        return float(torch.sqrt(sum((g**2).sum() for g in grads)))

    assert grad_norm(1.0) < 1e-3
    assert grad_norm(0.0) > 1e-2
    assert grad_norm(2.0) > 1e-2  # a prior counted twice is not stationary either
