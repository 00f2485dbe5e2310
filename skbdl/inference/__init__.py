"""Inference methods: objects holding a posterior approximation's settings.

Pass one as ``method=`` to ``BayesianMLPClassifier`` or
``BayesianMLPRegressor``; its parameters are tunable as ``method__<param>``.
``METHODS`` maps the string names to the classes (see ``_base`` for the
contract a new method implements).
"""

from ._base import BaseInference
from ._ensemble import Ensemble
from ._ivon import IVON
from ._laplace import Laplace
from ._map import MAP
from ._mc_dropout import MCDropout
from ._sgld import SGLD
from ._vi import VI

# The registry: a new method is one file and one line here.
METHODS = {
    "map": MAP,
    "ensemble": Ensemble,
    "mc_dropout": MCDropout,
    "laplace": Laplace,
    "ivon": IVON,
    "sgld": SGLD,
    "vi": VI,
}

__all__ = ["BaseInference", "METHODS", "MAP", "Ensemble", "IVON", "Laplace",
           "MCDropout", "SGLD", "VI"]
