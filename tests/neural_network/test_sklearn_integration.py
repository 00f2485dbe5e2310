"""The Bayesian MLPs as scikit-learn citizens: array-likes in, numpy out; method objects
tunable by GridSearchCV; draws that are whole functions; randomness only from
``random_state``."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skbdl._nn._module as module_mod
from skbdl.inference import METHODS, Ensemble, MCDropout
from skbdl.neural_network import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.utils._random import STREAMS, Seeds

rng = np.random.RandomState(0)
X = rng.randn(60, 3) * [1.0, 10.0, 0.1] + [0.0, 5.0, -1.0]
y_clf = (X[:, 0] + 0.1 * X[:, 1] > 0.5).astype(int) + (X[:, 2] > -1.0)
y_reg = X[:, 0] - 0.2 * X[:, 1] + 0.1 * rng.randn(60)


def _method(name):
    """Every registered method, small and otherwise default."""
    method = METHODS[name]()
    if "n_members" in method.get_params():
        method.set_params(n_members=2)
    return method


def _est(Est, method="map", **params):
    params = {"hidden_layer_sizes": (8,), "max_epochs": 20, "random_state": 0, **params}
    return Est(method=method, **params)


def _clf(method="map", **params):
    return _est(BayesianMLPClassifier, method, **params)


def _reg(method="map", **params):
    return _est(BayesianMLPRegressor, method, **params)


def _outputs(est, X):
    """Every prediction output of a fitted estimator, as a dict of arrays."""
    if isinstance(est, BayesianMLPClassifier):
        unc = est.predict_uncertainty(X)
        return {
            "proba": est.predict_proba(X),
            "pred": est.predict(X),
            "samples": est.predict_proba_samples(X),
            "std": est.predict_std(X),
            "total": unc.total,
            "epistemic": unc.epistemic,
        }
    mean, std = est.predict(X, return_std=True)
    unc = est.predict_uncertainty(X)
    return {
        "mean": mean,
        "std": std,
        "epistemic": unc.epistemic,
        "aleatoric": unc.aleatoric,
        "sample_y": est.sample_y(X, 5),
        "interval": est.predict_interval(X),
    }


METHOD_NAMES = list(METHODS)
EST_Y = [
    pytest.param(BayesianMLPClassifier, y_clf, id="clf"),
    pytest.param(BayesianMLPRegressor, y_reg, id="reg"),
]


# --------------------------------------------------------------- pipelines
@pytest.mark.parametrize("Est, y", EST_Y)
def test_pipeline_equals_manual_scaling(Est, y):
    pipe = make_pipeline(StandardScaler(), _est(Est)).fit(X, y)
    Xs = StandardScaler().fit_transform(X)
    est = _est(Est).fit(Xs, y)
    assert_array_equal(pipe.predict(X), est.predict(Xs))
    if Est is BayesianMLPClassifier:
        assert_array_equal(pipe.predict_proba(X), est.predict_proba(Xs))
    assert pipe.score(X, y) == est.score(Xs, y)


def test_pipeline_scaling_helps():
    # Badly scaled features (one with std 10, one with 0.1): the scaler must
    # change the fit, otherwise the pipeline test above is vacuous.
    raw = _clf().fit(X, y_clf).predict_proba(X)
    piped = make_pipeline(StandardScaler(), _clf()).fit(X, y_clf).predict_proba(X)
    assert np.abs(raw - piped).max() > 1e-2


# -------------------------------------------------------------- grid search
def test_grid_search_over_method_and_its_params():
    grid = [
        {"method": [MCDropout()], "method__p": [0.05, 0.5]},
        {"method": [Ensemble(n_members=2)], "method__n_members": [1, 2]},
        {"method": ["map"], "prior": [0.1, 10.0]},
    ]
    search = GridSearchCV(_clf(max_epochs=10), grid, cv=2).fit(X, y_clf)
    params = search.cv_results_["params"]
    assert len(params) == 6
    assert [p["method__p"] for p in params if "method__p" in p] == [0.05, 0.5]
    best = search.best_estimator_
    bp = search.best_params_
    for key, value in bp.items():
        if key.startswith("method__"):
            assert best.method_.get_params()[key[len("method__") :]] == value
    # The objects in the grid are cloned, never mutated by the search.
    assert grid[0]["method"][0].p == 0.1
    assert grid[1]["method"][0].n_members == 2


def test_set_params_nested_reaches_method_():
    est = _clf(method=MCDropout(p=0.1), max_epochs=5)
    est.set_params(method__p=0.3).fit(X, y_clf)
    assert est.method_.p == 0.3
    assert est.method_ is not est.method
    assert est.get_params()["method__p"] == 0.3


def test_nested_method_params_with_the_method_given_by_name():
    """``method__*`` beside a method name resolves the name to its class."""
    grid = {"method": ["mc_dropout"], "method__p": [0.05, 0.3]}
    search = GridSearchCV(_clf(max_epochs=5), grid, cv=2).fit(X, y_clf)
    ps = sorted(p["method__p"] for p in search.cv_results_["params"])
    assert ps == [0.05, 0.3]
    best = search.best_estimator_
    assert isinstance(best.method_, MCDropout)
    assert best.method_.p == search.best_params_["method__p"]
    # the name already set on the estimator works too
    est = _clf(method="mc_dropout", max_epochs=2).set_params(method__p=0.2)
    assert isinstance(est.method, MCDropout) and est.method.p == 0.2
    with pytest.raises(ValueError, match="'method' parameter.*'nope'"):
        _clf().set_params(method="nope", method__p=0.2)
    with pytest.raises(ValueError, match="Invalid parameter 'q'"):
        _clf(method="mc_dropout").set_params(method__q=0.2)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_grid_search_each_method_by_name(name):
    search = GridSearchCV(_clf(max_epochs=5), {"method": [name]}, cv=2).fit(X, y_clf)
    assert isinstance(search.best_estimator_.method_, METHODS[name])


# ---------------------------------------------------------- cross_validate
@pytest.mark.parametrize("Est, y", EST_Y)
def test_cross_validate_equals_manual_folds(Est, y):
    est = _est(Est, method=_method("ensemble"))
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_validate(est, X, y, cv=cv, return_estimator=True)
    manual = [
        clone(est).fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in cv.split(X)
    ]
    assert_array_equal(scores["test_score"], manual)
    for fitted in scores["estimator"]:
        assert fitted.method_ is not est.method


# ------------------------------------------------------------------ clone
@pytest.mark.parametrize("name", METHOD_NAMES)
def test_clone(name):
    est = _clf(method=_method(name))
    unfitted = clone(est)
    assert unfitted.method is not est.method
    assert unfitted.get_params()["method"].get_params() == est.method.get_params()
    est.fit(X, y_clf)
    copy = clone(est)
    assert not hasattr(copy, "method_") and not hasattr(copy, "classes_")
    assert_array_equal(copy.fit(X, y_clf).predict_proba(X), est.predict_proba(X))


# ----------------------------------------------------------------- pickle
@pytest.mark.parametrize("name", METHOD_NAMES)
@pytest.mark.parametrize("Est, y", EST_Y)
def test_pickle_round_trip(Est, y, name):
    est = _est(Est, method=_method(name)).fit(X, y)
    before = _outputs(est, X)
    restored = pickle.loads(pickle.dumps(est))
    after = _outputs(restored, X)
    for key in before:
        assert_array_equal(after[key], before[key], err_msg=key)
    # and the restored estimator can be refitted to the same result
    refit = _outputs(restored.fit(X, y), X)
    for key in before:
        assert_array_equal(refit[key], before[key], err_msg=key)


def test_pickle_unfitted():
    est = _clf(method=MCDropout(p=0.2))
    restored = pickle.loads(pickle.dumps(est))
    assert restored.get_params()["method__p"] == 0.2
    assert_array_equal(
        restored.fit(X, y_clf).predict_proba(X), est.fit(X, y_clf).predict_proba(X)
    )


# ----------------------------------------------------------------- pandas
def test_pandas_input_string_labels():
    df = pd.DataFrame(X, columns=["age", "height", "weight"])
    labels = np.array(["cat", "dog", "emu"])[y_clf]
    clf = _clf().fit(df, pd.Series(labels, name="animal"))
    assert_array_equal(clf.classes_, ["cat", "dog", "emu"])
    assert_array_equal(clf.feature_names_in_, ["age", "height", "weight"])
    pred = clf.predict(df)
    assert set(pred) <= {"cat", "dog", "emu"}
    # same numbers as the numpy fit with integer labels
    ref = _clf().fit(X, y_clf)
    assert_array_equal(clf.predict_proba(df), ref.predict_proba(X))
    assert clf.score(df, labels) == ref.score(X, y_clf)
    assert_array_equal(pred, clf.classes_[ref.predict(X)])
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df[["height", "age", "weight"]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X)


def test_pandas_regressor():
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    reg = _reg().fit(df, pd.Series(y_reg))
    assert_array_equal(reg.feature_names_in_, ["a", "b", "c"])
    assert_array_equal(reg.predict(df), _reg().fit(X, y_reg).predict(X))


def test_list_input_and_labels_with_gaps():
    labels = np.array([-3, 7, 42])[y_clf]
    clf = _clf().fit(X.tolist(), labels.tolist())
    assert_array_equal(clf.classes_, [-3, 7, 42])
    assert set(clf.predict(X)) <= {-3, 7, 42}


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("Est, y", EST_Y)
def test_float32_and_float64_input(Est, y):
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)  # the same numbers in both dtypes
    est32 = _est(Est).fit(X32, y)
    est64 = _est(Est).fit(X64, y)
    out32, out64 = _outputs(est32, X32), _outputs(est64, X64)
    for key in out32:
        assert_array_equal(out32[key], out64[key], err_msg=key)
        if out32[key].dtype.kind == "f":
            assert out32[key].dtype == np.float64, key
    # predicting float64 with a float32 fit (and back) is fine too
    assert_array_equal(est32.predict(X64), est64.predict(X32))


# ----------------------------------------------------------- determinism
@pytest.mark.parametrize("name", METHOD_NAMES)
@pytest.mark.parametrize("Est, y", EST_Y)
def test_same_random_state_bitwise_identical(Est, y, name):
    a = _outputs(_est(Est, method=_method(name), random_state=3).fit(X, y), X)
    b = _outputs(_est(Est, method=_method(name), random_state=3).fit(X, y), X)
    for key in a:
        assert_array_equal(a[key], b[key], err_msg=key)
    c = _outputs(_est(Est, method=_method(name), random_state=4).fit(X, y), X)
    first = "proba" if Est is BayesianMLPClassifier else "mean"
    assert not np.array_equal(a[first], c[first])


def test_random_state_instance_is_not_reused_across_fits():
    # A RandomState instance is consumed (sklearn convention), so two fits of
    # the same estimator differ, while an int seed reproduces.
    est = _clf(random_state=np.random.RandomState(0))
    p1 = est.fit(X, y_clf).predict_proba(X)
    p2 = est.fit(X, y_clf).predict_proba(X)
    assert not np.array_equal(p1, p2)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_repeated_predictions_identical(name):
    est = _clf(method=_method(name)).fit(X, y_clf)
    first = _outputs(est, X)
    second = _outputs(est, X)
    for key in first:
        assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.parametrize("name", METHOD_NAMES)
@pytest.mark.parametrize("Est, y", EST_Y)
def test_global_rng_untouched(Est, y, name):
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    est = _est(Est, method=_method(name)).fit(X, y)
    _outputs(est, X)
    est.sample_prior_predictive(X, n_samples=3, random_state=1)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0]
    assert_array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]


# ----------------------------------------------------- subset invariance
# Invariance holds up to float32 rounding: MKL's float32 matmul rounds a row
# differently depending on how many rows are in the call, by ~1e-7 of the
# intermediate values. The draws are the same functions (bitwise the same
# weights/masks); evaluating different draws would differ by ~1e-1. The
# tests use standardised inputs, where Laplace draws logits up to ~40 (error
# ~4e-6); on the raw X its tiny prior precision gives logits of ~3000.
Xs = StandardScaler().fit_transform(X)
_TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.mark.parametrize("name", METHOD_NAMES)
@pytest.mark.parametrize("Est, y", EST_Y)
def test_predictions_subset_and_order_invariant(Est, y, name):
    X = Xs
    est = _est(Est, method=_method(name)).fit(X, y)
    full = _outputs(est, X)
    head = _outputs(est, X[:7])
    perm = np.random.RandomState(1).permutation(len(X))
    permuted = _outputs(est, X[perm])
    for key in full:
        if key == "sample_y":
            continue  # noise draws are per row: only the function draws are shared
        assert_allclose(head[key], full[key][:7], err_msg=key, **_TOL)
        assert_allclose(permuted[key], full[key][perm], err_msg=key, **_TOL)


X_big = np.random.RandomState(2).randn(700, 3)


@pytest.mark.parametrize("name", METHOD_NAMES)
@pytest.mark.parametrize("Est, y", EST_Y)
def test_row_chunking_invariant(Est, y, name, monkeypatch):
    est = _est(Est, method=_method(name)).fit(Xs, y)
    unchunked = _outputs(est, X_big)
    calls = []
    method_ = est.method_
    for attr in ("sample_f", "predict_f"):
        original = getattr(method_, attr)

        def spy(Xc, *args, _original=original, **kwargs):
            calls.append(len(Xc))
            return _original(Xc, *args, **kwargs)

        monkeypatch.setattr(method_, attr, spy)
    _outputs(est, X_big)
    n_default = len(calls)
    assert calls == [len(X_big)] * n_default  # one chunk by default
    calls.clear()
    monkeypatch.setattr(module_mod, "_CHUNK_FLOATS", 1)
    chunked = _outputs(est, X_big)
    assert len(calls) == 3 * n_default, calls  # 256 + 256 + 188 rows
    for key in unchunked:
        assert_allclose(chunked[key], unchunked[key], err_msg=key, **_TOL)


@pytest.mark.parametrize("Est, y", EST_Y)
def test_random_state_none_follows_numpys_global_seed(Est, y):
    """As in scikit-learn: ``np.random.seed`` makes a ``random_state=None``
    fit reproducible, and two fits without reseeding differ."""

    def fit_predict():
        est = _est(Est, method=_method("mc_dropout"), random_state=None).fit(X, y)
        return _outputs(est, X)

    np.random.seed(7)
    first = fit_predict()
    np.random.seed(7)
    again = fit_predict()
    other = fit_predict()
    for key in first:
        assert_array_equal(first[key], again[key], err_msg=key)
    assert any(not np.array_equal(first[k], other[k]) for k in first)


def test_seed_streams_are_independent_children():
    """Every stream and every member gets its own ``SeedSequence`` child: the
    seeds differ, and adding members never changes the first members."""
    seeds = Seeds.from_random_state(0)
    values = [seeds.seed(name) for name in STREAMS]
    values += [seeds.child(k).seed(name) for k in range(3) for name in STREAMS]
    assert len(set(values)) == len(values)
    assert Seeds.from_random_state(0).child(1).seed("init") == seeds.child(1).seed(
        "init"
    )
    two = BayesianMLPClassifier(
        hidden_layer_sizes=(4,),
        max_epochs=3,
        random_state=0,
        method=Ensemble(n_members=2),
    ).fit(X, y_clf)
    three = BayesianMLPClassifier(
        hidden_layer_sizes=(4,),
        max_epochs=3,
        random_state=0,
        method=Ensemble(n_members=3),
    ).fit(X, y_clf)
    for a, b in zip(two.method_.modules_, three.method_.modules_):
        assert_array_equal(
            a.head.weight.detach().numpy(), b.head.weight.detach().numpy()
        )
