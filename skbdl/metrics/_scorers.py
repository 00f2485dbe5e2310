"""Scorers for model selection with uncertainty-aware metrics.

A scorer is a callable ``scorer(estimator, X, y, sample_weight=None)`` that
returns a float where greater is better (scikit-learn's ``neg_`` convention),
so it can be passed to ``GridSearchCV(scoring=...)`` or put in the dict given
to ``cross_validate``.
"""

import numpy as np
from scipy.stats import norm
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.metrics import get_scorer_names as _sklearn_get_scorer_names

from ._calibration import (
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
)
from ._classification import brier_score
from ._regression import (
    crps_gaussian,
    gaussian_nll,
    interval_coverage,
    interval_width,
    regression_calibration_error,
)

_CONFIDENCE = 0.95


def _proba_response(estimator, X, scorer_name):
    """``predict_proba`` output and the labels of its columns."""
    labels = getattr(estimator, "classes_", None)
    return (estimator.predict_proba(X),), {"labels": labels}


def _std_response(estimator, X, scorer_name):
    """Predictive mean and std from ``predict(X, return_std=True)``."""
    try:
        mean, std = estimator.predict(X, return_std=True)
    except TypeError as exc:
        if "return_std" not in str(exc):
            raise
        raise TypeError(
            f"The scorer {scorer_name!r} calls estimator.predict(X, "
            f"return_std=True), which {type(estimator).__name__} does not "
            "support. Use an estimator with a predictive standard deviation "
            "(skbdl.BayesianMLPRegressor, skbdl.GPRegressor, "
            "sklearn's GaussianProcessRegressor or BayesianRidge)."
        ) from exc
    return (mean, std), {}


def _interval_response(estimator, X, scorer_name):
    """Central 95% interval: ``predict_interval`` or a Gaussian mean +/- z std."""
    if hasattr(estimator, "predict_interval"):
        interval = np.asarray(estimator.predict_interval(X, confidence=_CONFIDENCE))
        return (interval[:, 0], interval[:, 1]), {}
    (mean, std), _ = _std_response(estimator, X, scorer_name)
    half = norm.ppf(0.5 + _CONFIDENCE / 2) * np.asarray(std)
    return (np.asarray(mean) - half, np.asarray(mean) + half), {}


def _width(y_true, lower, upper, *, sample_weight=None):
    return interval_width(lower, upper, sample_weight=sample_weight)


class _UncertaintyScorer:
    """Score = sign * metric(y, *response(estimator, X), sample_weight=...)."""

    def __init__(self, name, metric, sign, response):
        self._name = name
        self._metric = metric
        self._sign = sign
        self._response = response

    def __call__(self, estimator, X, y_true, sample_weight=None):
        args, kwargs = self._response(estimator, X, self._name)
        value = self._metric(y_true, *args, sample_weight=sample_weight, **kwargs)
        return self._sign * value

    def __repr__(self):
        return f"skbdl.metrics.get_scorer({self._name!r})"


_SPECS = {
    "neg_expected_calibration_error": (expected_calibration_error, _proba_response),
    "neg_maximum_calibration_error": (maximum_calibration_error, _proba_response),
    "neg_classwise_calibration_error": (classwise_calibration_error, _proba_response),
    "neg_brier_score": (brier_score, _proba_response),
    "neg_gaussian_nll": (gaussian_nll, _std_response),
    "neg_crps": (crps_gaussian, _std_response),
    "neg_regression_calibration_error": (regression_calibration_error, _std_response),
    "interval_coverage": (interval_coverage, _interval_response),
    "neg_interval_width": (_width, _interval_response),
}

_SCORERS = {
    name: _UncertaintyScorer(name, metric, -1 if name.startswith("neg_") else 1,
                             response)
    for name, (metric, response) in _SPECS.items()
}


def get_scorer(scoring):
    """Get a scorer by name, with skbdl's uncertainty metrics added.

    skbdl's names are listed below; any other value goes to
    :func:`sklearn.metrics.get_scorer`, so ``"accuracy"`` or ``"neg_log_loss"``
    still work.

    Parameters
    ----------
    scoring : str or callable
        Name of the scorer, or a callable, which is returned unchanged.
        skbdl's names:

        - classification, from ``predict_proba`` (columns labelled by the
          estimator's ``classes_``): ``"neg_expected_calibration_error"``,
          ``"neg_maximum_calibration_error"``,
          ``"neg_classwise_calibration_error"``, ``"neg_brier_score"``;
        - regression, from ``predict(X, return_std=True)``:
          ``"neg_gaussian_nll"``, ``"neg_crps"`` (Gaussian closed form),
          ``"neg_regression_calibration_error"``;
        - regression intervals, from ``predict_interval(X, confidence=0.95)``
          when the estimator has it, else mean +/- 1.96 std:
          ``"interval_coverage"`` (the observed coverage of the 95% interval,
          a diagnostic to report rather than maximise) and
          ``"neg_interval_width"``.

    Returns
    -------
    callable
        ``scorer(estimator, X, y, sample_weight=None)``, greater is better.

    See Also
    --------
    get_scorer_names : All names this function accepts.
    sklearn.metrics.get_scorer : The fallback for other names.

    Notes
    -----
    ``GridSearchCV`` does not take skbdl's names as strings; pass the scorer
    object, ``GridSearchCV(est, grid, scoring=get_scorer("neg_crps"))``, or a
    dict of them with ``refit=<key>``. The search calls each candidate's own
    ``predict(X, return_std=True)`` while scoring, but ``GridSearchCV.predict``
    forwards no keyword arguments: take the uncertainty from the refitted model,
    ``search.best_estimator_.predict(X, return_std=True)``. A ``Pipeline``
    forwards ``return_std`` to its last step, so pipelines work as estimators.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import BayesianRidge
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skbdl.metrics import get_scorer
    >>> X, y = make_regression(n_samples=60, n_features=3, noise=5.0,
    ...                        bias=10.0, random_state=0)
    >>> search = GridSearchCV(BayesianRidge(), {"fit_intercept": [True, False]},
    ...                       scoring=get_scorer("neg_crps"), cv=3).fit(X, y)
    >>> search.best_params_
    {'fit_intercept': True}
    >>> mean, std = search.best_estimator_.predict(X[:2], return_std=True)
    >>> std.shape
    (2,)
    """
    if isinstance(scoring, str) and scoring in _SCORERS:
        return _SCORERS[scoring]
    return _sklearn_get_scorer(scoring)


def get_scorer_names():
    """Get the names of all scorers known to :func:`get_scorer`.

    These are skbdl's uncertainty scorers and every scikit-learn scorer name.

    Returns
    -------
    list of str
        Sorted names, skbdl's and scikit-learn's.

    See Also
    --------
    get_scorer : Get a scorer from its name.

    Examples
    --------
    >>> from skbdl.metrics import get_scorer_names
    >>> "neg_expected_calibration_error" in get_scorer_names()
    True
    >>> "accuracy" in get_scorer_names()
    True
    """
    return sorted(set(_SCORERS) | set(_sklearn_get_scorer_names()))
