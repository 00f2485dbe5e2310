"""``BayesianMLPRegressor(noise_estimate="holdout")``: the noise from held-out rows.

Oracles: the held-out Gaussian likelihood maximised by brute force on a
fine grid, the closed form without epistemic variance, repeated rows for
weights, and the held-out split rebuilt from the fit's own seed stream.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from skbdl import BayesianMLPRegressor
from skbdl._nn import train_valid_split
from skbdl.neural_network._regressor import heldout_noise_var
from skbdl.utils._random import Seeds

rng = np.random.RandomState(0)
X = rng.uniform(-2, 2, (240, 2))
NOISE_STD = 0.5
Y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + NOISE_STD * rng.randn(240)
# A wide network trained long on 216 rows: it fits part of the noise.
OVERFIT = dict(hidden_layer_sizes=(128, 128), max_epochs=300, lr=1e-2,
               random_state=0)


def _loglik(y, mean, epi, s, w=None):
    total = epi + s
    w = np.ones_like(y) if w is None else w
    return np.average(-0.5 * (np.log(2 * np.pi * total) + (y - mean) ** 2 / total),
                      weights=w)


def test_heldout_noise_var_maximises_the_heldout_likelihood():
    r = np.random.RandomState(1)
    y, mean = r.randn(40), 0.3 * r.randn(40)
    epi = r.uniform(0.0, 0.5, 40)
    s = heldout_noise_var(y, mean, epi)
    grid = np.exp(np.linspace(np.log(1e-4), np.log(10.0), 200001))
    values = [_loglik(y, mean, epi, g) for g in grid[::100]]
    best = grid[::100][int(np.argmax(values))]
    fine = grid[(grid > best / 1.05) & (grid < best * 1.05)]
    expected = fine[int(np.argmax([_loglik(y, mean, epi, g) for g in fine]))]
    assert_allclose(s, expected, rtol=1e-4)
    assert _loglik(y, mean, epi, s) >= max(values) - 1e-12


def test_heldout_noise_var_closed_form_and_weights():
    r = np.random.RandomState(2)
    y, mean = r.randn(30), r.randn(30)
    assert_allclose(heldout_noise_var(y, mean, np.zeros(30)), np.mean((y - mean) ** 2))
    epi = r.uniform(0.1, 0.4, 30)
    w = r.randint(0, 4, 30).astype(float)
    rep = np.repeat(np.arange(30), w.astype(int))
    assert_allclose(heldout_noise_var(y, mean, epi, w),
                    heldout_noise_var(y[rep], mean[rep], epi[rep]), rtol=1e-5)
    # an epistemic variance above the residuals leaves the floor (the bounded
    # search stops within xatol=1e-6 of log 1e-4, well inside rel=1e-3)
    assert heldout_noise_var(np.zeros(3), np.zeros(3), np.ones(3)) == pytest.approx(
        1e-4, rel=1e-3)


def _held_out_rows(est, X, y):
    """The rows ``fit`` held out, rebuilt from its seed stream "split"."""
    y_std = (y - y.mean()) / y.std()
    split = Seeds.from_random_state(est.random_state).generator("split")
    _, (Xv, yv) = train_valid_split(
        torch.as_tensor(X, dtype=torch.float32),
        torch.as_tensor(y_std, dtype=torch.float32), est.validation_fraction, split)
    return Xv.numpy(), yv.numpy()


@pytest.mark.parametrize("method", ["map", "ensemble", "mc_dropout"])
def test_the_noise_is_the_heldout_optimum(method):
    est = BayesianMLPRegressor(method=method, noise_estimate="holdout", **OVERFIT)
    est.fit(X, Y)
    Xv, yv = _held_out_rows(est, X, Y)
    v = est._variances(Xv)  # the mean and epistemic part do not see the noise
    expected = heldout_noise_var(yv, v[:, 0], v[:, 1])
    assert_allclose(est.method_.likelihood_.noise_var, [expected], rtol=1e-5)
    if method == "mc_dropout":  # dropout keeps the training residuals honest
        return  # here (0.210 from them against 0.202 held out): no ordering
    # and it is larger than the training residuals' estimate, closer to the
    # true noise (0.25 in y units, divided by var(y) in standardised units)
    train = BayesianMLPRegressor(method=method, noise_estimate="train",
                                 **OVERFIT).fit(X, Y)
    true = NOISE_STD**2 / Y.var()
    ours = float(est.method_.likelihood_.noise_var[0])
    theirs = float(np.mean(train.method_.likelihood_.noise_var))
    assert theirs < ours
    assert abs(np.log(ours / true)) < abs(np.log(theirs / true))


@pytest.mark.parametrize("change", [
    dict(method="laplace"),  # tunes its noise on held-out rows already
    dict(heteroscedastic=True),  # the network predicts the noise
    dict(validation_fraction=0.05),  # 12 held-out rows: too few
])
def test_holdout_changes_nothing_where_it_does_not_apply(change):
    kw = {**OVERFIT, "max_epochs": 20, **change}
    a = BayesianMLPRegressor(noise_estimate="holdout", **kw).fit(X, Y)
    b = BayesianMLPRegressor(noise_estimate="train", **kw).fit(X, Y)
    assert_array_equal(a.predict(X[:20], return_std=True),
                       b.predict(X[:20], return_std=True))


def test_with_early_stopping_the_noise_comes_from_the_same_rows():
    kw = dict(OVERFIT, early_stopping=True, validation_fraction=0.2)
    est = BayesianMLPRegressor(method="map", noise_estimate="holdout", **kw).fit(X, Y)
    Xv, yv = _held_out_rows(est, X, Y)
    v = est._variances(Xv)
    assert_allclose(est.method_.likelihood_.noise_var,
                    [heldout_noise_var(yv, v[:, 0], v[:, 1])], rtol=1e-5)


def test_holdout_is_the_default():
    assert BayesianMLPRegressor().noise_estimate == "holdout"


def test_invalid_noise_estimate():
    with pytest.raises(ValueError, match="noise_estimate"):
        BayesianMLPRegressor(noise_estimate="cv").fit(X, Y)
