"""Laplace approximation against closed-form oracles (DESIGN §4)."""

import copy

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.inference import Laplace
from skbdl._nn import TrainingProblem, likelihood_for
from skbdl.priors import GaussianPrior
from skbdl.utils._torch import make_generator

rng = np.random.RandomState(0)
X_LIN = rng.randn(40, 3).astype(np.float32)
Y_LIN = (X_LIN @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.4 * rng.randn(40)).astype(np.float32)
X_CLF = rng.randn(60, 4).astype(np.float32)
Y_CLF = (X_CLF[:, 0] + X_CLF[:, 1] > 0).astype(int) + (X_CLF[:, 2] > 0.8)


def _problem(X, y, task, hidden=(), n_outputs=1, epochs=30, activation="tanh"):
    dtype = torch.long if task == "classification" else torch.float32
    return TrainingProblem(X=torch.as_tensor(X), y=torch.as_tensor(y, dtype=dtype),
                           likelihood=likelihood_for(task), n_outputs=n_outputs, hidden_layer_sizes=hidden, activation=activation,
                           prior=GaussianPrior(1.0), seed=0, max_epochs=epochs, batch_size=16,
                           lr=1e-2)


def _blr(delta, sigma):
    """Closed-form Bayesian linear regression with a bias feature, float64."""
    phi = np.column_stack([X_LIN.astype(np.float64), np.ones(len(X_LIN))])
    y = Y_LIN.astype(np.float64)
    cov = np.linalg.inv(phi.T @ phi / sigma**2 + delta * np.eye(phi.shape[1]))
    mean = cov @ phi.T @ y / sigma**2
    marginal = phi @ phi.T / delta + sigma**2 * np.eye(len(y))
    return phi, mean, cov, multivariate_normal(np.zeros(len(y)), marginal).logpdf(y)


@pytest.mark.parametrize("hessian", ["full", "kron"])
def test_no_hidden_layer_is_bayesian_linear_regression(hessian):
    la = Laplace(hessian=hessian, prior_precision=2.0, sigma_noise=0.5)
    la.fit(_problem(X_LIN, Y_LIN, "regression"))
    phi, mean, cov, lml = _blr(2.0, 0.5)
    theta = la._theta[-1][0].numpy()
    np.testing.assert_allclose(theta, mean, atol=1e-6)
    var = la._posterior.latent_var([torch.as_tensor(phi)], None)[:, 0].numpy()
    np.testing.assert_allclose(var, np.einsum("ni,ij,nj->n", phi, cov, phi), atol=1e-6)
    if hessian == "full":
        np.testing.assert_allclose(la._posterior.cov.numpy(), cov, atol=1e-6)
    assert la.log_marginal_likelihood_ == pytest.approx(lml, abs=1e-6)


def test_tuned_linear_regression_maximises_the_exact_evidence():
    la = Laplace(hessian="full", prior_precision="marglik").fit(_problem(X_LIN, Y_LIN, "regression"))
    delta, sigma = float(la.prior_precision_[0]), la.sigma_noise_
    assert la.log_marginal_likelihood_ == pytest.approx(_blr(delta, sigma)[3], abs=1e-6)
    for d_delta, d_sigma in [(1.05, 1), (0.95, 1), (1, 1.02), (1, 0.98)]:
        assert _blr(delta * d_delta, sigma * d_sigma)[3] < la.log_marginal_likelihood_


def _ggn_autograd(la, X, task):
    """Brute-force GGN sum_i J_i^T Lambda_i J_i from float64 autograd Jacobians."""
    m = copy.deepcopy(la.module_).double()
    X = X.double()
    names = [n for n, _ in m.named_parameters()]
    names = names[2 * la._first:]
    params = {n: p.detach() for n, p in m.named_parameters()}

    def head(*values):
        return torch.func.functional_call(m, {**params, **dict(zip(names, values))}, (X,))

    f = head(*[params[n] for n in names])
    jac = torch.autograd.functional.jacobian(head, tuple(params[n] for n in names),
                                             vectorize=True)
    J = torch.cat([torch.cat([w, b[..., None]], -1).flatten(2)
                   for w, b in zip(jac[0::2], jac[1::2])], -1)  # [W | b], outputs outer
    L = likelihood_for(task).hessian_sqrt(f)
    return torch.einsum("nkp,nkl,nlq->pq", J, L @ L.transpose(1, 2), J)


@pytest.mark.parametrize("subset", ["last_layer", "all"])
def test_ggn_full_and_diag_match_autograd(subset):
    X, y = X_CLF[:24], Y_CLF[:24]
    problem = _problem(X, y, "classification", hidden=(5,), n_outputs=3)
    full = Laplace(subset, "full", prior_precision=1.0).fit(problem)
    diag = Laplace(subset, "diag", prior_precision=1.0).fit(problem)
    expected = _ggn_autograd(full, torch.as_tensor(X), "classification")
    torch.testing.assert_close(full._posterior.H, expected, atol=1e-8, rtol=1e-6)
    got_diag = torch.cat([h.reshape(-1) for h in diag._posterior._h])
    torch.testing.assert_close(got_diag, expected.diagonal(), atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("hessian", ["full", "kron"])
@pytest.mark.parametrize("subset", ["last_layer", "all"])
def test_variance_fn_equals_set_and_latent_var(subset, hessian):
    """The held-out variance with rows projected once (on H's eigenvectors,
    or on the Kronecker factors') equals set() + latent_var()."""
    la = Laplace(subset, hessian, prior_precision=1.0).fit(
        _problem(X_CLF, Y_CLF, "classification", hidden=(5,), n_outputs=3))
    X = torch.as_tensor(X_CLF[:9]).double()
    inputs, g, _ = la._factors(X, lik=False)
    variance = la._posterior.variance_fn(inputs, g)
    deltas = [torch.full((len(la._theta),), v, dtype=torch.float64) for v in [0.3, 4.0, 50.0]]
    if subset == "all":  # per-layer precisions take the Cholesky path
        deltas.append(torch.tensor([0.5, 20.0], dtype=torch.float64))
    for d in deltas:
        fast = variance(d, 1.0)
        la._posterior.set(d, 1.0)
        torch.testing.assert_close(fast, la._posterior.latent_var(inputs, g), rtol=1e-9,
                                   atol=1e-12)


@pytest.mark.parametrize("subset,hidden", [("last_layer", (6,)), ("all", ())])
def test_kron_equals_full_for_one_output_and_one_layer(subset, hidden):
    problem = _problem(X_LIN, Y_LIN, "regression", hidden=hidden)
    kw = dict(prior_precision=0.7, sigma_noise=0.6)
    full = Laplace(subset, "full", **kw).fit(problem)
    kron = Laplace(subset, "kron", **kw).fit(problem)
    X = torch.as_tensor(rng.randn(7, 3).astype(np.float32))
    np.testing.assert_allclose(kron.predict_f(X)[1].numpy(), full.predict_f(X)[1].numpy(),
                               rtol=1e-4)
    assert kron.log_marginal_likelihood_ == pytest.approx(full.log_marginal_likelihood_, rel=1e-8)


@pytest.mark.parametrize("subset,hessian", [("last_layer", "kron"), ("all", "diag"),
                                            ("all", "full")])
def test_probit_and_mc_agree(subset, hessian):
    kw = dict(hidden_layer_sizes=(8,), max_epochs=40, random_state=0)
    probit = BayesianMLPClassifier(method=Laplace(subset, hessian, prior_precision=20.0), **kw)
    probit.fit(X_CLF, Y_CLF)
    mc = BayesianMLPClassifier(method=Laplace(subset, hessian, prior_precision=20.0, link="mc",
                                              n_samples=4000), **kw).fit(X_CLF, Y_CLF)
    p_probit, p_mc = probit.predict_proba(X_CLF), mc.predict_proba(X_CLF)
    assert np.abs(p_probit - p_mc).max() < 0.05
    np.testing.assert_allclose(p_mc, mc.predict_proba_samples(X_CLF).mean(-1), atol=1e-6)
    draws = probit.predict_proba_samples(X_CLF, n_samples=4000).mean(-1)
    assert np.abs(p_probit - draws).max() < 0.05


def test_glm_latent_moments_match_draws():
    """Closed-form linearised mean/variance equal the moments of the GLM draws."""
    la = Laplace("all", "kron", prior_precision=3.0).fit(
        _problem(X_CLF, Y_CLF, "classification", hidden=(6,), n_outputs=3))
    X = torch.as_tensor(X_CLF[:10])
    mean, var = la.predict_f(X)
    f = la.sample_f(X, 20000, make_generator(1))
    np.testing.assert_allclose(f.mean(0).numpy(), mean.numpy(), atol=0.05)
    np.testing.assert_allclose(f.var(0).numpy(), var.numpy(), rtol=0.06, atol=1e-4)


def test_draws_are_whole_functions():
    la = Laplace("all", "diag", pred_type="nn", prior_precision=1.0).fit(
        _problem(X_CLF, Y_CLF, "classification", hidden=(6,), n_outputs=3))
    X = torch.as_tensor(X_CLF)
    f = la.sample_f(X, 5, make_generator(3))
    # same functions; only float32 summation order differs with the row count
    np.testing.assert_allclose(la.sample_f(X[7:19], 5, make_generator(3)).numpy(),
                               f[:, 7:19].numpy(), rtol=1e-5, atol=1e-6)


def test_sinusoid_noise_and_extrapolation():
    rs = np.random.RandomState(1)
    X = rs.uniform(0, 8, size=(150, 1))
    y = np.sin(X[:, 0]) + 0.3 * rs.randn(150)
    reg = BayesianMLPRegressor(50, activation="tanh", max_epochs=300, lr=1e-2, random_state=0,
                               method=Laplace("all", "full", prior_precision="marglik"))
    reg.fit(X, y)
    sigma = np.sqrt(reg.predict_uncertainty(X[:1]).aleatoric[0])
    assert 0.25 <= sigma <= 0.35
    std_in = reg.predict(X, return_std=True)[1].mean()
    std_out = reg.predict(np.array([[-5.0], [13.0]]), return_std=True)[1]
    assert np.all(std_out >= 3 * std_in)
    assert np.all(reg.predict(X, return_std=True)[1] >= sigma)  # noise included


def test_memory_budget_error_suggests_cheaper_structures():
    la = Laplace("all", "full", max_memory_mb=0.01)
    with pytest.raises(ValueError, match="hessian='kron' or 'diag'.*last_layer"):
        la.fit(_problem(X_CLF, Y_CLF, "classification", hidden=(20,), n_outputs=3, epochs=1))


def test_holdout_prior_precision_is_reproducible():
    kw = dict(hidden_layer_sizes=(8,), max_epochs=20, random_state=0, method="laplace")
    a = BayesianMLPClassifier(**kw).fit(X_CLF, Y_CLF)
    b = BayesianMLPClassifier(**kw).fit(X_CLF, Y_CLF)
    assert a.method_.prior_precision_ == pytest.approx(b.method_.prior_precision_)
    np.testing.assert_array_equal(a.predict_proba(X_CLF), b.predict_proba(X_CLF))


@pytest.mark.parametrize("subset", ["last_layer", "all"])
def test_holdout_noise_and_precision_minimise_the_heldout_nll(subset):
    """``sigma_noise="auto"``: (delta, sigma) is a joint minimum of the held-out
    NLL, at or below the NLL with the evidence-maximising noise."""
    from skbdl.inference._laplace_tuning import _LOG_BOUNDS, best_log_s

    rs = np.random.RandomState(3)
    X = rs.uniform(-2, 2, (250, 2)).astype(np.float32)  # 25 held-out rows
    y = (np.sin(2 * X[:, 0]) * X[:, 1] + 0.2 * rs.randn(250)).astype(np.float32)
    problem = _problem(X, y, "regression", hidden=(32,), epochs=80)
    la = Laplace(subset).fit(problem)
    objective = la._heldout_objective(la._evidence, la._split(problem)[1])
    ld, ls = float(np.log(la.prior_precision_[0])), -2.0 * np.log(la.sigma_noise_)
    best = objective(ld, ls)
    for d_ld, d_ls in [(0, 0.1), (0, -0.1), (0.3, 0), (-0.3, 0), (0.3, 0.1), (-0.3, -0.1)]:
        # the precision search is bounded; "all" ends on the upper bound here
        assert objective(float(np.clip(ld + d_ld, *_LOG_BOUNDS)), ls + d_ls) >= best - 1e-9
    # sigma_noise="marglik" keeps the evidence's noise at the held-out precision
    marglik = Laplace(subset, sigma_noise="marglik").fit(problem)
    ld_m = float(np.log(marglik.prior_precision_[0]))
    assert -2.0 * np.log(marglik.sigma_noise_) == pytest.approx(
        best_log_s(marglik._evidence, ld_m))
    assert abs(marglik.sigma_noise_ - la.sigma_noise_) > 0.01 * la.sigma_noise_


def test_few_heldout_rows_take_the_noise_from_the_evidence():
    """Under 20 held-out rows "auto" falls back to the evidence's noise."""
    from skbdl.inference._laplace_tuning import best_log_s

    problem = _problem(X_LIN, Y_LIN, "regression", hidden=(8,))  # 4 held-out rows
    la = Laplace().fit(problem)
    ld = float(np.log(la.prior_precision_[0]))
    assert -2.0 * np.log(la.sigma_noise_) == pytest.approx(best_log_s(la._evidence, ld))


def _online(problem, subset="all", **kw):
    la = Laplace(subset, "kron", prior_precision="online", prior_structure="layerwise",
                 online_burnin=5, online_frequency=5, **kw)
    return la.fit(problem)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_online_precisions_raise_the_evidence_at_the_final_weights(task):
    from skbdl.inference._laplace_tuning import best_log_s

    if task == "classification":
        problem = _problem(X_CLF, Y_CLF, task, hidden=(8,), n_outputs=3)
    else:
        problem = _problem(X_LIN, Y_LIN, task, hidden=(8,), n_outputs=1, epochs=32)
    la = _online(problem)
    # epochs 5, 10, ..., 30, plus the final weights when epoch 32 is the last
    assert la.n_marglik_updates_ == (6 if task == "classification" else 7)
    evidence = la._fit_curvature(problem)  # the final weights
    learned = torch.log(torch.as_tensor(la.prior_precision_))
    log_s = torch.tensor(0.0, dtype=torch.float64)
    if task == "regression":
        log_s = torch.tensor(-2 * np.log(la.sigma_noise_), dtype=torch.float64)
    with torch.no_grad():
        value = float(evidence(learned, log_s))
        initial = torch.zeros(len(learned), dtype=torch.float64)  # GaussianPrior(1.0)
        s0 = log_s if task == "classification" else torch.tensor(
            best_log_s(evidence, initial.numpy()), dtype=torch.float64)
        start = float(evidence(initial, s0))
    assert value == pytest.approx(la.log_marginal_likelihood_, rel=1e-9)
    assert value > start + 1.0


def test_online_hyper_steps_converge_to_the_evidence_maximum():
    from skbdl.inference._laplace_online import OnlineEnergy, OnlineMarglik
    from skbdl.inference._laplace_tuning import maximize_evidence

    problem = _problem(X_CLF, Y_CLF, "classification", hidden=(8,), n_outputs=3, epochs=10)
    la = _online(problem)
    energy = OnlineEnergy(problem.prior, 0, torch.zeros(2, dtype=torch.float64))
    steps = OnlineMarglik(la, problem, energy, None, burnin=0, frequency=1, steps=600,
                          lr=0.1)
    steps.update(la.module_)
    expected, _ = maximize_evidence(la._fit_curvature(problem), np.zeros(2), 0.0, False)
    np.testing.assert_allclose(energy.log_delta.numpy(), expected, atol=1e-2)


def test_online_prior_precision_is_reproducible_and_used_in_training():
    method = Laplace("last_layer", "kron", prior_precision="online", online_burnin=2,
                     online_frequency=2)
    kw = dict(hidden_layer_sizes=(8,), max_epochs=10, lr=1e-2, random_state=0, method=method)
    a = BayesianMLPClassifier(**kw).fit(X_CLF, Y_CLF)
    b = BayesianMLPClassifier(**kw).fit(X_CLF, Y_CLF)
    assert a.method_.prior_precision_ == pytest.approx(b.method_.prior_precision_)
    np.testing.assert_array_equal(a.predict_proba(X_CLF), b.predict_proba(X_CLF))
    fixed = Laplace("last_layer", "kron", prior_precision=1.0)
    c = BayesianMLPClassifier(**{**kw, "method": fixed}).fit(X_CLF, Y_CLF)
    assert a.method_.prior_precision_[0] != pytest.approx(1.0, rel=0.05)
    # the learned head precision changed the MAP itself, not only the posterior
    assert not torch.allclose(a.method_.module_.head.weight, c.method_.module_.head.weight)


@pytest.mark.parametrize("first,log_delta", [(0, [0.5]), (0, [0.5, -1.0]), (1, [2.0])])
def test_online_energy_is_the_gaussian_prior_of_the_laplace_layers(first, log_delta):
    from skbdl.inference._laplace_online import OnlineEnergy

    module = _problem(X_CLF, Y_CLF, "classification", hidden=(5,), n_outputs=3).build_module(0)
    prior = GaussianPrior(0.5)
    energy = OnlineEnergy(prior, first, torch.tensor(log_delta, dtype=torch.float64))
    layers = module.layers()
    delta = np.broadcast_to(np.exp(log_delta), (len(layers) - first,))
    with torch.no_grad():
        expected = sum(float(prior.neg_log_prob(layer)) for layer in layers[:first])
        expected += sum(0.5 * d * sum(float((p.double() ** 2).sum()) for p in layer)
                        for d, layer in zip(delta, layers[first:]))
        assert float(energy(module)) == pytest.approx(expected, rel=1e-5)
