"""The inference-method contract, checked on every entry of ``METHODS``.

A method registered in ``skbdl.inference.METHODS`` is covered here the
moment it is added (see ``skbdl/inference/_base.py`` for the contract).
"""

import inspect
import math
import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, clone

from skbdl.inference import METHODS, BaseInference
from skbdl.neural_network import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.utils._torch import make_generator, to_tensor

rng = np.random.RandomState(0)
X = rng.uniform(-2, 2, size=(40, 2))
y_clf = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
y_reg = np.sin(2 * X[:, 0]) + 0.1 * rng.randn(40)
X_new = np.vstack([X[:6], rng.uniform(-5, 5, size=(9, 2))])

NAMES = list(METHODS)
TASKS = [pytest.param(BayesianMLPClassifier, y_clf, 3, id="clf"),
         pytest.param(BayesianMLPRegressor, y_reg, 1, id="reg")]


def _method(name):
    method = METHODS[name]()
    if "n_members" in method.get_params():
        method.set_params(n_members=2)
    return method


def _fitted(Est, y, name):
    est = Est(hidden_layer_sizes=(8,), method=_method(name), max_epochs=20,
              random_state=0).fit(X, y)
    return est.method_


def _fitted_attrs(obj):
    return sorted(k for k in vars(obj) if k.endswith("_") and not k.startswith("__"))


# ------------------------------------------------------- the object itself
@pytest.mark.parametrize("name", NAMES)
def test_is_a_small_estimator(name):
    cls = METHODS[name]
    assert issubclass(cls, BaseInference) and issubclass(cls, BaseEstimator)
    method = cls()
    # __init__ only stores: every argument is a parameter, with constraints
    params = method.get_params()
    assert set(params) == set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert set(params) == set(cls._parameter_constraints)
    assert _fitted_attrs(method) == []
    method._validate_params()  # the defaults are valid
    n = method.default_n_samples
    assert isinstance(n, int) and n >= 1


@pytest.mark.parametrize("name", NAMES)
def test_clone_and_pickle_unfitted(name):
    method = _method(name)
    copy = clone(method)
    assert copy is not method and type(copy) is type(method)
    assert copy.get_params() == method.get_params()
    restored = pickle.loads(pickle.dumps(method))
    assert restored.get_params() == method.get_params()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("Est, y, k", TASKS)
def test_clone_and_pickle_fitted(Est, y, k, name):
    method = _fitted(Est, y, name)
    assert _fitted_attrs(method)
    copy = clone(method)
    assert _fitted_attrs(copy) == []
    assert copy.get_params() == method.get_params()
    restored = pickle.loads(pickle.dumps(method))
    Xt = to_tensor(X_new)
    assert torch.equal(restored.sample_f(Xt, 4, make_generator(1)),
                       method.sample_f(Xt, 4, make_generator(1)))
    if method.closed_form:
        for a, b in zip(restored.predict_f(Xt), method.predict_f(Xt)):
            assert torch.equal(a, b)


# ------------------------------------------------------------- sample_f
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("Est, y, k", TASKS)
def test_sample_f_shapes(Est, y, k, name):
    method = _fitted(Est, y, name)
    Xt = to_tensor(X_new)
    for S in (1, 3, 8):
        f = method.sample_f(Xt, S, make_generator(0))
        assert isinstance(f, torch.Tensor)
        assert f.shape == (S, len(X_new), k) and f.dtype == torch.float32
        assert torch.isfinite(f).all()
        assert not f.requires_grad


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("Est, y, k", TASKS)
def test_sample_f_draws_whole_functions(Est, y, k, name):
    # The same generator seed gives the same S functions for any rows.
    method = _fitted(Est, y, name)
    Xt = to_tensor(X_new)
    full = method.sample_f(Xt, 6, make_generator(5))
    assert torch.equal(method.sample_f(Xt, 6, make_generator(5)), full)
    # Other row sets: the same functions, up to float32 matmul rounding (MKL
    # rounds a row differently depending on the number of rows in the call).
    # Different draws would differ at the 1e-2 level.
    perm = torch.as_tensor(np.random.RandomState(0).permutation(len(X_new)))
    for rows in (slice(0, 5), slice(7, 9), slice(3, 4), perm):
        part = method.sample_f(Xt[rows], 6, make_generator(5))
        torch.testing.assert_close(part, full[:, rows], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_sample_f_randomness_is_local(name):
    method = _fitted(BayesianMLPClassifier, y_clf, name)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    a = method.sample_f(to_tensor(X_new), 16, make_generator(1))
    assert torch.equal(torch.get_rng_state(), state)
    assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.isfinite(a).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("Est, y, k", TASKS)
def test_fit_is_deterministic(Est, y, k, name):
    a, b = _fitted(Est, y, name), _fitted(Est, y, name)
    Xt = to_tensor(X_new)
    assert torch.equal(a.sample_f(Xt, 4, make_generator(0)),
                       b.sample_f(Xt, 4, make_generator(0)))
    assert a.loss_curve_ == b.loss_curve_


# ------------------------------------------------------------ predict_f
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("Est, y, k", TASKS)
def test_predict_f_matches_sample_f_moments(Est, y, k, name):
    method = _fitted(Est, y, name)
    if not method.closed_form:
        with pytest.raises(NotImplementedError):
            method.predict_f(to_tensor(X_new))
        return
    Xt = to_tensor(X_new)
    mean, var = method.predict_f(Xt)
    assert mean.shape == var.shape == (len(X_new), k)
    assert (var >= 0).all()
    S = 4000
    draws = method.sample_f(Xt, S, make_generator(0)).double()
    mean, var = mean.double(), var.double()
    # Monte-Carlo tolerances from the standard errors of the draw moments
    # (the variance's standard error is var * sqrt(2 / S) for Gaussian draws).
    tol_mean = 5 * torch.sqrt(var / S) + 1e-5 * (1 + mean.abs())
    tol_var = 5 * var * math.sqrt(2.0 / S) + 1e-6 * (1 + var)
    assert ((draws.mean(0) - mean).abs() <= tol_mean).all()
    assert ((draws.var(0) - var).abs() <= tol_var).all()
