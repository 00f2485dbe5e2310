"""Displays for uncertainty, following scikit-learn's Display pattern.

Each display has ``from_estimator`` (or ``from_results``) and
``from_predictions`` constructors and a ``plot(ax=None, ...)`` method that
stores the drawn artists and ``ax_`` / ``figure_``. matplotlib is imported
only inside ``plot``; install it with ``pip install skbdl[plot]``.
"""

from ._active_learning import ActiveLearningCurveDisplay
from ._predictive import PredictiveBandDisplay, PriorPredictiveDisplay
from ._regression_calibration import RegressionCalibrationDisplay
from ._reliability import ReliabilityDisplay

__all__ = [
    "ActiveLearningCurveDisplay",
    "PredictiveBandDisplay",
    "PriorPredictiveDisplay",
    "RegressionCalibrationDisplay",
    "ReliabilityDisplay",
]
