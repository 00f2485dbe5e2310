"""Bad input gives a clear ValueError/TypeError that names the problem.

Never a torch traceback: every error below is raised by skbdl's (or
scikit-learn's) validation before any tensor is built.
"""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from skbdl.inference import MAP, Ensemble, MCDropout
from skbdl.neural_network import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.priors import GaussianPrior, LaplacePrior

rng = np.random.RandomState(0)
X = rng.randn(20, 3)
y_clf = np.array([0, 1] * 10)
y_reg = X[:, 0] + 0.1 * rng.randn(20)

ESTIMATORS = [
    pytest.param(BayesianMLPClassifier, y_clf, id="clf"),
    pytest.param(BayesianMLPRegressor, y_reg, id="reg"),
]


def _fast(Est, **params):
    params = {"hidden_layer_sizes": (4,), "max_epochs": 2, "random_state": 0, **params}
    return Est(**params)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
@pytest.mark.parametrize("value, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_X(Est, y, value, match):
    X_bad = X.copy()
    X_bad[3, 1] = value
    with pytest.raises(ValueError, match=f"Input X contains {match}"):
        _fast(Est).fit(X_bad, y)
    est = _fast(Est).fit(X, y)
    for method in ("predict", "predict_uncertainty"):
        with pytest.raises(ValueError, match=f"Input X contains {match}"):
            getattr(est, method)(X_bad)


@pytest.mark.parametrize("value, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_y_regression(value, match):
    y_bad = y_reg.copy()
    y_bad[0] = value
    with pytest.raises(ValueError, match=f"Input y contains {match}"):
        _fast(BayesianMLPRegressor).fit(X, y_bad)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_empty_data(Est, y):
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        _fast(Est).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        _fast(Est).fit(X[:, :0], y)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_empty_predict(Est, y):
    est = _fast(Est).fit(X, y)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        est.predict(X[:0])


def test_one_class():
    with pytest.raises(ValueError, match="at least 2 classes"):
        _fast(BayesianMLPClassifier).fit(X, np.ones(len(X)))


def test_continuous_labels():
    with pytest.raises(ValueError, match="Unknown label type"):
        _fast(BayesianMLPClassifier).fit(X, y_reg)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_3d_X(Est, y):
    with pytest.raises(ValueError, match="Found array with dim 3"):
        _fast(Est).fit(X.reshape(20, 3, 1), y)
    est = _fast(Est).fit(X, y)
    with pytest.raises(ValueError, match="Found array with dim 3"):
        est.predict(X.reshape(20, 3, 1))


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_1d_X(Est, y):
    with pytest.raises(ValueError, match="Expected 2D array"):
        _fast(Est).fit(X[:, 0], y)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_length_mismatch(Est, y):
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        _fast(Est).fit(X, y[:-1])


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_string_features(Est, y):
    X_str = X.astype(str)
    X_str[0, 0] = "a"
    with pytest.raises(ValueError, match="could not convert string to float"):
        _fast(Est).fit(X_str, y)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_wrong_n_features_at_predict(Est, y):
    est = _fast(Est).fit(X, y)
    name = Est.__name__
    msg = f"X has 2 features, but {name} is expecting 3 features"
    methods = [
        "predict",
        "predict_uncertainty",
        "predict_std",
        "sample_prior_predictive",
    ]
    methods += (
        ["predict_proba", "predict_proba_samples"]
        if Est is BayesianMLPClassifier
        else ["sample_y", "predict_interval"]
    )
    for method in methods:
        with pytest.raises(ValueError, match=msg):
            getattr(est, method)(X[:, :2])


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_predict_before_fit(Est, y):
    with pytest.raises(NotFittedError):
        _fast(Est).predict(X)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"lr": -1}, "'lr' parameter of {name} must be a float in the range \\(0"),
        ({"lr": 0.0}, "'lr' parameter"),
        ({"method": "nope"}, "'method' parameter of {name} must be a str among"),
        ({"method": 3}, "'method' parameter"),
        ({"hidden_layer_sizes": 0}, "'hidden_layer_sizes' parameter"),
        ({"hidden_layer_sizes": "16"}, "'hidden_layer_sizes' parameter"),
        ({"prior": -1}, "'prior' parameter of {name}"),
        ({"prior": 0}, "'prior' parameter"),
        ({"prior": "gaussian"}, "'prior' parameter"),
        ({"activation": "foo"}, "'activation' parameter of {name} must be a str among"),
        ({"max_epochs": 0}, "'max_epochs' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"n_samples": 0}, "'n_samples' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"n_iter_no_change": 0}, "'n_iter_no_change' parameter"),
        ({"early_stopping": "yes"}, "'early_stopping' parameter"),
        ({"random_state": "seed"}, "'random_state' parameter"),
    ],
)
def test_invalid_estimator_params(Est, y, params, match):
    est = _fast(Est, **params)
    # InvalidParameterError subclasses both ValueError and TypeError.
    with pytest.raises((ValueError, TypeError), match=match.format(name=Est.__name__)):
        est.fit(X, y)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
@pytest.mark.parametrize("sizes", [(0,), (4, 0), (4, -2)])
def test_non_positive_hidden_layer_sizes(Est, y, sizes):
    with pytest.raises(ValueError, match="'hidden_layer_sizes'.*positive integers"):
        _fast(Est, hidden_layer_sizes=sizes).fit(X, y)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
@pytest.mark.parametrize(
    "method, match",
    [
        (
            Ensemble(n_members=0),
            "'n_members' parameter of Ensemble must be an int in the range \\[1",
        ),
        (Ensemble(n_members=2.5), "'n_members' parameter of Ensemble"),
        (
            MCDropout(p=1.5),
            "'p' parameter of MCDropout must be a float in the range \\[0",
        ),
        (MCDropout(p=1.0), "'p' parameter of MCDropout"),
        (MCDropout(p=-0.1), "'p' parameter of MCDropout"),
        (MCDropout(n_samples=0), "'n_samples' parameter of MCDropout"),
    ],
)
def test_invalid_method_params(Est, y, method, match):
    with pytest.raises(ValueError, match=match):
        _fast(Est, method=method).fit(X, y)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
@pytest.mark.parametrize(
    "prior, match",
    [
        (GaussianPrior(scale=-1), "'scale' parameter of GaussianPrior"),
        (GaussianPrior(scale=0), "'scale' parameter of GaussianPrior"),
        (LaplacePrior(scale=-2.0), "'scale' parameter of LaplacePrior"),
    ],
)
def test_invalid_prior_object(Est, y, prior, match):
    with pytest.raises(ValueError, match=match):
        _fast(Est, prior=prior).fit(X, y)


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_invalid_parameter_does_not_modify_params(Est, y):
    method = Ensemble(n_members=0)
    est = _fast(Est, method=method)
    with pytest.raises(ValueError):
        est.fit(X, y)
    assert est.method is method and method.n_members == 0
    assert not hasattr(est, "method_")


@pytest.mark.parametrize("Est, y", ESTIMATORS)
def test_invalid_n_samples_prior_predictive(Est, y):
    est = _fast(Est).fit(X, y)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="n_samples"):
            est.sample_prior_predictive(X, n_samples=bad)


def test_invalid_n_samples_sample_y():
    est = _fast(BayesianMLPRegressor).fit(X, y_reg)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="n_samples must be a positive integer"):
            est.sample_y(X, n_samples=bad)


def test_invalid_n_samples_classifier_draws():
    est = _fast(BayesianMLPClassifier, method=MCDropout()).fit(X, y_clf)
    for bad in (0, -3, 2.5):
        for method in ("predict_proba_samples", "predict_std", "predict_uncertainty"):
            with pytest.raises(ValueError, match="n_samples"):
                getattr(est, method)(X, n_samples=bad)


def test_invalid_confidence():
    est = _fast(BayesianMLPRegressor).fit(X, y_reg)
    for bad in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(ValueError, match="confidence must be in \\(0, 1\\)"):
            est.predict_interval(X, confidence=bad)


def test_invalid_device():
    with pytest.raises(ValueError, match="device"):
        _fast(BayesianMLPClassifier, device="nope").fit(X, y_clf)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match=r"device='cuda'.*no CUDA.*device='cpu'"):
        _fast(BayesianMLPClassifier, device="cuda").fit(X, y_clf)


@pytest.mark.parametrize("y", [np.array(["a", "b"] * 10), np.array(["1.5"] * 20)])
def test_regressor_with_string_targets_is_a_clear_error(y):
    match = "needs numeric targets y.*BayesianMLPClassifier"
    with pytest.raises(ValueError, match=match):
        _fast(BayesianMLPRegressor).fit(X, y)


def test_unknown_method_object():
    class NotAMethod:
        pass

    with pytest.raises((ValueError, TypeError), match="'method' parameter"):
        _fast(BayesianMLPClassifier, method=NotAMethod()).fit(X, y_clf)


def test_map_has_no_params():
    # Guard for the contract test: MAP takes no hyper-parameters.
    assert MAP().get_params() == {}
