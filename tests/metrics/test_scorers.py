"""Scorers inside GridSearchCV and cross_validate, checked fold by fold."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import BayesianRidge, LinearRegression, LogisticRegression
from sklearn.metrics import get_scorer as sklearn_get_scorer
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbdl.metrics import (
    brier_score,
    classwise_calibration_error,
    crps_gaussian,
    expected_calibration_error,
    gaussian_nll,
    get_scorer,
    get_scorer_names,
    interval_coverage,
    interval_width,
    maximum_calibration_error,
    regression_calibration_error,
)

X_CLF, Y_CLF = make_classification(n_samples=120, n_features=5, n_informative=3,
                                   n_classes=3, random_state=0)
X_REG, Y_REG = make_regression(n_samples=80, n_features=3, noise=10.0, bias=5.0,
                               random_state=0)


def test_classification_scorers_in_grid_search_match_fold_metrics():
    cv = StratifiedKFold(3)
    search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 1.0]},
                          scoring=get_scorer("neg_expected_calibration_error"),
                          cv=cv).fit(X_CLF, Y_CLF)
    for i, C in enumerate([0.01, 1.0]):
        for fold, (train, test) in enumerate(cv.split(X_CLF, Y_CLF)):
            model = LogisticRegression(C=C, max_iter=500).fit(X_CLF[train],
                                                              Y_CLF[train])
            ece = expected_calibration_error(Y_CLF[test],
                                             model.predict_proba(X_CLF[test]))
            got = search.cv_results_[f"split{fold}_test_score"][i]
            assert got == pytest.approx(-ece, abs=1e-12)
    means = search.cv_results_["mean_test_score"]
    assert search.best_score_ == means.max()
    assert search.best_params_ == {"C": [0.01, 1.0][int(np.argmax(means))]}


def test_cross_validate_dict_mixes_skbdl_and_sklearn_scorers():
    scoring = {"ece": get_scorer("neg_expected_calibration_error"),
               "brier": get_scorer("neg_brier_score"),
               "cw": get_scorer("neg_classwise_calibration_error"),
               "mce": get_scorer("neg_maximum_calibration_error"),
               "acc": "accuracy"}
    cv = StratifiedKFold(3)
    res = cross_validate(LogisticRegression(max_iter=500), X_CLF, Y_CLF, cv=cv,
                         scoring=scoring)
    for fold, (train, test) in enumerate(cv.split(X_CLF, Y_CLF)):
        model = LogisticRegression(max_iter=500).fit(X_CLF[train], Y_CLF[train])
        proba, y = model.predict_proba(X_CLF[test]), Y_CLF[test]
        expected = {"ece": -expected_calibration_error(y, proba),
                    "brier": -brier_score(y, proba),
                    "cw": -classwise_calibration_error(y, proba),
                    "mce": -maximum_calibration_error(y, proba),
                    "acc": np.mean(model.classes_[proba.argmax(1)] == y)}
        for name, value in expected.items():
            assert res[f"test_{name}"][fold] == pytest.approx(value, abs=1e-12), name


def test_binary_brier_scorer_equals_sklearn_scorer():
    X, y = make_classification(n_samples=60, random_state=1)
    model = LogisticRegression().fit(X, y)
    ours = get_scorer("neg_brier_score")(model, X, y)
    assert ours == pytest.approx(sklearn_get_scorer("neg_brier_score")(model, X, y),
                                 abs=1e-12)


def test_proba_scorer_uses_classes_when_a_fold_misses_a_class():
    model = LogisticRegression(max_iter=500).fit(X_CLF, Y_CLF)
    keep = Y_CLF != 2
    score = get_scorer("neg_expected_calibration_error")(model, X_CLF[keep],
                                                         Y_CLF[keep])
    proba = model.predict_proba(X_CLF[keep])
    assert score == -expected_calibration_error(Y_CLF[keep], proba, labels=[0, 1, 2])


def test_scorer_forwards_sample_weight():
    model = LogisticRegression(max_iter=500).fit(X_CLF, Y_CLF)
    w = np.linspace(0.1, 2.0, len(Y_CLF))
    got = get_scorer("neg_brier_score")(model, X_CLF, Y_CLF, sample_weight=w)
    assert got == -brier_score(Y_CLF, model.predict_proba(X_CLF), sample_weight=w)


def test_regression_scorers_in_grid_search_with_refit_and_best_estimator_std():
    scoring = {name: get_scorer(name) for name in
               ("neg_gaussian_nll", "neg_crps", "interval_coverage",
                "neg_interval_width", "neg_regression_calibration_error")}
    cv = KFold(4)
    search = GridSearchCV(BayesianRidge(), {"fit_intercept": [False, True]},
                          scoring=scoring, refit="neg_crps", cv=cv).fit(X_REG, Y_REG)
    assert search.best_params_ == {"fit_intercept": True}
    train, test = next(iter(cv.split(X_REG)))
    model = BayesianRidge().fit(X_REG[train], Y_REG[train])
    mean, std = model.predict(X_REG[test], return_std=True)
    y = Y_REG[test]
    half = norm.ppf(0.975) * std
    expected = {"neg_gaussian_nll": -gaussian_nll(y, mean, std),
                "neg_crps": -crps_gaussian(y, mean, std),
                "interval_coverage": interval_coverage(y, mean - half, mean + half),
                "neg_interval_width": -interval_width(mean - half, mean + half)}
    expected["neg_regression_calibration_error"] = -regression_calibration_error(
        y, mean, std)
    for name, value in expected.items():
        assert search.cv_results_[f"split0_test_{name}"][1] == pytest.approx(
            value, abs=1e-12)
    # refit on all rows with the best parameters
    _, best_std = search.best_estimator_.predict(X_REG[:3], return_std=True)
    _, std_all = BayesianRidge().fit(X_REG, Y_REG).predict(X_REG[:3], return_std=True)
    np.testing.assert_allclose(best_std, std_all, rtol=1e-12)


def test_regression_scorer_through_pipeline_and_cross_validate():
    pipe = make_pipeline(StandardScaler(), BayesianRidge())
    res = cross_validate(pipe, X_REG, Y_REG, cv=3,
                         scoring={"crps": get_scorer("neg_crps"), "r2": "r2"})
    for fold, (train, test) in enumerate(KFold(3).split(X_REG)):
        scaler = StandardScaler().fit(X_REG[train])
        model = BayesianRidge().fit(scaler.transform(X_REG[train]), Y_REG[train])
        mean, std = model.predict(scaler.transform(X_REG[test]), return_std=True)
        assert res["test_crps"][fold] == pytest.approx(
            -crps_gaussian(Y_REG[test], mean, std), abs=1e-12)
        assert res["test_r2"][fold] == pytest.approx(r2_score(Y_REG[test], mean),
                                                     abs=1e-12)


class _IntervalRegressor(RegressorMixin, BaseEstimator):
    """Predicts 0 with the interval [-1, 1] whatever the confidence."""

    def fit(self, X, y):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X, return_std=False):
        mean = np.zeros(len(X))
        return (mean, np.full(len(X), 100.0)) if return_std else mean

    def predict_interval(self, X, confidence=0.95):
        assert confidence == 0.95
        return np.column_stack([-np.ones(len(X)), np.ones(len(X))])


def test_interval_scorers_prefer_predict_interval():
    X = np.zeros((4, 1))
    y = np.array([-2.0, -0.5, 0.5, 1.0])
    model = _IntervalRegressor().fit(X, y)
    assert get_scorer("interval_coverage")(model, X, y) == 0.75
    assert get_scorer("neg_interval_width")(model, X, y) == -2.0


def test_regression_scorer_without_return_std_raises_actionable_error():
    model = LinearRegression().fit(X_REG, Y_REG)
    with pytest.raises(TypeError, match=r"predict\(X, return_std=True\)"):
        get_scorer("neg_crps")(model, X_REG, Y_REG)


def test_get_scorer_falls_back_to_sklearn():
    assert get_scorer("accuracy") is not None
    model = LogisticRegression(max_iter=500).fit(X_CLF, Y_CLF)
    assert get_scorer("accuracy")(model, X_CLF, Y_CLF) == model.score(X_CLF, Y_CLF)
    assert get_scorer(len) is len
    with pytest.raises(ValueError, match="not a valid scoring value"):
        get_scorer("neg_nonsense")
    names = get_scorer_names()
    assert {"neg_crps", "interval_coverage", "neg_log_loss"} <= set(names)
    assert names == sorted(names)
    assert repr(get_scorer("neg_crps")) == "skbdl.metrics.get_scorer('neg_crps')"
