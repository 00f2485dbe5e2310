"""Priors that carry knowledge (issue 12): SpikeAndSlabPrior, LayerwisePrior,
per-feature GaussianPrior and UniformPrior against scipy's densities, their
draws against the distributions, their parameters in clone / GridSearchCV,
their errors, and what they do in a fit."""

import math

import numpy as np
import pytest
import torch
from scipy import optimize, stats
from scipy.special import logsumexp, softmax
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.priors import (
    GaussianPrior,
    LayerwisePrior,
    SpikeAndSlabPrior,
    UniformPrior,
)
from skbdl.utils._torch import make_generator

KS_CRIT = math.sqrt(math.log(2 / 0.001) / 2)  # 0.1 % Kolmogorov-Smirnov level


def _ks_ok(x, cdf):
    return stats.kstest(x, cdf).statistic <= KS_CRIT / math.sqrt(len(x))


# ------------------------------------------------------------------ densities
def test_gaussian_per_feature_density_matches_scipy():
    """-log p = -sum logpdf - sum log(scale sqrt(2 pi)) (the omitted constant)."""
    rng = np.random.RandomState(0)
    W = rng.randn(4, 3) * 2
    mean, scale = np.array([0.5, -1.0, 2.0]), np.array([0.3, 1.0, 4.0])
    prior = GaussianPrior(scale=scale, mean=mean)
    value = float(prior.neg_log_prob([torch.tensor(W)]))
    logpdf = stats.norm(mean, scale).logpdf(W)  # broadcast over columns
    const = W.shape[0] * np.log(scale * np.sqrt(2 * np.pi)).sum()
    assert value == pytest.approx(-logpdf.sum() - const, rel=1e-10, abs=1e-10)


def _spike_slab_by_hand(W, rho, mean, scale, s0):
    """sum_i log(rho_i prod_j N(W_ji; mu_i, s_i^2) + (1 - rho_i) prod_j
    N(W_ji; 0, s0^2)), one two-component mixture per column, with scipy."""
    total, inclusion = 0.0, []
    for i in range(W.shape[1]):
        slab = stats.norm(mean[i], scale[i]).logpdf(W[:, i]).sum()
        spike = stats.norm(0, s0).logpdf(W[:, i]).sum()
        with np.errstate(divide="ignore"):
            a, b = np.log(rho[i]) + slab, np.log(1 - rho[i]) + spike
        total += logsumexp([a, b])
        inclusion.append(np.exp(a - logsumexp([a, b])))
    return total, np.array(inclusion)


def test_spike_and_slab_density_is_the_group_mixture():
    rng = np.random.RandomState(1)
    W = rng.randn(5, 6) * np.array([1.0, 0.02, 0.5, 0.01, 0.03, 2.0])
    rho = np.array([0.5, 0.2, 0.9, 0.0, 1.0, 0.3])
    mean = np.array([0.0, 0.1, -0.2, 0.0, 0.0, 1.0])
    scale = np.array([1.0, 0.5, 2.0, 1.0, 0.7, 1.5])
    prior = SpikeAndSlabPrior(inclusion_prob=rho, scale=scale, mean=mean,
                              spike_scale=0.02)
    expected, inclusion = _spike_slab_by_hand(W, rho, mean, scale, 0.02)
    Wt = torch.tensor(W)
    assert float(prior.neg_log_prob([Wt])) == pytest.approx(-expected, rel=1e-10)
    got = prior.inclusion_probability(Wt).numpy()
    np.testing.assert_allclose(got, inclusion, rtol=1e-10, atol=1e-12)
    assert got[3] == 0.0 and got[4] == 1.0  # rho = 0 and rho = 1
    # stacked draws (S, out, in): one inclusion per draw and feature
    stacked = prior.inclusion_probability(torch.stack([Wt, 10 * Wt]))
    assert stacked.shape == (2, 6)
    np.testing.assert_allclose(stacked[0].numpy(), inclusion, rtol=1e-10, atol=1e-12)
    # the gradient of the relaxed density is correct (finite differences)
    Wg = torch.tensor(W[:, :3] + 0.1, requires_grad=True)
    prior3 = SpikeAndSlabPrior(inclusion_prob=rho[:3], scale=scale[:3],
                               mean=mean[:3], spike_scale=0.2)
    assert torch.autograd.gradcheck(lambda w: prior3.neg_log_prob([w]), (Wg,))


def test_uniform_density_matches_scipy():
    prior = UniformPrior(-0.5, 2.0)
    w = np.array([-0.5, 0.0, 1.3, 2.0])
    expected = -stats.uniform(-0.5, 2.5).logpdf(w).sum()
    assert float(prior.neg_log_prob([torch.tensor(w)])) == pytest.approx(
        expected, rel=1e-12)
    assert float(prior.neg_log_prob([torch.tensor([0.0, 2.5])])) == math.inf


def test_layerwise_density_is_the_sum_of_its_parts():
    rng = np.random.RandomState(2)
    layers = [(rng.randn(4, 3), rng.randn(4)), (rng.randn(2, 4), rng.randn(2))]
    prior = LayerwisePrior(
        input=GaussianPrior(scale=[0.5, 1.0, 2.0]),
        output_bias=GaussianPrior(mean=[-1.0, 1.0], scale=0.2),
        default=GaussianPrior(0.7),
    )
    t = [(torch.tensor(w), torch.tensor(b)) for w, b in layers]

    def gauss(x, m, s):  # -log N up to the documented constant
        return (0.5 * ((x - m) / s) ** 2).sum()

    expected = (gauss(layers[0][0], 0, np.array([0.5, 1.0, 2.0]))
                + gauss(layers[0][1], 0, 0.7) + gauss(layers[1][0], 0, 0.7)
                + gauss(layers[1][1], np.array([-1.0, 1.0]), 0.2))
    assert float(prior.neg_log_prob_layers(t)) == pytest.approx(expected, rel=1e-12)
    # a spike-and-slab prior alone is its LayerwisePrior with N(0, 1) elsewhere
    sas = SpikeAndSlabPrior(inclusion_prob=0.3)
    alone = float(sas.neg_log_prob_layers(t))
    by_hand = (-_spike_slab_by_hand(layers[0][0], [0.3] * 3, [0] * 3, [1] * 3,
                                    0.01)[0]
               + gauss(layers[0][1], 0, 1) + gauss(layers[1][0], 0, 1)
               + gauss(layers[1][1], 0, 1))
    assert alone == pytest.approx(by_hand, rel=1e-10)
    with pytest.raises(TypeError, match="neg_log_prob_layers"):
        prior.neg_log_prob([t[0][0]])


# ---------------------------------------------------------------------- draws
def test_gaussian_per_feature_and_uniform_draws():
    n = 20000
    mean, scale = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    w = GaussianPrior(scale=scale, mean=mean).sample((n, 2), make_generator(0))
    for i in range(2):
        assert _ks_ok(w[:, i].double().numpy(), stats.norm(mean[i], scale[i]).cdf)
    u = UniformPrior(-0.5, 2.0).sample((n,), make_generator(0)).double().numpy()
    assert _ks_ok(u, stats.uniform(-0.5, 2.5).cdf)
    assert u.min() >= -0.5 and u.max() <= 2.0


def test_spike_and_slab_draws_share_one_indicator_per_column():
    """Each weight is the mixture rho N(mu, s^2) + (1 - rho) N(0, s0^2), and
    all weights of a column come from the same component."""
    rho, mu, s, s0 = 0.3, 0.5, 1.0, 1e-3
    prior = SpikeAndSlabPrior(inclusion_prob=rho, mean=mu, scale=s, spike_scale=s0)
    S, H, D = 4000, 5, 3
    W = prior.sample((S, H, D), make_generator(0)).double().numpy()
    x = W[:, 0, :].ravel()
    def cdf(v):
        return rho * stats.norm(mu, s).cdf(v) + (1 - rho) * stats.norm(0, s0).cdf(v)
    assert _ks_ok(x, cdf)
    # a weight is "small" below 10 s0: always under the spike (10 sigma), with
    # probability p under the slab; with one indicator per column, a column
    # is all small with probability (1 - rho) + rho p^H and mixed with
    # rho (1 - (1 - p)^H - p^H) (independent weights would mix far more)
    small = np.abs(W) < 10 * s0
    p = stats.norm(mu, s).cdf(10 * s0) - stats.norm(mu, s).cdf(-10 * s0)
    all_small = small.all(axis=1).ravel()
    mixed = (small.any(axis=1) & ~small.all(axis=1)).ravel()
    for observed, prob in [(all_small, 1 - rho + rho * p**H),
                           (mixed, rho * (1 - (1 - p) ** H - p**H))]:
        assert abs(observed.mean() - prob) <= 5 * math.sqrt(prob * (1 - prob) / (S * D))
    again = prior.sample((S, H, D), make_generator(0)).double().numpy()
    np.testing.assert_array_equal(W, again)


def test_layerwise_sample_layers_draw_each_part():
    prior = LayerwisePrior(output_bias=GaussianPrior(mean=[-3.0, 3.0], scale=0.1),
                           default=UniformPrior(-1.0, 1.0))
    layers = prior.sample_layers([3, 4, 2], 5000, make_generator(0))
    assert [tuple(t.shape) for wb in layers for t in wb] == [
        (5000, 4, 3), (5000, 4), (5000, 2, 4), (5000, 2)]
    b_out = layers[-1][1].double().numpy()
    np.testing.assert_allclose(b_out.mean(0), [-3.0, 3.0], atol=5 * 0.1 / 70)
    w = layers[0][0].double().numpy().ravel()
    assert _ks_ok(w, stats.uniform(-1, 2).cdf)


def test_prior_predictive_under_a_uniform_prior():
    """f = w.x + b, w_i, b ~ U(l, h): mean (l + h) / 2 (sum x + 1), variance
    (h - l)^2 / 12 (|x|^2 + 1); within 5 standard errors."""
    X = np.array([[0.0, 0.0], [1.0, -2.0], [3.0, 0.5]])
    low, high = 0.0, 2.0
    reg = BayesianMLPRegressor((), prior=UniformPrior(low, high))
    f = reg.sample_prior_predictive(X, n_samples=8000, random_state=0)
    mean = (low + high) / 2 * (X.sum(1) + 1)
    var = (high - low) ** 2 / 12 * ((X**2).sum(1) + 1)
    assert np.all(np.abs(f.mean(1) - mean) <= 5 * np.sqrt(var / 8000))
    assert np.all(np.abs(f.var(1) / var - 1) <= 5 * math.sqrt(2 / 8000) * 1.5)


# ----------------------------------------------------- parameters and errors
def test_layerwise_prior_is_a_nested_parameter():
    est = BayesianMLPRegressor(prior=LayerwisePrior(input=SpikeAndSlabPrior(0.2)))
    params = est.get_params()
    assert params["prior__input__inclusion_prob"] == 0.2
    est.set_params(prior__input__inclusion_prob=0.7)
    assert est.prior.input.inclusion_prob == 0.7
    copy = clone(est)
    assert copy.prior is not est.prior and copy.prior.input is not est.prior.input
    assert copy.get_params()["prior__input__inclusion_prob"] == 0.7
    with pytest.raises(ValueError, match="Invalid parameter 'hidden'"):
        est.set_params(prior__hidden=GaussianPrior())


def test_grid_search_tunes_the_inclusion_probability():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 4)
    y = X[:, 0] + 0.1 * rng.randn(40)
    prior = LayerwisePrior(input=SpikeAndSlabPrior(), default=GaussianPrior(1.0))
    est = BayesianMLPRegressor((), method="map", prior=prior, max_epochs=20,
                               batch_size=40, lr=0.05, random_state=0)
    search = GridSearchCV(est, {"prior__input__inclusion_prob": [0.1, 0.9]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    best = search.best_params_["prior__input__inclusion_prob"]
    assert search.best_estimator_.prior.input.inclusion_prob == best
    assert search.best_estimator_.feature_inclusion_.shape == (4,)
    assert prior.input.inclusion_prob == 0.5  # the parameter was not mutated


X_BAD = np.random.RandomState(0).randn(20, 3)
Y_BAD = X_BAD[:, 0]


@pytest.mark.parametrize("prior, match", [
    (SpikeAndSlabPrior(inclusion_prob=1.5), "'inclusion_prob' parameter of Spike"),
    (SpikeAndSlabPrior(inclusion_prob=[0.5, -0.1, 0.2]),
     r"'inclusion_prob' parameter of SpikeAndSlabPrior must lie in \[0, 1\]"),
    (SpikeAndSlabPrior(inclusion_prob=[0.5] * 5),
     r"'inclusion_prob' parameter of SpikeAndSlabPrior has 5 values.*"
     r"n_features_in_=3"),
    (SpikeAndSlabPrior(scale=0.0), "'scale' parameter of SpikeAndSlabPrior"),
    (SpikeAndSlabPrior(scale=[1.0, -1.0, 1.0]),
     "'scale' parameter of SpikeAndSlabPrior must be positive"),
    (SpikeAndSlabPrior(spike_scale=0), "'spike_scale' parameter of SpikeAndSlab"),
    (GaussianPrior(scale=[1.0, 0.0, 2.0]),
     "'scale' parameter of GaussianPrior must be positive"),
    (GaussianPrior(scale=[1.0, 2.0, 3.0]), "can only be the 'input' or"),
    (LayerwisePrior(input=GaussianPrior(mean=[0.0, 1.0])),
     r"'mean' parameter of GaussianPrior has 2 values.*n_features_in_=3"),
    (LayerwisePrior(output_bias=GaussianPrior(mean=[0.0, 1.0])),
     r"'mean' parameter of GaussianPrior has 2 values.*output bias \(1 outputs\)"),
    (LayerwisePrior(default=SpikeAndSlabPrior()), "for 'input' only"),
    (UniformPrior(1.0, 1.0), "'low' and 'high' parameters of UniformPrior"),
    (UniformPrior(2.0, -1.0), "low < high"),
    ({"input": SpikeAndSlabPrior(), "hidden": GaussianPrior()},
     r"Unknown layer key\(s\) \['hidden'\].*'input', 'output_bias', 'default'"),
])
def test_bad_priors_name_the_parameter(prior, match):
    est = BayesianMLPRegressor((), method="map", prior=prior, max_epochs=1)
    with pytest.raises(ValueError, match=match):
        est.fit(X_BAD, Y_BAD)


def test_a_dict_prior_is_a_layerwise_prior():
    kw = dict(method="map", max_epochs=5, batch_size=20, random_state=0)
    parts = {"input": SpikeAndSlabPrior(0.3), "default": GaussianPrior(0.5)}
    a = BayesianMLPRegressor((4,), prior=parts, **kw).fit(X_BAD, Y_BAD)
    b = BayesianMLPRegressor((4,), prior=LayerwisePrior(**parts), **kw).fit(
        X_BAD, Y_BAD)
    np.testing.assert_array_equal(a.predict(X_BAD), b.predict(X_BAD))
    np.testing.assert_array_equal(a.feature_inclusion_, b.feature_inclusion_)


# --------------------------------------------------------------- in a fit
def test_spike_and_slab_map_selects_the_features_of_a_linear_model():
    """20 features, 3 drive y. MAP of a linear model (no hidden layer) under
    SpikeAndSlabPrior(0.5, scale 1, spike 0.01): the inclusion probability at
    the mode. Measured: relevant 1.0, irrelevant at most 0.013."""
    rng = np.random.RandomState(0)
    X = rng.randn(200, 20)
    y = 2 * X[:, 0] - X[:, 1] + 1.5 * X[:, 2] + 0.5 * rng.randn(200)
    est = BayesianMLPRegressor((), method="map", prior=SpikeAndSlabPrior(),
                               max_epochs=300, batch_size=200, lr=0.05,
                               random_state=0).fit(X, y)
    inclusion = est.feature_inclusion_
    assert inclusion.shape == (20,)
    assert np.all(inclusion[:3] > 0.9)
    assert np.all(inclusion[3:] < 0.2)
    # the number is P(gamma | W) of the fitted weights
    W = est.method_.module_.layers()[0][0].detach().double()
    np.testing.assert_allclose(
        inclusion, SpikeAndSlabPrior().inclusion_probability(W).numpy(), rtol=1e-12)
    again = clone(est).fit(X, y).feature_inclusion_
    np.testing.assert_array_equal(inclusion, again)
    # no spike-and-slab part, no attribute (also after a refit)
    est.set_params(prior=GaussianPrior()).fit(X[:20], y[:20])
    assert not hasattr(est, "feature_inclusion_")


def test_ensemble_inclusion_is_the_mean_over_members():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 4)
    y = X[:, 0] + 0.1 * rng.randn(30)
    prior = SpikeAndSlabPrior(spike_scale=0.05)
    est = BayesianMLPRegressor((3,), method="ensemble", prior=prior, max_epochs=5,
                               random_state=0).fit(X, y)
    per_member = prior.inclusion_probability(est.method_.weight_draws()[0][0].double())
    assert per_member.shape == (5, 4)
    np.testing.assert_allclose(est.feature_inclusion_, per_member.mean(0).numpy(),
                               rtol=1e-12)


def test_output_bias_prior_sets_the_base_rates_without_signal():
    """X is noise and the weights are held at 0 by a tight default prior, so
    the logits are the output bias b. Its MAP minimises N CE(softmax(b); the
    empirical rates 1/3 each) + |b - log r|^2 / (2 s^2): computed here with
    scipy. With s = 0.02 it stays at the prior's base rates r, not the
    data's 1/3; under the default prior it goes to the data's rates."""
    rng = np.random.RandomState(0)
    X = rng.randn(60, 2)
    y = np.repeat([0, 1, 2], 20)
    rates = np.array([0.6, 0.3, 0.1])
    s = 0.02
    prior = LayerwisePrior(output_bias=GaussianPrior(mean=np.log(rates), scale=s),
                           default=GaussianPrior(1e-3))
    kw = dict(method="map", max_epochs=300, batch_size=60, lr=0.05, random_state=0)
    clf = BayesianMLPClassifier((), prior=prior, **kw).fit(X, y)
    freq = clf.predict_proba(X).mean(0)

    def energy(b):
        return (-60 * (np.log(softmax(b)) / 3).sum()
                + ((b - np.log(rates)) ** 2).sum() / (2 * s**2))
    b_map = optimize.minimize(energy, np.log(rates), tol=1e-12).x
    np.testing.assert_allclose(freq, softmax(b_map), atol=2e-3)
    np.testing.assert_allclose(freq, rates, atol=0.02)
    # the prior predictive: softmax(b), b ~ N(log r, s^2), weights ~ N(0, 1e-6)
    draws = clf.sample_prior_predictive(X, n_samples=400, random_state=0)
    assert draws.shape == (60, 3, 400)
    b = np.log(rates) + s * np.random.RandomState(0).randn(100000, 3)
    p = softmax(b, axis=1)
    np.testing.assert_allclose(draws.mean((0, 2)), p.mean(0),
                               atol=5 * p.std(0).max() / np.sqrt(400))
    plain = BayesianMLPClassifier((), prior=GaussianPrior(1e-3), **kw).fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(X).mean(0), [1 / 3] * 3,
                               atol=0.02)


def test_inclusion_prob_by_column_name():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X_BAD, columns=["activity", "age", "eye_colour"])
    kw = dict(method="map", max_epochs=5, batch_size=20, random_state=0)
    named = SpikeAndSlabPrior(inclusion_prob={"eye_colour": 0.05, "activity": 0.9})
    a = BayesianMLPRegressor((), prior=named, **kw).fit(df, Y_BAD)
    b = BayesianMLPRegressor((), prior=SpikeAndSlabPrior([0.9, 0.5, 0.05]),
                             **kw).fit(df, Y_BAD)
    np.testing.assert_array_equal(a.feature_inclusion_, b.feature_inclusion_)
    assert named.inclusion_prob == {"eye_colour": 0.05, "activity": 0.9}  # as given
    np.testing.assert_array_equal(
        a.sample_prior_predictive(df, 3, random_state=0),
        b.sample_prior_predictive(df, 3, random_state=0))
    with pytest.raises(ValueError, match=r"names \['height'\], which are not col"):
        BayesianMLPRegressor((), prior=SpikeAndSlabPrior({"height": 0.5}),
                             **kw).fit(df, Y_BAD)
    with pytest.raises(ValueError, match="X has no column names"):
        BayesianMLPRegressor((), prior=LayerwisePrior(input=named), **kw).fit(
            X_BAD, Y_BAD)
    with pytest.raises(ValueError, match=r"'inclusion_prob'.*must lie in \[0, 1\]"):
        BayesianMLPRegressor((), prior=SpikeAndSlabPrior({"age": 2.0}),
                             **kw).fit(df, Y_BAD)


def test_map_under_a_per_feature_gaussian_is_the_generalised_ridge():
    """A linear model under LayerwisePrior(input=N(m_i, s_i^2), default=N(0, 1))
    with the noise refitted to the residuals: the MAP is the fixed point of
    theta = (A'A / s2 + P)^-1 (A'y / s2 + P mu), s2 = RSS / N (standardised
    y, A = [X | 1], P = diag(1 / s_i^2, 1), mu = (m, 0)), solved here in
    float64. The per-feature means and scales pull each weight to its own
    prior (w_0 from the data's 1.0 towards 0.5, w_2 from 0.2 towards -1)."""
    rng = np.random.RandomState(0)
    n = 60
    X = rng.randn(n, 3)
    y = X @ np.array([1.0, -0.5, 0.2]) + 0.3 * rng.randn(n)
    m, s = np.array([0.5, 0.0, -1.0]), np.array([0.05, 1.0, 0.1])
    prior = LayerwisePrior(input=GaussianPrior(scale=s, mean=m))
    reg = BayesianMLPRegressor((), method="map", prior=prior, max_epochs=250,
                               batch_size=n, lr=0.05, random_state=0).fit(X, y)
    W, b = (t.detach().double().numpy() for t in reg.method_.module_.layers()[0])
    ys = (y - y.mean()) / y.std()
    A, mu, P = np.c_[X, np.ones(n)], np.r_[m, 0.0], np.r_[1 / s**2, 1.0]
    s2 = 1.0
    for _ in range(200):
        theta = np.linalg.solve(A.T @ A / s2 + np.diag(P), A.T @ ys / s2 + P * mu)
        s2 = ((ys - A @ theta) ** 2).mean()
    np.testing.assert_allclose(np.r_[W.ravel(), b], theta, atol=1e-5)
    # and not the plain ridge of the default prior
    plain = np.linalg.solve(A.T @ A / s2 + np.eye(4), A.T @ ys / s2)
    assert np.abs(plain - theta).max() > 0.1
