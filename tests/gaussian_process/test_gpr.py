"""GPRegressor against scikit-learn's GaussianProcessRegressor."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    RBF,
    DotProduct,
    ExpSineSquared,
    Matern,
    PairwiseKernel,
    RationalQuadratic,
    WhiteKernel,
)
from sklearn.gaussian_process.kernels import ConstantKernel as C

import skbdl.gaussian_process._engine as engine_module
import skbdl.gaussian_process._gpr as gpr_module
from skbdl.gaussian_process import GPRegressor

RNG = np.random.RandomState(0)
X = RNG.uniform(-2, 2, (25, 3))
Y = np.sin(X[:, 0]) + X[:, 1] ** 2 / 4 + 0.1 * RNG.randn(25)
XS = RNG.uniform(-2.5, 2.5, (8, 3))
X1 = RNG.uniform(0, 5, (25, 1))  # ExpSineSquared is PD only in 1-D
Y1 = np.sin(3 * X1[:, 0]) + 0.1 * RNG.randn(25)
XS1 = RNG.uniform(0, 5, (8, 1))

KERNELS = {
    "default": (None, X, Y, XS),
    "const*rbf_ard+white": (C(2.0) * RBF([1.0, 2.0, 0.5]) + WhiteKernel(0.1), X, Y, XS),
    "rbf_iso": (RBF(1.3), X, Y, XS),
    "matern05": (Matern(1.3, nu=0.5), X, Y, XS),
    "matern15_ard": (Matern([1.0, 2.0, 3.0], nu=1.5) + WhiteKernel(0.5), X, Y, XS),
    "matern25": (C(0.5) * Matern(0.7, nu=2.5), X, Y, XS),
    "matern_inf": (Matern(1.1, nu=np.inf), X, Y, XS),
    "rq": (RationalQuadratic(1.2, 0.8) + WhiteKernel(0.01), X, Y, XS),
    "expsine": (ExpSineSquared(1.3, 2.0) + WhiteKernel(0.01), X1, Y1, XS1),
    "dot**2+white": (DotProduct(0.5) ** 2 + WhiteKernel(1.0), X, Y, XS),
    "fixed_part": (C(1.0, "fixed") * RBF(1.5) + C(0.3) * DotProduct(), X, Y, XS),
}
# Relative tolerance of the oracle comparison: float64 on both sides. Posterior
# covariances far off the diagonal are differences of O(1) numbers, so their
# absolute error floor is that of float64 cancellation: atol 1e-12 * max|cov|.
RTOL = 1e-6


@pytest.fixture(params=["numpy", "torch"])
def engine(request, monkeypatch):
    """Force the engine of exact inference: the NumPy path (the kernel's own
    __call__) or the torch path, whatever the number of training rows."""
    monkeypatch.setattr(engine_module, "FORCE_ENGINE", request.param)
    return request.param


def _pair(kernel, **kw):
    params = dict(kernel=kernel, alpha=1e-5, **kw)
    return GaussianProcessRegressor(**params), GPRegressor(**params)


@pytest.mark.parametrize("normalize_y", [False, True])
@pytest.mark.parametrize("name", list(KERNELS))
def test_fixed_kernel_matches_sklearn(name, normalize_y, engine):
    kernel, X_, y_, Xs = KERNELS[name]
    ref, gpr = _pair(kernel, optimizer=None, normalize_y=normalize_y)
    ref.fit(X_, y_), gpr.fit(X_, y_)
    assert gpr._engine_for("gradient", len(X_)) == engine
    m_ref, s_ref = ref.predict(Xs, return_std=True)
    m, s = gpr.predict(Xs, return_std=True)
    assert_allclose(m, m_ref, rtol=RTOL)
    assert_allclose(s, s_ref, rtol=RTOL)
    c_ref = ref.predict(Xs, return_cov=True)[1]
    c = gpr.predict(Xs, return_cov=True)[1]
    assert_allclose(c, c_ref, rtol=RTOL, atol=1e-12 * np.abs(c_ref).max())
    assert_allclose(
        gpr.log_marginal_likelihood_value_,
        ref.log_marginal_likelihood_value_,
        rtol=RTOL,
    )
    assert_allclose(
        gpr.alpha_, ref.alpha_, rtol=RTOL, atol=1e-12 * np.abs(ref.alpha_).max()
    )
    assert_allclose(gpr.L_, ref.L_, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("name", [k for k in KERNELS if k != "default"])
def test_lml_and_gradient_match_sklearn(name, engine):
    kernel, X_, y_, _ = KERNELS[name]
    ref, gpr = _pair(kernel, optimizer=None)
    ref.fit(X_, y_), gpr.fit(X_, y_)
    theta = kernel.theta + 0.1
    lml_ref, grad_ref = ref.log_marginal_likelihood(theta, eval_gradient=True)
    lml, grad = gpr.log_marginal_likelihood(theta, eval_gradient=True)
    assert_allclose(lml, lml_ref, rtol=RTOL)
    assert_allclose(grad, grad_ref, rtol=RTOL, atol=1e-9)
    assert_allclose(gpr.log_marginal_likelihood(theta), lml_ref, rtol=RTOL)


@pytest.mark.parametrize(
    "name", ["const*rbf_ard+white", "matern15_ard", "rq", "expsine", "dot**2+white"]
)
def test_optimized_lml_at_least_sklearn(name, engine):
    kernel, X_, y_, _ = KERNELS[name]
    ref, gpr = _pair(kernel, n_restarts_optimizer=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X_, y_), gpr.fit(X_, y_)
    assert (
        gpr.log_marginal_likelihood_value_ >= ref.log_marginal_likelihood_value_ - 1e-3
    )
    assert_allclose(gpr.log_marginal_likelihood(), gpr.log_marginal_likelihood_value_)
    assert str(gpr.kernel_).split("(")[0] == str(ref.kernel_).split("(")[0]
    assert type(gpr.kernel_) is type(kernel) and gpr.kernel is kernel


def test_multi_output_matches_sklearn(engine):
    Ym = np.c_[Y, 2 * Y + 1]
    ref, gpr = _pair(RBF(1.0) + WhiteKernel(0.1), optimizer=None, normalize_y=True)
    ref.fit(X, Ym), gpr.fit(X, Ym)
    for kw in ({}, {"return_std": True}, {"return_cov": True}):
        got, want = gpr.predict(XS, **kw), ref.predict(XS, **kw)
        got, want = (got, want) if kw else ((got,), (want,))
        for a, b in zip(got, want):
            assert a.shape == b.shape
            assert_allclose(a, b, rtol=RTOL, atol=1e-12)
    assert gpr.sample_y(XS, 4).shape == (8, 2, 4)


def test_prior_predict_matches_sklearn():
    for kernel in (None, RBF(0.5)):
        ref, gpr = _pair(kernel)
        for kw in ({"return_std": True}, {"return_cov": True}):
            for a, b in zip(gpr.predict(XS, **kw), ref.predict(XS, **kw)):
                assert_allclose(a, b)


def test_sample_y_moments_and_std_is_sqrt_diag_cov(engine):
    gpr = GPRegressor(
        RBF(1.0) + WhiteKernel(0.05), normalize_y=True, optimizer=None
    ).fit(X, Y)
    mean, cov = gpr.predict(XS, return_cov=True)
    _, std = gpr.predict(XS, return_std=True)
    assert_allclose(std, np.sqrt(np.diag(cov)), rtol=1e-10)
    assert_allclose(gpr.predict_std(XS), std)
    draws = gpr.sample_y(XS, 20000, random_state=1)
    assert draws.shape == (8, 20000)
    # Monte-Carlo tolerances: 4 standard errors per entry (a two-sided 6e-5
    # tail each). The sample mean has SE std_i / sqrt(n); a sample
    # covariance of Gaussians has SE sqrt((c_ii c_jj + c_ij^2) / n).
    n = draws.shape[1]
    assert np.all(np.abs(draws.mean(1) - mean) <= 4 * std / np.sqrt(n))
    cov_se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(draws) - cov) <= 4 * cov_se)
    assert_allclose(
        gpr.sample_y(XS, 3, random_state=5), gpr.sample_y(XS, 3, random_state=5)
    )


def test_sgpr_with_all_training_inputs_equals_exact():
    kernel = C(1.5) * RBF([1.0, 1.5, 2.0]) + WhiteKernel(0.05)
    common = dict(kernel=kernel, alpha=1e-3, optimizer=None, normalize_y=True)
    exact = GPRegressor(inference="exact", **common).fit(X, Y)
    sparse = GPRegressor(inference="sgpr", n_inducing=len(X), **common).fit(X, Y)
    assert sparse.inference_ == "sgpr" and sparse.inducing_points_.shape == X.shape
    m_e, s_e = exact.predict(XS, return_std=True)
    m_s, s_s = sparse.predict(XS, return_std=True)
    assert_allclose(m_s, m_e, rtol=1e-6)
    assert_allclose(s_s, s_e, rtol=1e-6)
    c_e, c_s = (
        exact.predict(XS, return_cov=True)[1],
        sparse.predict(XS, return_cov=True)[1],
    )
    assert_allclose(c_s, c_e, rtol=1e-6, atol=1e-9 * np.abs(c_e).max())
    assert_allclose(
        sparse.log_marginal_likelihood_value_,
        exact.log_marginal_likelihood_value_,
        rtol=1e-6,
    )


def test_sgpr_optimizes_inducing_points_and_hyperparameters():
    rng = np.random.RandomState(1)
    Xb = rng.uniform(-3, 3, (300, 1))
    yb = np.sin(2 * Xb[:, 0]) + 0.1 * rng.randn(300)
    kernel = C(1.0) * RBF(1.0) + WhiteKernel(0.5)
    gpr = GPRegressor(kernel, inference="sgpr", n_inducing=15, random_state=0).fit(
        Xb, yb
    )
    assert gpr.inducing_points_.shape == (15, 1)
    assert gpr.kernel_.k2.noise_level < 0.05
    exact = GPRegressor(kernel, inference="exact").fit(Xb, yb)
    assert (
        gpr.log_marginal_likelihood_value_
        <= exact.log_marginal_likelihood_value_ + 1e-6
    )
    assert gpr.log_marginal_likelihood_value_ > exact.log_marginal_likelihood_value_ - 5
    assert gpr.score(Xb, yb) > 0.95


class DoubledRBF(RBF):
    """An RBF subclass overriding __call__: must not be compiled as an RBF."""

    def __call__(self, X, Y=None, eval_gradient=False):
        out = super().__call__(X, Y, eval_gradient)
        if eval_gradient:
            return 2.0 * out[0], 2.0 * out[1]
        return 2.0 * out


UNCOMPILABLE = {
    "pairwise": PairwiseKernel(gamma=0.5, metric="laplacian") + WhiteKernel(0.1),
    "matern_nu1": C(1.0) * Matern(1.0, nu=1.0) + WhiteKernel(0.1),
    "rbf_subclass": DoubledRBF(1.2) + WhiteKernel(0.1),
    "const_subclass": type("MyConstant", (C,), {})(2.0) * RBF(1.0),
}


@pytest.mark.parametrize("name", list(UNCOMPILABLE))
def test_uncompilable_kernel_falls_back_to_its_own_call(name, engine):
    # Whatever the number of rows, a kernel with no torch compilation is
    # evaluated by its own __call__(X, eval_gradient=True), so it gives
    # scikit-learn's results; where the torch path would have been used (here
    # forced), a warning says that the fast path is not used.
    kernel = UNCOMPILABLE[name]
    assert gpr_module.compile_kernel(kernel) is None
    ref, gpr = _pair(kernel, optimizer=None)
    if engine == "torch":
        with pytest.warns(UserWarning, match="no torch compilation"):
            gpr.fit(X, Y)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gpr.fit(X, Y)
    ref.fit(X, Y)
    assert not gpr._compiled and gpr._engine_for("gradient", 10**6) == "numpy"
    for kw in ({"return_std": True}, {"return_cov": True}):
        for a, b in zip(gpr.predict(XS, **kw), ref.predict(XS, **kw)):
            assert_allclose(a, b, rtol=RTOL, atol=1e-12)
    theta = kernel.theta + 0.1
    for a, b in zip(
        gpr.log_marginal_likelihood(theta, eval_gradient=True),
        ref.log_marginal_likelihood(theta, eval_gradient=True),
    ):
        assert_allclose(a, b, rtol=RTOL, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on either side
        ref_opt = GaussianProcessRegressor(kernel, alpha=1e-5).fit(X, Y)
        opt = GPRegressor(kernel, alpha=1e-5).fit(X, Y)
    assert (
        opt.log_marginal_likelihood_value_
        >= ref_opt.log_marginal_likelihood_value_ - 1e-6
    )


def test_only_exact_kernel_types_compile():
    assert gpr_module.compile_kernel(RBF(1.0) * C(2.0)) is not None
    assert gpr_module.compile_kernel(DoubledRBF(1.0) * C(2.0)) is None
    assert gpr_module.compile_kernel(RBF(1.0) + PairwiseKernel()) is None
    assert gpr_module.compile_kernel(Matern(nu=1.0) ** 2) is None
    # DeepKernelRegressor's torch-only path still names the supported kernels
    with pytest.raises(TypeError, match="Supported kernels: ConstantKernel, RBF"):
        gpr_module.TorchKernel(PairwiseKernel())
    with pytest.raises(TypeError, match="sgpr"):
        GPRegressor(PairwiseKernel(), inference="sgpr").fit(X, Y)


def test_alpha_zero_singular_raises_linalg_error_as_sklearn(engine):
    # K is singular (rank 1 < 6 rows for every theta): with alpha=0 the user
    # asked for no regularisation, so no jitter is added, as in scikit-learn
    Xs, ys = np.arange(12.0).reshape(6, -1), np.ones(6)
    kw = dict(kernel=DotProduct(), alpha=0.0)
    with pytest.raises(np.linalg.LinAlgError) as ref_err:
        GaussianProcessRegressor(**kw).fit(Xs, ys)
    with pytest.raises(np.linalg.LinAlgError) as err:
        GPRegressor(**kw).fit(Xs, ys)
    assert str(ref_err.value.args[0]) in str(err.value)


def test_cholesky_jitter_warns_then_errors_naming_alpha(engine):
    # duplicated rows make K singular; with a tiny alpha > 0 (where
    # scikit-learn raises) the factorisation succeeds after jitter, with a
    # warning that names alpha
    Xd = np.repeat(X[:5], 2, axis=0)
    yd = np.arange(10.0)
    with pytest.warns(RuntimeWarning, match="alpha"):
        GPRegressor(RBF(1.0), alpha=1e-17, optimizer=None).fit(Xd, yd)
    with pytest.raises(np.linalg.LinAlgError, match="'alpha'"):
        # a negative per-sample alpha keeps K indefinite whatever the jitter
        GPRegressor(RBF(1.0), alpha=np.full(10, -2.0), optimizer=None).fit(Xd, yd)
    with pytest.raises(ValueError, match="'alpha'"):  # LinAlgError is one
        GPRegressor(RBF(1.0), alpha=np.full(10, -2.0), optimizer=None).fit(Xd, yd)


def test_lml_returns_numpy_types_and_clone_kernel_false_sets_theta(engine):
    gpr = GPRegressor(RBF(1.0) + WhiteKernel(0.1), optimizer=None).fit(X, Y)
    theta = gpr.kernel_.theta + 0.3
    value, grad = gpr.log_marginal_likelihood(theta, eval_gradient=True)
    assert type(value) is np.float64 and type(grad) is np.ndarray
    assert type(gpr.log_marginal_likelihood(theta)) is np.float64
    assert type(gpr.log_marginal_likelihood()) is np.float64
    assert_allclose(gpr.kernel_.theta, theta - 0.3)  # cloned: unchanged
    gpr.log_marginal_likelihood(theta, clone_kernel=False)
    assert_allclose(gpr.kernel_.theta, theta)


@pytest.mark.parametrize("n_targets", [None, 1, 3])
def test_sample_y_before_fit_draws_from_the_prior(n_targets):
    kernel = C(2.0) * RBF(0.7)
    gpr = GPRegressor(kernel, n_targets=n_targets)
    draws = gpr.sample_y(XS, 20000, random_state=0)
    if n_targets is not None and n_targets > 1:
        assert draws.shape == (8, n_targets, 20000)
        draws = draws[:, 1]
    else:
        assert draws.shape == (8, 20000)
    cov = kernel(XS)
    n = draws.shape[1]
    assert np.all(np.abs(draws.mean(1)) <= 4 * np.sqrt(np.diag(cov) / n))
    cov_se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(draws) - cov) <= 4 * cov_se)


def test_sample_y_targets_drawn_independently_of_their_number(engine):
    Ym = np.c_[Y, 2 * Y, -Y]
    kw = dict(kernel=RBF(1.0) + WhiteKernel(0.1), optimizer=None)
    one = GPRegressor(**kw).fit(X, Y).sample_y(XS, 5, random_state=3)
    three = GPRegressor(**kw).fit(X, Ym).sample_y(XS, 5, random_state=3)
    assert_allclose(three[:, 0], one, rtol=1e-10)
    assert not np.allclose(three[:, 1] / 2, one)


def test_sample_y_on_singular_predictive_covariance(engine):
    # DotProduct() ** 2 on 1-D inputs has rank 3: the predictive covariance of
    # 40 points is singular, Cholesky fails, the eigen-factor draws
    Xl = np.linspace(0, 5, 6)[:, None]
    yl = (Xl[:, 0] - 2.5) ** 2
    Xq = np.linspace(0, 5, 40)[:, None]
    gpr = GPRegressor(DotProduct() ** 2, alpha=1e-2, optimizer=None).fit(Xl, yl)
    mean, cov = gpr.predict(Xq, return_cov=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draws = gpr.sample_y(Xq, 20000, random_state=0)
    n = draws.shape[1]
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    assert np.all(np.abs(draws.mean(1) - mean) <= 4 * sd / np.sqrt(n) + 1e-12)
    cov_se = np.sqrt((np.outer(sd**2, sd**2) + cov**2) / n)
    assert np.all(np.abs(np.cov(draws) - cov) <= 4 * cov_se + 1e-9)


def test_structured_inputs_with_a_sequence_kernel(engine):
    from sklearn.gaussian_process.tests._mini_sequence_kernel import MiniSeqKernel

    Xs, ys = ["AGCT", "CGA", "TTTAG", "GC"], np.array([1.0, 2.0, 3.0, 2.5])
    kernel = MiniSeqKernel(baseline_similarity_bounds=(1e-5, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback warning ("torch" engine)
        gpr = GPRegressor(kernel).fit(Xs, ys)
    ref = GaussianProcessRegressor(kernel).fit(Xs, ys)
    assert_allclose(gpr.kernel_.theta, ref.kernel_.theta, rtol=1e-6)
    for a, b in zip(
        gpr.predict(["AG", "TTC"], return_std=True),
        ref.predict(["AG", "TTC"], return_std=True),
    ):
        assert_allclose(a, b, rtol=1e-6)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="alpha must be a scalar"):
        GPRegressor(alpha=np.ones(3)).fit(X, Y)
    with pytest.raises(ValueError, match="device"):
        GPRegressor(device="not-a-device").fit(X, Y)
    with pytest.raises(RuntimeError, match="At most one"):
        GPRegressor(optimizer=None).fit(X, Y).predict(
            XS, return_std=True, return_cov=True
        )
    with pytest.raises(ValueError, match="finite"):
        GPRegressor(RBF(1.0, (1e-2, np.inf)), n_restarts_optimizer=1).fit(X, Y)


def test_negative_variances_clipped_with_warning():
    # A negative per-sample alpha that keeps K - 0.01 I positive definite
    # (its smallest eigenvalue is 0.019) makes k^T (K - 0.01 I)^-1 k exceed
    # k(x, x) at the training points: every predictive variance is negative
    # before clipping, in exact arithmetic, for both implementations.
    Xn = np.linspace(-3, 3, 8)[:, None]
    yn = np.sin(Xn[:, 0])
    kw = dict(kernel=RBF(1.0), alpha=np.full(8, -0.01), optimizer=None)
    gpr = GPRegressor(**kw).fit(Xn, yn)
    ref = GaussianProcessRegressor(**kw).fit(Xn, yn)
    with pytest.warns(UserWarning, match="Predicted variances smaller than 0"):
        ref_std = ref.predict(Xn, return_std=True)[1]
    with pytest.warns(UserWarning, match="Predicted variances smaller than 0"):
        std = gpr.predict(Xn, return_std=True)[1]
    assert_array_equal(std, ref_std)
    assert_array_equal(std, np.zeros(8))
    # the covariance itself is returned unclipped, as scikit-learn does
    cov = gpr.predict(Xn, return_cov=True)[1]
    assert_allclose(cov, ref.predict(Xn, return_cov=True)[1], rtol=RTOL)
    assert np.all(np.diag(cov) < -0.01)


def test_random_state_reproducible_and_global_rng_untouched():
    import torch

    state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    k = C(1.0) * RBF(1.0)
    kw = dict(
        n_restarts_optimizer=2,
        random_state=3,
        inference="sgpr",
        n_inducing=5,
        max_iter=15,
    )
    a, b = GPRegressor(k, **kw), GPRegressor(k, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_allclose(a.fit(X, Y).predict(XS), b.fit(X, Y).predict(XS))
    assert torch.equal(state, torch.random.get_rng_state())
    assert np.array_equal(np_state, np.random.get_state()[1])


@pytest.mark.parametrize("Est", ["GPRegressor", "DeepKernelRegressor"])
def test_random_state_none_draws_from_numpys_global_rng(Est):
    # scikit-learn's convention: None uses numpy's global RNG, so seeding it
    # makes the fit reproducible, and the fit advances it.
    import skbdl.gaussian_process as gp

    if Est == "GPRegressor":
        make = lambda: gp.GPRegressor(  # noqa: E731
            C(1.0) * RBF(1.0), n_restarts_optimizer=3, inference="sgpr",
            n_inducing=5, inducing_init="random", max_iter=15,
        )  # fmt: skip
    else:
        make = lambda: gp.DeepKernelRegressor(  # noqa: E731
            hidden_layer_sizes=(8,), max_epochs=3
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(0)
        a = make().fit(X, Y).predict(XS)
        after = np.random.get_state()[1].copy()
        np.random.seed(0)
        b = make().fit(X, Y).predict(XS)
        np.random.seed(1)
        c = make().fit(X, Y).predict(XS)
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.random.seed(0)
    assert not np.array_equal(after, np.random.get_state()[1])


def test_large_n_sgpr_subset_hyperparameters_and_chunked_bound():
    import torch

    from skbdl.gaussian_process._kernels import TorchKernel
    from skbdl.gaussian_process._posterior import sgpr_lml, sgpr_stats

    rng = np.random.RandomState(2)
    Xb = rng.uniform(-3, 3, (400, 2))
    yb = np.sin(Xb[:, 0]) + 0.1 * rng.randn(400)
    kernel = C(1.0) * RBF([1.0, 1.0]) + WhiteKernel(0.1)
    gpr = GPRegressor(
        kernel, inference="sgpr", n_inducing=30, optimize_subset=100, random_state=0
    )
    gpr.fit(Xb, yb)
    assert gpr.inducing_points_.shape == (30, 2) and gpr.score(Xb, yb) > 0.95
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    tk, theta = TorchKernel(gpr.kernel_), t(gpr.kernel_.theta)
    args = (
        tk,
        theta,
        t(Xb),
        t(gpr.y_train_[:, None]),
        t(gpr.inducing_points_),
        t(np.full(400, 1e-10)),
    )
    bound = float(sgpr_lml(*args))
    assert_allclose(gpr.log_marginal_likelihood_value_, bound, rtol=1e-9)
    assert_allclose(sgpr_stats(*args, chunk=7)[3], bound, rtol=1e-9)
    assert GPRegressor(inference="sgpr").fit(
        Xb[:50], yb[:50]
    ).inducing_points_.shape == (50, 2)


def test_squared_distance_gradient_matches_autograd():
    import torch

    from skbdl.gaussian_process._kernels import _sqdist

    A = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    B = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    G = torch.randn(6, 4, dtype=torch.float64)
    naive = ((A[:, None] - B[None]) ** 2).sum(-1)
    expected = torch.autograd.grad((naive * G).sum(), (A, B))
    got = torch.autograd.grad((_sqdist(A, B, False) * G).sum(), (A, B))
    for e, g in zip(expected, got):
        assert_allclose(g.numpy(), e.numpy(), rtol=1e-10, atol=1e-12)
    Gs = torch.randn(6, 6, dtype=torch.float64)
    naive = ((A[:, None] - A[None]) ** 2).sum(-1)
    (e,) = torch.autograd.grad((naive * Gs).sum(), A)
    (g,) = torch.autograd.grad((_sqdist(A, A, True) * Gs).sum(), A)
    assert_allclose(g.numpy(), e.numpy(), rtol=1e-10, atol=1e-12)


def test_squared_distance_exact_for_near_equal_rows_far_from_origin():
    # |x|^2 + |y|^2 - 2 x.y would cancel every digit of these distances;
    # centring and recomputing the small entries keeps them exact
    import torch

    from skbdl.gaussian_process._kernels import _sqdist

    rng = np.random.RandomState(0)
    A = 1e4 + rng.uniform(0, 1, (7, 2))
    B = np.vstack([A[:3] + 1e-6, 1e4 + rng.uniform(0, 1, (5, 2))])
    exact = ((A[:, None] - B[None]) ** 2).sum(-1)
    got = _sqdist(torch.as_tensor(A), torch.as_tensor(B), False).numpy()
    assert_allclose(got, exact, rtol=1e-9)
    At = torch.as_tensor(A)
    exact_sym = ((A[:, None] - A[None]) ** 2).sum(-1)
    assert_allclose(_sqdist(At, At, True).numpy(), exact_sym, rtol=1e-9)


@pytest.mark.parametrize(
    "kernel",
    [k for k, *_ in KERNELS.values() if k is not None]
    + [
        RBF([1.5]),  # one-element length scale: sklearn's setter gives a scalar
        Matern([1.0, 2.0, 0.5], nu=0.5) ** 2,
        PairwiseKernel(gamma=0.5, metric="laplacian") + C(1.0, "fixed"),
        UNCOMPILABLE["rbf_subclass"],
    ],
    ids=repr,
)
def test_with_theta_equals_clone_with_theta(kernel):
    from skbdl.gaussian_process._kernels import with_theta

    before = kernel.theta.copy()
    theta = before + np.linspace(0.1, 0.4, before.shape[0])
    got, want = with_theta(kernel, theta), kernel.clone_with_theta(theta)
    assert type(got) is type(want) and repr(got) == repr(want)
    assert_array_equal(got.theta, want.theta)
    Xe = X[:, :1] if "ExpSine" in repr(kernel) else X
    for a, b in zip(got(Xe, eval_gradient=True), want(Xe, eval_gradient=True)):
        assert_array_equal(a, b)
    params = {k: v for k, v in want.get_params().items() if "__" in k}
    for name, value in params.items():
        assert np.shape(got.get_params()[name]) == np.shape(value), name
    assert_array_equal(kernel.theta, before)  # the original is untouched


def test_sampling_factor_warns_only_beyond_rounding():
    from skbdl.gaussian_process._linalg import sampling_factor

    C_pd = np.array([[2.0, 0.5], [0.5, 1.0]])
    A = sampling_factor(C_pd)
    assert_allclose(A @ A.T, C_pd)
    singular = np.outer([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) * 1e-9  # rank 1
    singular[0, 0] -= 1e-22  # indefinite by rounding only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A = sampling_factor(singular)
    assert_allclose(A @ A.T, singular, atol=1e-20)
    with pytest.warns(RuntimeWarning, match="not positive semi-definite"):
        A = sampling_factor(np.diag([1.0, -0.1]))
    assert_allclose(A @ A.T, np.diag([1.0, 0.0]))
