"""Laplace against laplace-torch applied to the same trained network.

Each test fits a small MLP (2 hidden layers of 8 units, 40 rows, 5 epochs)
through the public estimator, copies its weights into a float64 network (see
``oracles``) and compares skbdl's curvature and GLM predictive with
laplace-torch's at the same prior precision and noise.

Tolerances. KFAC factors: both sides compute in float64 from the same float32
weights and inputs, so they differ only by summation order (a few ulp,
relative 1e-13); ``rtol=1e-9`` leaves a wide margin and still fails on any
real difference. Predictive: skbdl evaluates the network in float32 (relative
rounding 6e-8 per operation, a few dozen operations deep), the oracle in
float64; ``rtol=1e-5`` with an absolute floor of 1e-6 covers that.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.inference import Laplace
from skbdl.inference._curvature import Curvature, ggn_factors

import oracles
import scenarios

# BackPACK (imported by laplace-torch) decorates functions with torch.jit.script.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning")


# ---------------------------------------------------------------------------
# The only access to skbdl internals in this file (plus ``oracles.mlp_layers``).
def skbdl_kfac(est, X):
    """skbdl's KFAC factors ``(A, B)`` of each Laplace layer of a fitted
    estimator, accumulated over the rows ``X`` as ``Laplace.fit`` does (A the
    mean over rows, B the sum; the bias is the last column of ``[W | b]``)."""
    method = est.method_
    module = method.module_
    first = 0 if method.subset == "all" else len(module.hidden)
    inputs, g = ggn_factors(module, torch.as_tensor(X, dtype=torch.float32),
                            method.likelihood_, first)
    curvature = Curvature("kron", [(gl.shape[-1], a.shape[1])
                                   for a, gl in zip(inputs, g)])
    curvature.update(inputs, g)
    curvature.finalize()
    return [(A.numpy(), B.numpy()) for A, B in zip(curvature.A, curvature.B)]


def skbdl_latent(est, X):
    """Closed-form latent mean and variance, each (n, k), of the fitted method
    (``predict_f`` of the inference-method contract; the homoscedastic
    regression latent is the mean alone)."""
    with torch.no_grad():
        mean, var = est.method_.predict_f(torch.as_tensor(X, dtype=torch.float32))
    return mean.double().numpy(), var.double().numpy()
# ---------------------------------------------------------------------------


X_CLF, Y_CLF = scenarios.two_moons(n=40, noise=0.2, seed=0)
GAP = scenarios.gap_1d(n=40, seed=0)
X_REG, Y_REG = GAP.X, GAP.y
Y_REG_STD = (Y_REG - Y_REG.mean()) / Y_REG.std()  # what the regressor trains on
# training rows plus points far from the data (large predictive variance)
X_CLF_NEW = np.vstack([X_CLF[:8], [[-3.0, 3.0], [4.0, -2.0], [0.5, 0.25]]])
X_REG_NEW = np.vstack([X_REG[:6], GAP.X_gap, [[-4.0], [4.0]]])
DELTA, SIGMA = 2.0, 0.5
KW = dict(hidden_layer_sizes=(8, 8), max_epochs=5, lr=1e-2, random_state=0)


def _fit(task, subset, hessian, activation="tanh"):
    method = Laplace(subset=subset, hessian=hessian, prior_precision=DELTA)
    if task == "classification":
        est = BayesianMLPClassifier(method=method, activation=activation, **KW)
        return est.fit(X_CLF, Y_CLF)
    method.set_params(sigma_noise=SIGMA)
    est = BayesianMLPRegressor(method=method, activation=activation, **KW)
    return est.fit(X_REG, Y_REG)


def _oracle(est, task, subset, hessian):
    net = oracles.augmented_network(*oracles.mlp_layers(est.method_.module_))
    X, y = (X_CLF, Y_CLF) if task == "classification" else (X_REG, Y_REG_STD)
    sigma = SIGMA if task == "regression" else 1.0
    return oracles.laplace_torch(net, X, y, task, subset, hessian,
                                 prior_precision=DELTA, sigma_noise=sigma), net


# ------------------------------------------------------------- (a) KFAC factors
@pytest.mark.parametrize("subset", ["last_layer", "all"])
@pytest.mark.parametrize("task, activation", [("classification", "tanh"),
                                              ("regression", "relu")])
def test_kfac_factors_equal_laplace_torch(task, activation, subset):
    est = _fit(task, subset, "kron", activation)
    la, net = _oracle(est, task, subset, "kron")
    X = X_CLF if task == "classification" else X_REG
    ours, theirs = skbdl_kfac(est, X), oracles.kron_factors(la)
    assert len(ours) == len(theirs) == (3 if subset == "all" else 1)
    for (A, B), (A_ref, B_ref) in zip(ours, theirs):
        assert A.shape == A_ref.shape and B.shape == B_ref.shape
        assert_allclose(A, A_ref, rtol=1e-9, atol=1e-12 * np.abs(A_ref).max())
        assert_allclose(B, B_ref, rtol=1e-9, atol=1e-12 * np.abs(B_ref).max())
    # The conventions by hand. A is a mean over rows: its bias entry is the
    # mean square of the constant input, exactly 1.
    for A, _ in ours:
        assert A[-1, -1] == pytest.approx(1.0, abs=1e-14)
    B_head = ours[-1][1]
    if task == "regression":
        # B is a sum over rows: the head of a unit-noise Gaussian has
        # Lambda_i = 1 and identity Jacobian, so B = N.
        assert B_head == pytest.approx(np.array([[len(X)]]), rel=1e-14)
    else:
        # tr(B_head) = sum_i tr(diag(p_i) - p_i p_i^T) = sum_i (1 - |p_i|^2)
        with torch.no_grad():
            p = torch.softmax(net(torch.as_tensor(X)), -1).numpy()
        assert np.trace(B_head) == pytest.approx((1 - (p**2).sum(1)).sum(), rel=1e-12)


# ------------------------------------------------------ (b) the GLM predictive
STRUCTURES = [("last_layer", "kron"), ("last_layer", "full"), ("all", "kron"),
              ("all", "full")]


@pytest.mark.parametrize("subset, hessian", STRUCTURES)
def test_classifier_glm_predictive_equals_laplace_torch(subset, hessian):
    est = _fit("classification", subset, hessian)
    la, _ = _oracle(est, "classification", subset, hessian)
    mean_ref, cov_ref = oracles.glm_predictive(la, X_CLF_NEW)
    var_ref = np.diagonal(cov_ref, axis1=1, axis2=2)
    mean, var = skbdl_latent(est, X_CLF_NEW)
    assert var_ref.max() > 3 * var_ref.min() > 0  # far rows: wider
    assert_allclose(mean, mean_ref, rtol=1e-5, atol=1e-6)
    assert_allclose(var, var_ref, rtol=1e-5, atol=1e-6)
    # probit: softmax(mean / sqrt(1 + pi/8 var)), laplace-torch's own link
    proba_ref = la(torch.as_tensor(X_CLF_NEW), pred_type="glm",
                   link_approx="probit").detach().numpy()
    assert_allclose(est.predict_proba(X_CLF_NEW), proba_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("subset, hessian", STRUCTURES)
def test_regressor_glm_predictive_equals_laplace_torch(subset, hessian):
    est = _fit("regression", subset, hessian)
    la, _ = _oracle(est, "regression", subset, hessian)
    mean_ref, cov_ref = oracles.glm_predictive(la, X_REG_NEW)
    mean_ref, var_ref = mean_ref[:, 0], cov_ref[:, 0, 0]
    scale, shift = Y_REG.std(), Y_REG.mean()  # the regressor standardises y
    mean, std = est.predict(X_REG_NEW, return_std=True)
    unc = est.predict_uncertainty(X_REG_NEW)
    assert var_ref.max() > 3 * var_ref.min() > 0
    assert_allclose(mean, mean_ref * scale + shift, rtol=1e-5, atol=1e-6)
    assert_allclose(unc.epistemic, var_ref * scale**2, rtol=1e-5, atol=1e-6)
    assert_allclose(unc.aleatoric, SIGMA**2 * scale**2, rtol=1e-6)
    assert_allclose(std, np.sqrt(var_ref + SIGMA**2) * scale, rtol=1e-5)
    if subset == "last_layer":
        # Exact Bayesian linear regression on the learned features: skbdl
        # centres the head on the closed-form posterior mean (laplace-torch
        # keeps the trained head, so the mean is checked here, the variance
        # against both).
        layers, activation = oracles.mlp_layers(est.method_.module_)
        phi = scenarios.with_bias(oracles.hidden_features(layers, activation, X_REG))
        phi_new = scenarios.with_bias(oracles.hidden_features(layers, activation,
                                                              X_REG_NEW))
        post_mean, post_cov = scenarios.blr_posterior(phi, Y_REG_STD, DELTA, SIGMA**2)
        blr_mean, blr_var = scenarios.blr_predictive(phi_new, post_mean, post_cov)
        assert_allclose(mean, blr_mean * scale + shift, rtol=1e-5, atol=1e-6)
        assert_allclose(unc.epistemic, blr_var * scale**2, rtol=1e-5, atol=1e-6)
