"""Bayesian multi-layer perceptrons."""

import importlib

# Public name -> defining submodule. Imported on first use: the inference
# methods import ``skbdl.neural_network._module`` / ``_engine``, which runs this
# file, while the estimators import ``skbdl.inference.METHODS``; an eager import
# here made ``import skbdl.inference`` (before the estimators) circular.
_PUBLIC = {
    "BayesianMLPClassifier": "._classifier",
    "BayesianMLPRegressor": "._regressor",
}

__all__ = ["BayesianMLPClassifier", "BayesianMLPRegressor"]


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
