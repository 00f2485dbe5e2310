"""Pool-based active learning: the ``ActiveLearner`` meta-estimator, the
labelling-loop helper ``simulate`` and the acquisition functions it uses.

The acquisition functions are pure: they take class probabilities,
posterior draws (``predict_proba_samples``) or predictive standard
deviations, and return one score per row (higher: label first) or a batch.
"""

from ._learner import STRATEGIES, ActiveLearner, simulate
from ._strategies import (
    bald,
    batch_bald,
    entropy,
    least_confidence,
    margin,
    max_std,
    stochastic_batch,
    top_k,
    variation_ratios,
)

__all__ = [
    "STRATEGIES",
    "ActiveLearner",
    "bald",
    "batch_bald",
    "entropy",
    "least_confidence",
    "margin",
    "max_std",
    "simulate",
    "stochastic_batch",
    "top_k",
    "variation_ratios",
]
