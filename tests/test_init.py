"""Public names (``__all__``) of skbdl and its subpackages resolve."""

import importlib
import inspect

import pytest

import skbdl

SUBPACKAGES = ["skbdl.active_learning", "skbdl.datasets", "skbdl.gaussian_process",
               "skbdl.inference", "skbdl.metrics", "skbdl.neural_network",
               "skbdl.plotting", "skbdl.priors"]


@pytest.mark.parametrize("modname", ["skbdl", *SUBPACKAGES])
def test_every_name_in_all_resolves(modname):
    module = importlib.import_module(modname)
    names = getattr(module, "__all__", [])
    assert len(names) == len(set(names)), "duplicates in __all__"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{modname}.__all__ lists names that do not exist: {missing}"
    for name in names:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            # re-exported from where it is defined, not a stale copy
            home = importlib.import_module(obj.__module__)
            assert getattr(home, obj.__name__) is obj


def test_skbdl_all_lists_every_subpackage_and_the_estimators():
    assert set(SUBPACKAGES) == {f"skbdl.{n}" for n in skbdl.__all__
                                if inspect.ismodule(getattr(skbdl, n, None))}
    for name in ("BayesianMLPClassifier", "BayesianMLPRegressor", "GPRegressor",
                 "DeepKernelRegressor"):
        assert name in skbdl.__all__
    assert sorted(dir(skbdl)) == sorted(skbdl.__all__)


def test_star_import():
    """``from skbdl import *`` binds every name of ``__all__``."""
    namespace = {}
    exec("from skbdl import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(skbdl.__all__)
