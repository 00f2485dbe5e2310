"""Calibration and uncertainty metrics, and scorers for model selection.

Metric functions follow scikit-learn's signature ``metric(y_true, y_prob, *,
sample_weight=None, ...)`` and are pure NumPy/SciPy. Scorers follow the
``neg_`` convention of :func:`sklearn.metrics.get_scorer`: pass
``get_scorer("neg_expected_calibration_error")`` (the object, not the string) to
``GridSearchCV(scoring=...)`` or put it in the dict given to ``cross_validate``.
Regression scorers call ``predict(X, return_std=True)``; ``GridSearchCV.predict``
forwards no keyword arguments, so take uncertainty from
``search.best_estimator_.predict(X, return_std=True)``.
"""

from ._calibration import (
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    reliability_curve,
)
from ._classification import (
    brier_score,
    negative_log_likelihood,
    ood_auroc,
    top_k_accuracy,
)
from ._regression import (
    crps_ensemble,
    crps_gaussian,
    gaussian_nll,
    interval_coverage,
    interval_width,
    regression_calibration_curve,
    regression_calibration_error,
)
from ._scorers import get_scorer, get_scorer_names

__all__ = [
    "brier_score",
    "classwise_calibration_error",
    "crps_ensemble",
    "crps_gaussian",
    "expected_calibration_error",
    "gaussian_nll",
    "get_scorer",
    "get_scorer_names",
    "interval_coverage",
    "interval_width",
    "maximum_calibration_error",
    "negative_log_likelihood",
    "ood_auroc",
    "regression_calibration_curve",
    "regression_calibration_error",
    "reliability_curve",
    "top_k_accuracy",
]
