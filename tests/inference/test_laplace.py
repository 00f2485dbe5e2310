"""Laplace approximation against independent oracles.

The oracles are the closed-form Bayesian linear regression of ``scenarios``,
autograd Jacobians, laplace-torch applied to a copy of the trained network
(``oracles``) and brute-force NumPy grid searches; none calls skbdl's own
evidence, held-out objective or curvature code.
"""

import copy

import numpy as np
import pytest
import torch

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl._nn import TrainingProblem, likelihood_for
from skbdl.inference import Laplace
from skbdl.priors import GaussianPrior
from skbdl.utils._random import Seeds
from skbdl.utils._torch import make_generator

import oracles
import scenarios

# BackPACK (imported by laplace-torch) decorates functions with torch.jit.script.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)

X_LIN, Y_LIN = scenarios.linear_regression(n=40, seed=0)
X_LIN, Y_LIN = X_LIN.astype(np.float32), Y_LIN.astype(np.float32)
_rng = np.random.RandomState(0)
_rng.randn(40, 4)  # the draws linear_regression(seed=0) made: X 40 x 3, noise 40
X_CLF = _rng.randn(60, 4).astype(np.float32)
Y_CLF = (X_CLF[:, 0] + X_CLF[:, 1] > 0).astype(int) + (X_CLF[:, 2] > 0.8)
_LOG_BOUNDS = (np.log(1e-4), np.log(1e6))  # Laplace's search range of delta and s


# ---------------------------------------------------------------------------
# skbdl internals used by the oracle tests below (adapt when they move).
def _problem(X, y, task, hidden=(), n_outputs=1, epochs=30, activation="tanh"):
    dtype = torch.long if task == "classification" else torch.float32
    return TrainingProblem(
        X=torch.as_tensor(X),
        y=torch.as_tensor(y, dtype=dtype),
        likelihood=likelihood_for(task),
        n_outputs=n_outputs,
        hidden_layer_sizes=hidden,
        activation=activation,
        prior=GaussianPrior(1.0),
        seeds=Seeds.from_random_state(0),
        max_epochs=epochs,
        batch_size=16,
        lr=1e-2,
    )


def _train_valid_rows(la, problem):
    """``(X_train, y_train, X_valid, y_valid)`` (float64 arrays) of the split
    a fitted ``Laplace(prior_precision="holdout")`` trained and tuned on."""
    train, (X_va, y_va) = la._split(problem)
    return tuple(t.double().numpy() for t in (train.X, train.y, X_va, y_va))


def _posterior(la):
    """``(head_mean, latent_var, cov, H, diag_H)`` of a fitted Laplace: the
    posterior mean of the head ``[W | b]`` (flattened), ``phi -> latent
    variance`` of last-layer features ``phi`` (n, d + 1), the dense posterior
    covariance and GGN (``hessian="full"``, else None) and the GGN diagonal
    (``hessian="diag"``, else None)."""
    post = la._posterior
    mean = la._theta[-1].reshape(-1).numpy()

    def latent_var(phi):
        return post.latent_var([torch.as_tensor(phi)], None)[:, 0].numpy()

    diag = None
    if la.hessian == "diag":
        diag = torch.cat([h.reshape(-1) for h in post._h])
    full = la.hessian == "full"
    return (
        mean,
        latent_var,
        post.cov.numpy() if full else None,
        post.H if full else None,
        diag,
    )


def _online_hyper_steps(la, problem, steps, lr):
    """Run ``steps`` Adam steps of the online marginal-likelihood update of a
    fitted all-layer, layerwise ``Laplace(prior_precision="online")`` from
    log delta = 0 at its final weights; return the log precisions."""
    from skbdl.inference._laplace_online import OnlineEnergy, OnlineMarglik

    energy = OnlineEnergy(problem.prior, 0, torch.zeros(2, dtype=torch.float64))
    OnlineMarglik(
        la, problem, energy, None, burnin=0, frequency=1, steps=steps, lr=lr
    ).update(la.module_)
    return energy.log_delta.numpy()


# ---------------------------------------------------------------------------


def _blr(delta, sigma, X=X_LIN, y=Y_LIN):
    """Closed-form Bayesian linear regression with a bias feature, float64."""
    phi = scenarios.with_bias(X)
    mean, cov = scenarios.blr_posterior(phi, y, delta, sigma**2)
    return phi, mean, cov, scenarios.blr_log_evidence(phi, y, delta, sigma**2)


def _oracle_net(la):
    return oracles.augmented_network(*oracles.mlp_layers(la.module_))


@pytest.mark.parametrize("hessian", ["full", "kron"])
def test_no_hidden_layer_is_bayesian_linear_regression(hessian):
    la = Laplace(hessian=hessian, prior_precision=2.0, sigma_noise=0.5)
    la.fit(_problem(X_LIN, Y_LIN, "regression"))
    phi, mean, cov, lml = _blr(2.0, 0.5)
    theta, latent_var, la_cov, _, _ = _posterior(la)
    # Both sides in float64 on the same float32-exact inputs: they agree to
    # ~1e-12; 1e-6 still catches any error in the algebra.
    np.testing.assert_allclose(theta, mean, atol=1e-6)
    blr_var = scenarios.blr_predictive(phi, mean, cov)[1]
    np.testing.assert_allclose(latent_var(phi), blr_var, atol=1e-6)
    if hessian == "full":
        np.testing.assert_allclose(la_cov, cov, atol=1e-6)
    assert la.log_marginal_likelihood_ == pytest.approx(lml, abs=1e-6)


def test_tuned_linear_regression_maximises_the_exact_evidence():
    la = Laplace(hessian="full", prior_precision="marglik")
    la.fit(_problem(X_LIN, Y_LIN, "regression"))
    delta, sigma = float(la.prior_precision_[0]), la.sigma_noise_
    assert la.log_marginal_likelihood_ == pytest.approx(_blr(delta, sigma)[3], abs=1e-6)
    for d_delta, d_sigma in [(1.05, 1), (0.95, 1), (1, 1.02), (1, 0.98)]:
        assert _blr(delta * d_delta, sigma * d_sigma)[3] < la.log_marginal_likelihood_
    # Brute force over (log delta, log sigma^2) in the search bounds: the grid
    # maximum is no higher (up to float32 inputs, 1e-6 relative), and it lies
    # within two fine grid steps of skbdl's choice.
    phi, y = scenarios.with_bias(X_LIN), Y_LIN.astype(np.float64)
    log_var_bounds = (-_LOG_BOUNDS[1], -_LOG_BOUNDS[0])  # sigma^2 = 1 / s
    axes = [np.linspace(*_LOG_BOUNDS, 461), np.linspace(*log_var_bounds, 461)]
    (ld, lv), best = oracles.grid_argmax(
        lambda a, b: scenarios.blr_log_evidence(phi, y, np.exp(a), np.exp(b)),
        axes,
        n_refine=201,
    )
    assert la.log_marginal_likelihood_ >= best - 1e-6 * abs(best)
    fine_step = 4 * 0.05 / 200  # +-2 coarse steps of 0.05 in 201 points
    assert abs(np.log(delta) - ld) <= 2 * fine_step
    assert abs(2 * np.log(sigma) - lv) <= 2 * fine_step


def _ggn_autograd(la, X, task):
    """Brute-force GGN sum_i J_i^T Lambda_i J_i from float64 autograd Jacobians."""
    m = copy.deepcopy(la.module_).double()
    X = X.double()
    names = [n for n, _ in m.named_parameters()]
    names = names[2 * (0 if la.subset == "all" else len(m.hidden)) :]
    params = {n: p.detach() for n, p in m.named_parameters()}

    def head(*values):
        return torch.func.functional_call(
            m, {**params, **dict(zip(names, values))}, (X,)
        )

    f = head(*[params[n] for n in names])
    jac = torch.autograd.functional.jacobian(
        head, tuple(params[n] for n in names), vectorize=True
    )
    J = torch.cat(
        [
            torch.cat([w, b[..., None]], -1).flatten(2)
            for w, b in zip(jac[0::2], jac[1::2])
        ],
        -1,
    )  # [W | b], outputs outer
    assert task == "classification"
    p = torch.softmax(f, -1)  # Hessian of the cross-entropy in the logits
    lam = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    return torch.einsum("nkp,nkl,nlq->pq", J, lam, J)


@pytest.mark.parametrize("subset", ["last_layer", "all"])
def test_ggn_full_and_diag_match_autograd(subset):
    X, y = X_CLF[:24], Y_CLF[:24]
    problem = _problem(X, y, "classification", hidden=(5,), n_outputs=3)
    full = Laplace(subset, "full", prior_precision=1.0).fit(problem)
    diag = Laplace(subset, "diag", prior_precision=1.0).fit(problem)
    expected = _ggn_autograd(full, torch.as_tensor(X), "classification")
    # float64 on both sides; only the summation order differs
    torch.testing.assert_close(_posterior(full)[3], expected, atol=1e-8, rtol=1e-6)
    torch.testing.assert_close(
        _posterior(diag)[4], expected.diagonal(), atol=1e-8, rtol=1e-6
    )


@pytest.mark.parametrize("hessian", ["full", "kron"])
@pytest.mark.parametrize("subset", ["last_layer", "all"])
def test_variance_fn_equals_set_and_latent_var(subset, hessian):
    """The held-out variance with rows projected once (on H's eigenvectors,
    or on the Kronecker factors') equals set() + latent_var()."""
    la = Laplace(subset, hessian, prior_precision=1.0).fit(
        _problem(X_CLF, Y_CLF, "classification", hidden=(5,), n_outputs=3)
    )
    X = torch.as_tensor(X_CLF[:9]).double()
    inputs, g, _ = la._factors(X, lik=False)
    variance = la._posterior.variance_fn(inputs, g)
    deltas = [
        torch.full((len(la._theta),), v, dtype=torch.float64) for v in [0.3, 4.0, 50.0]
    ]
    if subset == "all":  # per-layer precisions take the Cholesky path
        deltas.append(torch.tensor([0.5, 20.0], dtype=torch.float64))
    for d in deltas:
        fast = variance(d, 1.0)
        la._posterior.set(d, 1.0)
        torch.testing.assert_close(
            fast, la._posterior.latent_var(inputs, g), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("subset,hidden", [("last_layer", (6,)), ("all", ())])
def test_kron_equals_full_for_one_output_and_one_layer(subset, hidden):
    problem = _problem(X_LIN, Y_LIN, "regression", hidden=hidden)
    kw = dict(prior_precision=0.7, sigma_noise=0.6)
    full = Laplace(subset, "full", **kw).fit(problem)
    kron = Laplace(subset, "kron", **kw).fit(problem)
    X = torch.as_tensor(np.random.RandomState(5).randn(7, 3).astype(np.float32))
    np.testing.assert_allclose(
        kron.predict_f(X)[1].numpy(), full.predict_f(X)[1].numpy(), rtol=1e-4
    )
    assert kron.log_marginal_likelihood_ == pytest.approx(
        full.log_marginal_likelihood_, rel=1e-8
    )


@pytest.mark.parametrize(
    "subset,hessian", [("last_layer", "kron"), ("all", "diag"), ("all", "full")]
)
def test_probit_and_mc_agree(subset, hessian):
    kw = dict(hidden_layer_sizes=(8,), max_epochs=40, random_state=0)
    probit = BayesianMLPClassifier(
        method=Laplace(subset, hessian, prior_precision=20.0), **kw
    )
    probit.fit(X_CLF, Y_CLF)
    mc = BayesianMLPClassifier(
        method=Laplace(
            subset, hessian, prior_precision=20.0, link="mc", n_samples=4000
        ),
        **kw,
    ).fit(X_CLF, Y_CLF)
    p_probit, p_mc = probit.predict_proba(X_CLF), mc.predict_proba(X_CLF)
    assert np.abs(p_probit - p_mc).max() < 0.05
    np.testing.assert_allclose(
        p_mc, mc.predict_proba_samples(X_CLF).mean(-1), atol=1e-6
    )
    draws = probit.predict_proba_samples(X_CLF, n_samples=4000).mean(-1)
    assert np.abs(p_probit - draws).max() < 0.05


def test_glm_latent_moments_match_draws():
    """Closed-form linearised mean/variance equal the moments of the GLM draws."""
    la = Laplace("all", "kron", prior_precision=3.0).fit(
        _problem(X_CLF, Y_CLF, "classification", hidden=(6,), n_outputs=3)
    )
    X = torch.as_tensor(X_CLF[:10])
    mean, var = la.predict_f(X)
    f = la.sample_f(X, 20000, make_generator(1))
    np.testing.assert_allclose(f.mean(0).numpy(), mean.numpy(), atol=0.05)
    np.testing.assert_allclose(f.var(0).numpy(), var.numpy(), rtol=0.06, atol=1e-4)


def test_draws_are_whole_functions():
    la = Laplace("all", "diag", pred_type="nn", prior_precision=1.0).fit(
        _problem(X_CLF, Y_CLF, "classification", hidden=(6,), n_outputs=3)
    )
    X = torch.as_tensor(X_CLF)
    f = la.sample_f(X, 5, make_generator(3))
    # same functions; only float32 summation order differs with the row count
    np.testing.assert_allclose(
        la.sample_f(X[7:19], 5, make_generator(3)).numpy(),
        f[:, 7:19].numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_sinusoid_noise_and_extrapolation():
    rs = np.random.RandomState(1)
    X = rs.uniform(0, 8, size=(150, 1))
    y = np.sin(X[:, 0]) + 0.3 * rs.randn(150)
    reg = BayesianMLPRegressor(
        50,
        activation="tanh",
        max_epochs=300,
        lr=1e-2,
        random_state=0,
        method=Laplace("all", "full", prior_precision="marglik"),
    )
    reg.fit(X, y)
    sigma = np.sqrt(reg.predict_uncertainty(X[:1]).aleatoric[0])
    # The evidence-optimal noise given the MAP is sigma^2 = RSS / (N - gamma),
    # gamma the effective number of well-determined weights (MacKay, 1992):
    # at least the residual mean square, and for gamma <= N / 5 at most 1.25
    # times it. (How close the MAP residuals are to the true noise, 0.3,
    # depends on the optimisation, not on Laplace: 0.31-0.35 over seeds.)
    rms = np.sqrt(np.mean((y - reg.predict(X)) ** 2))
    assert rms <= sigma <= np.sqrt(1.25) * rms
    assert 0.25 <= sigma <= 0.45
    std_in = reg.predict(X, return_std=True)[1].mean()
    std_out = reg.predict(np.array([[-5.0], [13.0]]), return_std=True)[1]
    assert np.all(std_out >= 3 * std_in)
    assert np.all(reg.predict(X, return_std=True)[1] >= sigma)  # noise included


def test_memory_budget_error_suggests_cheaper_structures():
    la = Laplace("all", "full", max_memory_mb=0.01)
    with pytest.raises(ValueError, match="hessian='kron' or 'diag'.*last_layer"):
        la.fit(
            _problem(
                X_CLF, Y_CLF, "classification", hidden=(20,), n_outputs=3, epochs=1
            )
        )


def test_holdout_prior_precision_is_reproducible():
    kw = dict(hidden_layer_sizes=(8,), max_epochs=20, random_state=0, method="laplace")
    a = BayesianMLPClassifier(**kw).fit(X_CLF, Y_CLF)
    b = BayesianMLPClassifier(**kw).fit(X_CLF, Y_CLF)
    assert a.method_.prior_precision_ == pytest.approx(b.method_.prior_precision_)
    np.testing.assert_array_equal(a.predict_proba(X_CLF), b.predict_proba(X_CLF))


def _last_layer_oracle(la, X_tr, y_tr):
    """Exact Bayesian linear regression on the trained features, vectorised
    over (log delta, log s): returns ``evidence(ld, ls)`` and
    ``heldout_nll(X_va, y_va)(ld, ls)``. ``s = 1 / sigma^2``; the mean is the
    posterior mean at the same (delta, s), as for any exact BLR."""
    layers, activation = oracles.mlp_layers(la.module_)
    phi = scenarios.with_bias(oracles.hidden_features(layers, activation, X_tr))
    lam, V = np.linalg.eigh(phi.T @ phi)
    b = V.T @ phi.T @ y_tr

    def evidence(ld, ls):
        return scenarios.blr_log_evidence(phi, y_tr, np.exp(ld), np.exp(-ls))

    def heldout_nll(X_va, y_va):
        q = scenarios.with_bias(oracles.hidden_features(layers, activation, X_va)) @ V

        def nll(ld, ls):
            s, delta = np.exp(ls)[..., None], np.exp(ld)[..., None]
            w = 1.0 / (s * lam + delta)  # posterior covariance in V's basis
            mean = (s * b * w) @ q.T
            total = w @ (q**2).T + 1.0 / s
            return (
                0.5 * (np.log(2 * np.pi * total) + (y_va - mean) ** 2 / total)
            ).mean(-1)

        return nll

    return evidence, heldout_nll


def _all_layer_oracle(la, X_tr, y_tr):
    """KFAC Laplace of all layers at the trained weights, from laplace-torch's
    factors on the training rows and dense NumPy algebra (each layer's block
    ``s B (x) A + delta I`` diagonalised explicitly); returns
    ``evidence(ld, ls)`` and ``heldout_nll(X_va, y_va)(ld, ls)`` (the mean is
    the trained network, as the Laplace of all layers is centred on it)."""
    net = _oracle_net(la)
    ref = oracles.laplace_torch(net, X_tr, y_tr, "regression", "all", "kron")
    eig = oracles.kron_eigh(oracles.kron_factors(ref))
    theta_sq = sum((w**2).sum() for w in (p.detach().numpy() for p in net.parameters()))
    with torch.no_grad():
        rss = float(((net(torch.as_tensor(X_tr))[:, 0].numpy() - y_tr) ** 2).sum())
    n = len(y_tr)

    def evidence(ld, ls):
        s, delta = np.exp(ls), np.exp(ld)
        log_det = sum(
            np.log1p(s[..., None] * np.clip(lam, 0, None) / delta[..., None]).sum(-1)
            for lam, _ in eig
        )
        loglik = -0.5 * s * rss + 0.5 * n * (ls - np.log(2 * np.pi))
        return loglik - 0.5 * delta * theta_sq - 0.5 * log_det

    def heldout_nll(X_va, y_va):
        J = oracles.network_jacobian(net, X_va)[:, 0]
        with torch.no_grad():
            mean = net(torch.as_tensor(X_va))[:, 0].numpy()
        sizes = np.cumsum([0] + [len(lam) for lam, _ in eig])
        proj = [
            (J[:, a:b] @ V) ** 2 for (_, V), a, b in zip(eig, sizes[:-1], sizes[1:])
        ]

        def nll(ld, ls):
            s, delta = np.exp(ls)[..., None], np.exp(ld)[..., None]
            total = 1.0 / s[..., 0, None]
            total = total + sum(
                (1.0 / (s * np.clip(lam, 0, None) + delta)) @ p.T
                for (lam, _), p in zip(eig, proj)
            )
            return (
                0.5 * (np.log(2 * np.pi * total) + (y_va - mean) ** 2 / total)
            ).mean(-1)

        return nll

    # the oracle's own formula is laplace-torch's log marginal likelihood
    f64 = dict(dtype=torch.float64)
    value = float(
        ref.log_marginal_likelihood(torch.tensor(0.7, **f64), torch.tensor(0.4, **f64))
    )
    assert evidence(np.log(0.7), -2 * np.log(0.4)) == pytest.approx(value, rel=1e-10)
    return evidence, heldout_nll


_ORACLES = {"last_layer": _last_layer_oracle, "all": _all_layer_oracle}
# grids over the search bounds: log delta (step 0.1) and log s (step 0.1)
_GRID = [np.linspace(*_LOG_BOUNDS, 231), np.linspace(*_LOG_BOUNDS, 231)]


def _best_log_s(evidence, log_delta):
    """Brute-force argmax of the evidence over log s (step 1e-4 after 0.01)."""
    axis = np.linspace(*_LOG_BOUNDS, 2301)
    (ls,), _ = oracles.grid_argmax(
        lambda a: evidence(np.full_like(a, log_delta), a),
        [axis],
        refine=[0.02],
        n_refine=401,
    )
    return ls


def _holdout_problem():
    rs = np.random.RandomState(3)
    X = rs.uniform(-2, 2, (250, 2)).astype(np.float32)  # 25 held-out rows
    y = (np.sin(2 * X[:, 0]) * X[:, 1] + 0.2 * rs.randn(250)).astype(np.float32)
    return _problem(X, y, "regression", hidden=(32,), epochs=80)


@pytest.mark.parametrize("subset", ["last_layer", "all"])
def test_holdout_noise_and_precision_minimise_the_heldout_nll(subset):
    """``sigma_noise="auto"``: (delta, sigma) minimises the held-out NLL over
    the search bounds, as a brute-force grid search over both finds."""
    problem = _holdout_problem()
    la = Laplace(subset).fit(problem)
    X_tr, y_tr, X_va, y_va = _train_valid_rows(la, problem)
    nll = _ORACLES[subset](la, X_tr, y_tr)[1](X_va, y_va)
    ld, ls = float(np.log(la.prior_precision_[0])), -2.0 * np.log(la.sigma_noise_)
    (ld_grid, ls_grid), best = oracles.grid_argmax(
        lambda a, b: -nll(a, b), _GRID, n_refine=81
    )
    best = -best
    # skbdl stops its searches at xatol 0.05 in log delta and 1e-3 in log s:
    # allow the NLL rise over that box around the grid minimum, plus 1e-6 for
    # the float32 network.
    box = np.meshgrid(
        np.clip(ld_grid + np.linspace(-0.05, 0.05, 11), *_LOG_BOUNDS),
        np.clip(ls_grid + np.linspace(-1e-3, 1e-3, 11), *_LOG_BOUNDS),
        indexing="ij",
    )
    tol = float(nll(*box).max()) - best + 1e-6
    chosen = float(nll(np.array(ld), np.array(ls)))
    assert chosen <= best + tol, (
        f"held-out NLL {chosen:.6f} at skbdl's (log delta, log s) = ({ld:.3f}, "
        f"{ls:.3f}); the grid finds {best:.6f} at ({ld_grid:.3f}, {ls_grid:.3f})"
    )


@pytest.mark.parametrize("subset", ["last_layer", "all"])
def test_marglik_noise_maximises_the_evidence_at_the_heldout_precision(subset):
    """``sigma_noise="marglik"`` keeps the evidence's noise (brute-force argmax
    of the oracle evidence on the training rows) at the held-out precision,
    which differs from the held-out noise of ``"auto"``."""
    problem = _holdout_problem()
    marglik = Laplace(subset, sigma_noise="marglik").fit(problem)
    X_tr, y_tr, _, _ = _train_valid_rows(marglik, problem)
    evidence = _ORACLES[subset](marglik, X_tr, y_tr)[0]
    ld = float(np.log(marglik.prior_precision_[0]))
    # Brent's xatol 1e-3 in log s, plus the 1e-4 grid step
    assert -2.0 * np.log(marglik.sigma_noise_) == pytest.approx(
        _best_log_s(evidence, ld), abs=1.5e-3
    )
    auto = Laplace(subset).fit(problem)
    assert abs(marglik.sigma_noise_ - auto.sigma_noise_) > 0.01 * auto.sigma_noise_


def test_few_heldout_rows_take_the_noise_from_the_evidence():
    """Under 20 held-out rows "auto" falls back to the evidence's noise: the
    exact BLR evidence of the training rows' features, maximised by brute force."""
    problem = _problem(X_LIN, Y_LIN, "regression", hidden=(8,))  # 4 held-out rows
    la = Laplace().fit(problem)
    X_tr, y_tr, _, _ = _train_valid_rows(la, problem)
    evidence, _ = _last_layer_oracle(la, X_tr, y_tr)
    ld = float(np.log(la.prior_precision_[0]))
    assert -2.0 * np.log(la.sigma_noise_) == pytest.approx(
        _best_log_s(evidence, ld), abs=1.5e-3
    )


def _online(problem, subset="all", **kw):
    la = Laplace(
        subset,
        "kron",
        prior_precision="online",
        prior_structure="layerwise",
        online_burnin=5,
        online_frequency=5,
        **kw,
    )
    return la.fit(problem)


def _layerwise_evidence(la, problem, task):
    """laplace-torch's all-layer KFAC Laplace at the final weights on all rows
    and the NumPy closed form of its log evidence in (log delta_l, log s), each
    layer's term separable: ``sum_l -delta_l |theta_l|^2 / 2 - sum log(1 + s
    lam / delta_l) / 2`` plus the log-likelihood."""
    net = _oracle_net(la)
    X, y = problem.X.double().numpy(), problem.y.numpy()
    ref = oracles.laplace_torch(net, X, y, task, "all", "kron")
    eig = [
        np.clip(lam, 0, None) for lam, _ in oracles.kron_eigh(oracles.kron_factors(ref))
    ]
    sq = [float((p.detach().numpy() ** 2).sum()) for p in net.parameters()]
    with torch.no_grad():
        out = net(torch.as_tensor(X))
    if task == "classification":
        loglik = -float(
            torch.nn.functional.cross_entropy(out, torch.as_tensor(y), reduction="sum")
        )
    else:
        rss = float(((out[:, 0].numpy() - y) ** 2).sum())

    def layer_term(layer, ld, ls=0.0):
        delta = np.exp(ld)
        return -0.5 * delta * sq[layer] - 0.5 * np.log1p(
            np.exp(ls)[..., None] * eig[layer] / delta[..., None]
        ).sum(-1)

    def evidence(log_delta, ls=0.0):
        ls = np.asarray(ls, dtype=float)
        value = sum(
            layer_term(i, np.asarray(d, dtype=float), ls)
            for i, d in enumerate(log_delta)
        )
        if task == "classification":
            return value + loglik
        return value - 0.5 * np.exp(ls) * rss + 0.5 * len(y) * (ls - np.log(2 * np.pi))

    return ref, evidence, layer_term


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_online_precisions_raise_the_evidence_at_the_final_weights(task):
    if task == "classification":
        problem = _problem(X_CLF, Y_CLF, task, hidden=(8,), n_outputs=3)
    else:
        problem = _problem(X_LIN, Y_LIN, task, hidden=(8,), n_outputs=1, epochs=32)
    la = _online(problem)
    # epochs 5, 10, ..., 30, plus the final weights when epoch 32 is the last
    assert la.n_marglik_updates_ == (6 if task == "classification" else 7)
    ref, evidence, _ = _layerwise_evidence(la, problem, task)
    learned = np.log(la.prior_precision_)
    sigma = la.sigma_noise_ if task == "regression" else 1.0
    noise = None
    if task == "regression":
        noise = torch.tensor(sigma, dtype=torch.float64)
    precision = torch.as_tensor(la.prior_precision_)
    value = float(ref.log_marginal_likelihood(precision, noise))
    assert evidence(learned, -2 * np.log(sigma)) == pytest.approx(value, rel=1e-10)
    # float64 on both sides from the same float32 weights
    assert la.log_marginal_likelihood_ == pytest.approx(value, rel=1e-8)
    initial = np.zeros(len(learned))  # GaussianPrior(1.0)
    ls0 = 0.0
    if task == "regression":  # the best noise for the initial precisions
        ls0 = _best_log_s(lambda ld, ls: evidence(initial, ls), 0.0)
    assert value > float(evidence(initial, ls0)) + 1.0


def test_online_hyper_steps_converge_to_the_evidence_maximum():
    """600 Adam steps on the precisions reach the evidence maximum, found by
    brute force on each layer's separable term (grid step 1e-3 in log delta)."""
    problem = _problem(
        X_CLF, Y_CLF, "classification", hidden=(8,), n_outputs=3, epochs=10
    )
    la = _online(problem)
    log_delta = _online_hyper_steps(la, problem, steps=600, lr=0.1)
    _, _, layer_term = _layerwise_evidence(la, problem, "classification")
    axis = np.linspace(*_LOG_BOUNDS, 2301)
    expected = [
        oracles.grid_argmax(
            lambda a, i=i: layer_term(i, a), [axis], refine=[0.02], n_refine=41
        )[0][0]
        for i in range(2)
    ]
    # The fine grid step is 5e-4; 600 Adam steps of lr 0.1 on this smooth
    # concave term end within 3e-4 of its maximum here, a wrong gradient (say
    # a missing factor 1/2 on the log-determinant) moves it by more than 0.1.
    np.testing.assert_allclose(log_delta, expected, atol=2e-3)


def test_online_prior_precision_is_reproducible_and_used_in_training():
    method = Laplace(
        "last_layer",
        "kron",
        prior_precision="online",
        online_burnin=2,
        online_frequency=2,
    )
    kw = dict(
        hidden_layer_sizes=(8,), max_epochs=10, lr=1e-2, random_state=0, method=method
    )
    a = BayesianMLPClassifier(**kw).fit(X_CLF, Y_CLF)
    b = BayesianMLPClassifier(**kw).fit(X_CLF, Y_CLF)
    assert a.method_.prior_precision_ == pytest.approx(b.method_.prior_precision_)
    np.testing.assert_array_equal(a.predict_proba(X_CLF), b.predict_proba(X_CLF))
    fixed = Laplace("last_layer", "kron", prior_precision=1.0)
    c = BayesianMLPClassifier(**{**kw, "method": fixed}).fit(X_CLF, Y_CLF)
    assert a.method_.prior_precision_[0] != pytest.approx(1.0, rel=0.05)
    # the learned head precision changed the MAP itself, not only the posterior
    assert not torch.allclose(
        a.method_.module_.head.weight, c.method_.module_.head.weight
    )


@pytest.mark.parametrize("first,log_delta", [(0, [0.5]), (0, [0.5, -1.0]), (1, [2.0])])
def test_online_energy_is_the_gaussian_prior_of_the_laplace_layers(first, log_delta):
    from skbdl.inference._laplace_online import OnlineEnergy

    module = _problem(
        X_CLF, Y_CLF, "classification", hidden=(5,), n_outputs=3
    ).build_module(Seeds.from_random_state(0))
    prior = GaussianPrior(0.5)
    energy = OnlineEnergy(prior, first, torch.tensor(log_delta, dtype=torch.float64))
    layers = module.layers()
    delta = np.broadcast_to(np.exp(log_delta), (len(layers) - first,))
    with torch.no_grad():
        expected = sum(float(prior.neg_log_prob(layer)) for layer in layers[:first])
        expected += sum(
            0.5 * d * sum(float((p.double() ** 2).sum()) for p in layer)
            for d, layer in zip(delta, layers[first:])
        )
        assert float(energy(module)) == pytest.approx(expected, rel=1e-5)


def test_a_tuned_precision_on_the_edge_of_its_range_warns():
    """On digits the held-out search picks 1e6 (the top): Laplace is then MAP.

    Measured: 300 digits rows, MLP (16,), 30 epochs, holdout -> 1e6; the
    default regressor on a 120-row sinusoid -> 4e-4 (inside the range, no
    warning).
    """
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:300])
    clf = BayesianMLPClassifier((16,), method=Laplace(prior_precision="holdout"),
                                max_epochs=30, random_state=0)
    match = r"top of its search range \(1e\+06.*method='map'"
    with pytest.warns(UserWarning, match=match):
        clf.fit(X, y[:300])
    assert clf.method_.prior_precision_[0] == pytest.approx(1e6, rel=0.05)
    rng = np.random.RandomState(0)
    Xr = rng.uniform(-2, 2, (120, 1))
    yr = np.sin(2 * Xr[:, 0]) + 0.1 * rng.randn(120)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Laplace's tuned prior precision")
        reg = BayesianMLPRegressor((16,), max_epochs=100, random_state=0).fit(Xr, yr)
    assert 1e-4 < reg.method_.prior_precision_[0] < 1e6
