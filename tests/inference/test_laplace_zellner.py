"""Zellner's g-prior for the Laplace layers: dense and closed-form oracles."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from skbdl import BayesianMLPClassifier
from skbdl.inference import Laplace
from skbdl.inference._curvature import _jacobian_rows
from skbdl.inference._laplace import _ZELLNER_RIDGE

from .test_laplace import X_CLF, X_LIN, Y_CLF, Y_LIN, _problem


def _g_prior(A):
    """``A + r I`` with the ridge relative to A's mean eigenvalue."""
    return A + _ZELLNER_RIDGE * np.trace(A) / len(A) * np.eye(len(A))


def _zellner_blr(delta, sigma):
    """Bayesian linear regression with prior precision delta * (Phi^T Phi / n + r I)."""
    phi = np.column_stack([X_LIN.astype(np.float64), np.ones(len(X_LIN))])
    y = Y_LIN.astype(np.float64)
    prior = delta * _g_prior(phi.T @ phi / len(y))
    cov = np.linalg.inv(phi.T @ phi / sigma**2 + prior)
    mean = cov @ phi.T @ y / sigma**2
    marginal = phi @ np.linalg.inv(prior) @ phi.T + sigma**2 * np.eye(len(y))
    return phi, mean, cov, multivariate_normal(np.zeros(len(y)), marginal).logpdf(y)


def test_no_hidden_layer_is_bayesian_linear_regression_with_a_g_prior():
    la = Laplace(prior_precision=2.0, sigma_noise=0.5, prior_covariance="zellner")
    la.fit(_problem(X_LIN, Y_LIN, "regression"))
    phi, mean, cov, lml = _zellner_blr(2.0, 0.5)
    np.testing.assert_allclose(la._theta[-1][0].numpy(), mean, atol=1e-6)
    var = la._posterior.latent_var([torch.as_tensor(phi)], None)[:, 0].numpy()
    np.testing.assert_allclose(var, np.einsum("ni,ij,nj->n", phi, cov, phi), atol=1e-6)
    assert la.log_marginal_likelihood_ == pytest.approx(lml, abs=1e-6)


def test_tuned_g_prior_maximises_the_exact_evidence():
    la = Laplace(prior_precision="marglik", prior_covariance="zellner")
    la.fit(_problem(X_LIN, Y_LIN, "regression"))
    delta, sigma = float(la.prior_precision_[0]), la.sigma_noise_
    assert la.log_marginal_likelihood_ == pytest.approx(_zellner_blr(delta, sigma)[3], abs=1e-6)
    for d_delta, d_sigma in [(1.05, 1), (0.95, 1), (1, 1.02), (1, 0.98)]:
        assert _zellner_blr(delta * d_delta, sigma * d_sigma)[3] < la.log_marginal_likelihood_


def test_all_layer_kron_g_prior_matches_the_dense_posterior():
    """Variance and evidence equal those of the dense block-diagonal precision
    ``B_l (x) A_l + delta I (x) (A_l + r I)`` built from the same KFAC factors."""
    X, y = torch.as_tensor(X_CLF), torch.as_tensor(Y_CLF)
    delta = 3.0
    la = Laplace("all", "kron", prior_precision=delta, prior_covariance="zellner")
    la.fit(_problem(X_CLF, Y_CLF, "classification", hidden=(6,), n_outputs=3))
    with torch.no_grad():
        inputs, g, f = la._factors(X.double(), lik=True)
    blocks, prior_term, log_det = [], 0.0, 0.0
    for a, gl, theta in zip(inputs, g, la._theta):
        A, B = (a.T @ a / len(a)).numpy(), torch.einsum("nmo,nmp->op", gl, gl).numpy()
        P = _g_prior(A)
        prec = np.kron(B, A) + delta * np.kron(np.eye(len(B)), P)
        w = theta.numpy().reshape(-1)
        prior_term += delta * w @ np.kron(np.eye(len(B)), P) @ w
        log_det += (np.linalg.slogdet(prec)[1]
                    - np.linalg.slogdet(delta * np.kron(np.eye(len(B)), P))[1])
        blocks.append(np.linalg.inv(prec))
    loglik = -float(torch.nn.functional.cross_entropy(f, y, reduction="sum"))
    assert la.log_marginal_likelihood_ == pytest.approx(
        loglik - 0.5 * prior_term - 0.5 * log_det, rel=1e-8)
    cov = np.zeros((sum(len(b) for b in blocks),) * 2)
    start = 0
    for b in blocks:
        cov[start:start + len(b), start:start + len(b)] = b
        start += len(b)
    Xq = X[:7].double()
    with torch.no_grad():
        q_inputs, q_g, _ = la._factors(Xq, lik=False)
    rows = _jacobian_rows(q_inputs, q_g).numpy()
    expected = np.einsum("rp,pq,rq->r", rows, cov, rows).reshape(7, -1)
    np.testing.assert_allclose(la.predict_f(Xq.float())[1].numpy(), expected, rtol=1e-5)


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
        var[cov] = [float(la.predict_f(torch.as_tensor(x, dtype=torch.float32))[1].sum())
                    for x in (along, across)]
    assert var["zellner"][1] > 10 * var["zellner"][0]
    assert var["isotropic"][0] > var["isotropic"][1]


@pytest.mark.parametrize("kw, match", [
    (dict(hessian="full"), "hessian='kron'"),
    (dict(hessian="diag"), "hessian='kron'"),
    (dict(prior_precision="online"), "post-hoc prior"),
])
def test_g_prior_rejects_unsupported_settings(kw, match):
    clf = BayesianMLPClassifier((4,), method=Laplace(prior_covariance="zellner", **kw),
                                max_epochs=1)
    with pytest.raises(ValueError, match=match):
        clf.fit(X_CLF, Y_CLF)
