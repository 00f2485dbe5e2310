"""skbdl: scikit-learn-compatible Bayesian deep learning.

Estimators follow scikit-learn's API and add calibrated uncertainty:
``predict_proba`` is the Bayesian model average, and every estimator offers
``predict_uncertainty`` or ``predict(X, return_std=True)``.
"""

import importlib

__version__ = "0.1.0.dev0"

# Public name -> module that defines it. Submodules are imported on first use,
# so ``import skbdl`` stays cheap and an optional part never breaks another.
_PUBLIC = {
    "ActiveLearner": "skbdl.active_learning",
    "BayesianMLPClassifier": "skbdl.neural_network",
    "BayesianMLPRegressor": "skbdl.neural_network",
    "GPRegressor": "skbdl.gaussian_process",
    "DeepKernelRegressor": "skbdl.gaussian_process",
}
_SUBMODULES = (
    "active_learning",
    "datasets",
    "gaussian_process",
    "inference",
    "metrics",
    "neural_network",
    "plotting",
    "priors",
)

__all__ = sorted(_PUBLIC) + list(_SUBMODULES)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"skbdl.{name}")
    raise AttributeError(f"module 'skbdl' has no attribute {name!r}")


def __dir__():
    return __all__
