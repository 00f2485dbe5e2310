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
