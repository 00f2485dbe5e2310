"""Zellner's g-prior for the Laplace layers: dense and closed-form oracles."""

import numpy as np
import pytest
import torch

from skbdl import BayesianMLPClassifier
from skbdl.inference import Laplace

import oracles
import scenarios
from .test_laplace import _LOG_BOUNDS, X_CLF, X_LIN, Y_CLF, Y_LIN, _posterior, _problem

# BackPACK (imported by laplace-torch) decorates functions with torch.jit.script.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning"
)

# "a ridge of 1e-3 times its mean eigenvalue" (Laplace's prior_covariance doc)
RIDGE = 1e-3


def _g_prior(A):
    """``A + r I`` with the ridge relative to A's mean eigenvalue."""
    return A + RIDGE * np.trace(A) / len(A) * np.eye(len(A))


def _zellner_blr(delta, sigma):
    """Bayesian linear regression with prior precision delta * (Phi^T Phi / n + r I)."""
    phi, y = scenarios.with_bias(X_LIN), Y_LIN.astype(np.float64)
    prior = delta * _g_prior(phi.T @ phi / len(y))
    mean, cov = scenarios.blr_posterior(phi, y, prior, sigma**2)
    return phi, mean, cov, scenarios.blr_log_evidence(phi, y, prior, sigma**2)


def test_no_hidden_layer_is_bayesian_linear_regression_with_a_g_prior():
    la = Laplace(prior_precision=2.0, sigma_noise=0.5, prior_covariance="zellner")
    la.fit(_problem(X_LIN, Y_LIN, "regression"))
    phi, mean, cov, lml = _zellner_blr(2.0, 0.5)
    theta, latent_var, _, _, _ = _posterior(la)
    # float64 on both sides from float32-exact inputs (agreement ~1e-12)
    np.testing.assert_allclose(theta, mean, atol=1e-6)
    blr_var = scenarios.blr_predictive(phi, mean, cov)[1]
    np.testing.assert_allclose(latent_var(phi), blr_var, atol=1e-6)
    assert la.log_marginal_likelihood_ == pytest.approx(lml, abs=1e-6)


def test_tuned_g_prior_maximises_the_exact_evidence():
    la = Laplace(prior_precision="marglik", prior_covariance="zellner")
    la.fit(_problem(X_LIN, Y_LIN, "regression"))
    delta, sigma = float(la.prior_precision_[0]), la.sigma_noise_
    assert la.log_marginal_likelihood_ == pytest.approx(
        _zellner_blr(delta, sigma)[3], abs=1e-6
    )
    for d_delta, d_sigma in [(1.05, 1), (0.95, 1), (1, 1.02), (1, 0.98)]:
        assert (
            _zellner_blr(delta * d_delta, sigma * d_sigma)[3]
            < la.log_marginal_likelihood_
        )
    # Brute force: with prior precision delta P, the evidence is the isotropic
    # one of the whitened features phi P^(-1/2), evaluated on a grid over the
    # search bounds of (log delta, log sigma^2).
    phi, y = scenarios.with_bias(X_LIN), Y_LIN.astype(np.float64)
    p, q = np.linalg.eigh(_g_prior(phi.T @ phi / len(y)))
    white = phi @ (q / np.sqrt(p)) @ q.T
    log_var_bounds = (-_LOG_BOUNDS[1], -_LOG_BOUNDS[0])  # sigma^2 = 1 / s
    axes = [np.linspace(*_LOG_BOUNDS, 461), np.linspace(*log_var_bounds, 461)]
    (ld, lv), best = oracles.grid_argmax(
        lambda a, b: scenarios.blr_log_evidence(white, y, np.exp(a), np.exp(b)),
        axes,
        n_refine=201,
    )
    assert best == pytest.approx(_zellner_blr(np.exp(ld), np.exp(lv / 2))[3], rel=1e-10)
    assert la.log_marginal_likelihood_ >= best - 1e-6 * abs(best)
    fine_step = 4 * 0.05 / 200  # +-2 coarse steps of 0.05 in 201 points
    assert abs(np.log(delta) - ld) <= 2 * fine_step
    assert abs(2 * np.log(sigma) - lv) <= 2 * fine_step


def test_all_layer_kron_g_prior_matches_the_dense_posterior():
    """Variance and evidence equal those of the dense block-diagonal precision
    ``B_l (x) A_l + delta I (x) (A_l + r I)`` built from laplace-torch's KFAC
    factors of the trained network, with autograd Jacobians."""
    delta = 3.0
    la = Laplace("all", "kron", prior_precision=delta, prior_covariance="zellner")
    la.fit(_problem(X_CLF, Y_CLF, "classification", hidden=(6,), n_outputs=3))
    layers, activation = oracles.mlp_layers(la.module_)
    net = oracles.augmented_network(layers, activation)
    ref = oracles.laplace_torch(net, X_CLF, Y_CLF, "classification", "all", "kron")
    blocks, prior_term, log_det = [], 0.0, 0.0
    for (A, B), (W, b) in zip(oracles.kron_factors(ref), layers):
        P = _g_prior(A)
        prior = delta * np.kron(np.eye(len(B)), P)
        prec = np.kron(B, A) + prior
        w = np.column_stack([W, b]).reshape(-1)
        prior_term += w @ prior @ w
        log_det += np.linalg.slogdet(prec)[1] - np.linalg.slogdet(prior)[1]
        blocks.append(np.linalg.inv(prec))
    with torch.no_grad():
        logits = net(torch.as_tensor(X_CLF, dtype=torch.float64))
    loglik = -float(
        torch.nn.functional.cross_entropy(
            logits, torch.as_tensor(Y_CLF), reduction="sum"
        )
    )
    # float64 on both sides from the same float32 weights
    assert la.log_marginal_likelihood_ == pytest.approx(
        loglik - 0.5 * prior_term - 0.5 * log_det, rel=1e-8
    )
    cov = np.zeros((sum(len(b) for b in blocks),) * 2)
    start = 0
    for b in blocks:
        cov[start : start + len(b), start : start + len(b)] = b
        start += len(b)
    Xq = X_CLF[:7]
    J = oracles.network_jacobian(net, Xq)  # (7, 3, P)
    expected = np.einsum("nkp,pq,nkq->nk", J, cov, J)
    # skbdl's network runs in float32 (relative rounding ~1e-7 per operation)
    np.testing.assert_allclose(
        la.predict_f(torch.as_tensor(Xq))[1].numpy(), expected, rtol=1e-5
    )


def test_g_prior_variance_grows_with_leverage_not_norm():
    """Last layer, no hidden layer: an input far along a direction the training
    inputs barely span gets far more variance than a larger input along the
    main direction; the isotropic prior ranks them by norm instead."""
    rs = np.random.RandomState(0)
    X = np.column_stack([rs.randn(80), 0.01 * rs.randn(80)]).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    along, across = np.array([[6.0, 0.0]]), np.array([[0.0, 1.0]])
    var = {}
    for cov in ["isotropic", "zellner"]:
        la = Laplace(prior_precision=1.0, prior_covariance=cov)
        la.fit(_problem(X, y, "classification", n_outputs=2))
        var[cov] = [
            float(la.predict_f(torch.as_tensor(x, dtype=torch.float32))[1].sum())
            for x in (along, across)
        ]
    assert var["zellner"][1] > 10 * var["zellner"][0]
    assert var["isotropic"][0] > var["isotropic"][1]


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(hessian="full"), "hessian='kron'"),
        (dict(hessian="diag"), "hessian='kron'"),
        (dict(prior_precision="online"), "post-hoc prior"),
    ],
)
def test_g_prior_rejects_unsupported_settings(kw, match):
    clf = BayesianMLPClassifier(
        (4,), method=Laplace(prior_covariance="zellner", **kw), max_epochs=1
    )
    with pytest.raises(ValueError, match=match):
        clf.fit(X_CLF, Y_CLF)
