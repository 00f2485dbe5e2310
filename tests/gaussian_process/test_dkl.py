"""DeepKernelRegressor: predictive consistency, both inference paths."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.gaussian_process.kernels import Matern, PairwiseKernel, WhiteKernel

from skbdl.gaussian_process import DeepKernelRegressor

RNG = np.random.RandomState(0)
X = RNG.uniform(-2, 2, (80, 4))
Y = np.sin(2 * X[:, 0]) + 0.05 * RNG.randn(80)
XS = RNG.uniform(-2, 2, (6, 4))


@pytest.mark.parametrize("inference", ["exact", "svgp"])
def test_fit_predict_shapes_and_consistency(inference):
    dkl = DeepKernelRegressor(
        hidden_layer_sizes=(16,), max_epochs=15, batch_size=32, n_inducing=10,
        inference=inference, random_state=0,
    ).fit(X, Y)  # fmt: skip
    assert dkl.inference_ == inference and 1 <= dkl.n_iter_ <= 15
    mean, std = dkl.predict(XS, return_std=True)
    mean2, cov = dkl.predict(XS, return_cov=True)
    assert mean.shape == std.shape == (6,) and cov.shape == (6, 6)
    assert_allclose(mean, mean2)
    assert_allclose(std, np.sqrt(np.diag(cov)), rtol=1e-8)
    draws = dkl.sample_y(XS, 4000, random_state=0)
    assert draws.shape == (6, 4000)
    # 4 Monte-Carlo standard errors per point: the sample mean has SE
    # std / sqrt(n), the sample std of Gaussian draws std / sqrt(2 n).
    n = draws.shape[1]
    assert np.all(np.abs(draws.mean(1) - mean) <= 4 * std / np.sqrt(n))
    assert np.all(np.abs(draws.std(1) - std) <= 4 * std / np.sqrt(2 * n))
    assert np.all(np.isfinite(mean)) and np.all(std > 0)


def test_learns_and_is_reproducible():
    kw = dict(hidden_layer_sizes=(32,), max_epochs=100, random_state=1)
    a = DeepKernelRegressor(**kw).fit(X, Y)
    b = DeepKernelRegressor(**kw).fit(X, Y)
    assert_allclose(a.predict(XS), b.predict(XS))
    assert a.score(X, Y) > 0.8
    assert a.kernel_ is not a.kernel and a.best_validation_nll_ < 1.0


def test_any_kernel_and_multi_output_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    Ym = np.c_[Y, -Y]
    dkl = DeepKernelRegressor(
        Matern(nu=1.5) + WhiteKernel(0.1), max_epochs=5, random_state=0
    )
    dkl.fit(X, Ym)
    assert dkl.predict(XS).shape == (6, 2)
    assert dkl.predict(XS, return_cov=True)[1].shape == (6, 6, 2)
    assert dkl.sample_y(XS, 3).shape == (6, 2, 3)
    assert torch.equal(state, torch.random.get_rng_state())


def test_bad_parameters():
    with pytest.raises(TypeError, match="Supported kernels"):
        DeepKernelRegressor(PairwiseKernel()).fit(X, Y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        DeepKernelRegressor(hidden_layer_sizes=(0,)).fit(X, Y)


@pytest.mark.parametrize("inference", ["exact", "svgp"])
def test_heldout_noise_adds_to_the_predictive_variance_only(inference):
    # Training does not depend on noise_estimate, so the two fits share the
    # network and kernel: the means agree and the variances differ by
    # exactly heldout_noise_ (in y's units), in return_std and return_cov.
    kw = dict(hidden_layer_sizes=(16,), max_epochs=60, batch_size=32,
              n_inducing=10, inference=inference, random_state=0)
    # noisy targets (noise sd 1, scaled by 10: heldout_noise_ is in y's
    # units), on which both paths leave the held-out rows under-covered
    y = 10.0 * (np.sin(2 * X[:, 0]) + np.random.RandomState(1).randn(80)) + 3.0
    train = DeepKernelRegressor(noise_estimate="train", **kw).fit(X, y)
    hold = DeepKernelRegressor(**kw).fit(X, y)
    assert train.heldout_noise_ == 0.0
    assert hold.heldout_noise_ > 0  # the GP fits its training rows too closely
    mean_t, std_t = train.predict(XS, return_std=True)
    mean_h, std_h = hold.predict(XS, return_std=True)
    assert_allclose(mean_h, mean_t)
    assert_allclose(std_h**2 - std_t**2, hold.heldout_noise_, rtol=1e-8)
    _, cov = hold.predict(XS, return_cov=True)
    assert_allclose(np.sqrt(np.diag(cov)), std_h, rtol=1e-8)


def test_heldout_noise_is_the_heldout_likelihood_maximiser():
    # rebuild the held-out rows from the fit's split and check that no other
    # extra variance gives them a higher Gaussian likelihood
    y = np.sin(2 * X[:, 0]) + np.random.RandomState(1).randn(80)
    dkl = DeepKernelRegressor(hidden_layer_sizes=(16,), max_epochs=60,
                              random_state=0).fit(X, y)
    assert dkl.heldout_noise_ > 0
    from sklearn.utils import check_random_state

    from skbdl.utils._torch import draw_seed, make_generator

    rng = check_random_state(0)
    draw_seed(rng)  # the network's seed
    _, val = dkl._split(len(X), make_generator(draw_seed(rng), "cpu"))
    val = val.numpy()
    mean, std = dkl.predict(X[val], return_std=True)
    base = std**2 - dkl.heldout_noise_

    def loglik(extra):
        var = base + extra
        return float(np.sum(-0.5 * np.log(var) - 0.5 * (y[val] - mean) ** 2 / var))

    best = loglik(dkl.heldout_noise_)
    for factor in (0.5, 0.8, 1.25, 2.0):
        assert loglik(factor * dkl.heldout_noise_) <= best


def test_no_heldout_rows_no_heldout_noise():
    dkl = DeepKernelRegressor(hidden_layer_sizes=(8,), max_epochs=5,
                              validation_fraction=0.0, random_state=0).fit(X, Y)
    assert dkl.heldout_noise_ == 0.0
