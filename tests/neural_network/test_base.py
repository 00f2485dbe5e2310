"""Training options and prior draws shared by the two Bayesian MLPs
(``skbdl/neural_network/_base.py``): early stopping, ``verbose`` and
``sample_prior_predictive``, each against an independent oracle."""

import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import integrate
from scipy.special import expit
from scipy.stats import norm

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.priors import GaussianPrior, LaplacePrior

# A problem that overfits: 60 noisy rows, a wide network, a large step size.
_rs = np.random.RandomState(0)
X_NOISY = _rs.uniform(-2, 2, (60, 1))
Y_NOISY = np.sin(X_NOISY[:, 0]) + 0.5 * _rs.randn(60)
ES = dict(method="map", max_epochs=300, lr=1e-2, early_stopping=True,
          n_iter_no_change=5, validation_fraction=0.25, random_state=0)
_ROW = re.compile(r"^\s*(\d+)((?:\s+-?\d+\.\d+)+)\s*$")


def _printed_epochs(out):
    """``{epoch: [numbers...]}`` of the table rows printed by ``verbose=1``."""
    rows = {}
    for line in out.splitlines():
        match = _ROW.match(line)
        if match:
            rows[int(match.group(1))] = [float(v) for v in match.group(2).split()]
    return rows


# ----------------------------------------------------------- early stopping
def test_early_stopping_stops_and_keeps_the_best_validation_epoch(capsys):
    est = BayesianMLPRegressor((64, 64), verbose=1, **ES).fit(X_NOISY, Y_NOISY)
    rows = _printed_epochs(capsys.readouterr().out)
    assert est.n_iter_ < ES["max_epochs"]
    assert len(est.loss_curve_) == est.n_iter_
    # The printed validation losses (epoch, train, valid, seconds) locate the
    # best epoch; training stops n_iter_no_change epochs after it.
    valid = {epoch: values[1] for epoch, values in rows.items()}
    best = min(valid, key=valid.get)
    assert est.n_iter_ == best + ES["n_iter_no_change"]
    assert all(valid[e] >= valid[best] for e in valid)
    # It overfits: the training loss keeps falling after the best epoch (so
    # the weights moved after it).
    assert est.loss_curve_[-1] < est.loss_curve_[best - 1]
    # The kept weights are those after the best epoch: a run that trains the
    # same first `best` epochs (same seed, split and batches) and ends there
    # predicts exactly the same.
    ref = BayesianMLPRegressor((64, 64), **{**ES, "max_epochs": best})
    ref.fit(X_NOISY, Y_NOISY)
    assert ref.loss_curve_ == est.loss_curve_[:best]
    assert_array_equal(est.predict(X_NOISY, return_std=True),
                       ref.predict(X_NOISY, return_std=True))


# ------------------------------------------------------------------ verbose
@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_prints_one_line_per_epoch(capsys, early_stopping):
    kw = {**ES, "early_stopping": early_stopping}
    if not early_stopping:
        kw["max_epochs"] = 7
    est = BayesianMLPRegressor((64, 64), verbose=1, **kw).fit(X_NOISY, Y_NOISY)
    rows = _printed_epochs(capsys.readouterr().out)
    # every epoch run, including the one at which early stopping triggers
    assert sorted(rows) == list(range(1, est.n_iter_ + 1))
    # the printed training loss (4 decimals) is loss_curve_
    printed = [rows[e][0] for e in sorted(rows)]
    np.testing.assert_allclose(printed, est.loss_curve_, atol=5e-5 + 1e-12)
    BayesianMLPRegressor((64, 64), verbose=0, **kw).fit(X_NOISY, Y_NOISY)
    assert capsys.readouterr().out == ""


# --------------------------------------------------- sample_prior_predictive
X_PRIOR = np.array([[0.0, 0.0], [1.0, -2.0], [3.0, 0.5]])
PRIORS = [pytest.param(GaussianPrior(scale=0.7), 0.7**2, id="gaussian"),
          pytest.param(LaplacePrior(scale=0.4), 2 * 0.4**2, id="laplace")]


def _check_moments(f, var_w):
    """Draws ``f`` (n, S) of ``f(x) = w.x + b`` with i.i.d. zero-mean weights
    of variance ``var_w``: mean 0, variance ``var_w (|x|^2 + 1)``, covariance
    ``var_w (x.x' + 1)``; each within 5 standard errors computed from the
    draws' own fourth moments."""
    S = f.shape[1]
    var = var_w * ((X_PRIOR**2).sum(1) + 1)
    assert np.all(np.abs(f.mean(1)) <= 5 * np.sqrt(var / S))
    c = f - f.mean(1, keepdims=True)
    m4 = (c**4).mean(1)
    se_var = np.sqrt((m4 - var**2) / S)
    assert np.all(np.abs(f.var(1) - var) <= 5 * se_var)
    cov = var_w * (X_PRIOR[1] @ X_PRIOR[2] + 1)
    prod = c[1] * c[2]
    assert abs(prod.mean() - cov) <= 5 * prod.std() / np.sqrt(S)


@pytest.mark.parametrize("prior, var_w", PRIORS)
def test_regressor_prior_predictive_of_a_linear_model(prior, var_w):
    reg = BayesianMLPRegressor((), prior=prior, max_epochs=1)
    f = reg.sample_prior_predictive(X_PRIOR, n_samples=4000, random_state=0)
    assert f.shape == (3, 4000)
    _check_moments(f, var_w)  # before fit: standardised units
    assert_array_equal(f, reg.sample_prior_predictive(X_PRIOR, 4000, random_state=0))
    assert not np.array_equal(f, reg.sample_prior_predictive(X_PRIOR, 4000,
                                                             random_state=1))
    # after fit: on the scale of the targets (y = 3 + 2 * standardised)
    y = 3.0 + 2.0 * np.array([-1.0, 1.0, -1.0, 1.0])
    reg.fit(np.zeros((4, 2)), y)
    g = reg.sample_prior_predictive(X_PRIOR, n_samples=4000, random_state=0)
    np.testing.assert_allclose(g, 3.0 + 2.0 * f, rtol=1e-6)


def test_classifier_prior_predictive_of_a_linear_model():
    """Two classes, no hidden layer: ``p_1 = sigmoid(l_1 - l_0)`` with
    ``l_1 - l_0 ~ N(0, 2 s^2 (|x|^2 + 1))``, so ``E p_1 = 1/2`` and
    ``E p_1^2`` is a 1-D Gaussian integral (quadrature)."""
    scale = 0.7
    clf = BayesianMLPClassifier((), prior=scale, max_epochs=1, random_state=0)
    clf.fit(np.array([[0.0, 0.0], [1.0, 1.0]]), [0, 1])
    S = 4000
    p = clf.sample_prior_predictive(X_PRIOR, n_samples=S, random_state=0)
    assert p.shape == (3, 2, S)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    p1 = p[:, 1]
    sd = np.sqrt(2 * scale**2 * ((X_PRIOR**2).sum(1) + 1))
    for i in range(3):
        m2 = integrate.quad(lambda z: expit(sd[i] * z) ** 2 * norm.pdf(z), -12, 12)[0]
        se1, se2 = p1[i].std() / np.sqrt(S), (p1[i] ** 2).std() / np.sqrt(S)
        assert abs(p1[i].mean() - 0.5) <= 5 * se1
        assert abs((p1[i] ** 2).mean() - m2) <= 5 * se2
