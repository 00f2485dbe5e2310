"""scikit-learn's own GaussianProcessRegressor tests, run against GPRegressor.

The tests are those of the *installed* scikit-learn,
``sklearn/gaussian_process/tests/test_gpr.py``, read from its install
directory and executed with one change: the line
``from sklearn.gaussian_process import GaussianProcessRegressor`` imports
``skbdl.GPRegressor`` under that name instead. Every ``test_*`` function is
re-exported here so pytest collects it as one of ours. When scikit-learn was
installed without its tests, this module is skipped.

scikit-learn's data sets are small (6 to 50 rows), so GPRegressor runs them
on its NumPy engine. The suite is executed a second time with the torch
engine forced for every step (``FORCE_ENGINE = "torch"``); those copies are
named ``test_torch_engine__<scikit-learn's name>``.

The tests are scikit-learn's work, under its licence:

    Authors: The scikit-learn developers
    SPDX-License-Identifier: BSD-3-Clause
    (https://github.com/scikit-learn/scikit-learn/blob/main/COPYING)

``EXPECTED_FAILURES`` lists the test ids expected to fail, each with its
measured reason; they are marked ``xfail(strict=True)``, so a test that
starts passing fails the run and must leave the list.
"""

import pathlib
import types

import pytest
import sklearn

import skbdl.gaussian_process._engine as engine_module

_SOURCE = pathlib.Path(sklearn.__file__).parent / "gaussian_process/tests/test_gpr.py"
_IMPORT = "from sklearn.gaussian_process import GaussianProcessRegressor\n"
_SWAPPED = "from skbdl import GPRegressor as GaussianProcessRegressor\n"

# test id -> measured reason of the expected failure.
EXPECTED_FAILURES: dict = {}

if not _SOURCE.is_file():
    pytest.skip(
        f"scikit-learn {sklearn.__version__} was installed without its tests "
        f"({_SOURCE} is absent)",
        allow_module_level=True,
    )


def _load_suite(name):
    text = _SOURCE.read_text(encoding="utf-8")
    if text.count(_IMPORT) != 1:
        raise RuntimeError(
            f"{_SOURCE} no longer imports GaussianProcessRegressor with "
            f"{_IMPORT.strip()!r} exactly once; update _IMPORT in {__file__}."
        )
    module = types.ModuleType(name)
    module.__file__ = str(_SOURCE)
    code = compile(text.replace(_IMPORT, _SWAPPED), str(_SOURCE), "exec")
    exec(code, module.__dict__)
    return module


@pytest.fixture
def torch_engine(monkeypatch):
    monkeypatch.setattr(engine_module, "FORCE_ENGINE", "torch")


def _tests(module):
    return {k: v for k, v in vars(module).items() if k.startswith("test_")}


_suite = _load_suite("sklearn_test_gpr_with_skbdl")
globals().update(_tests(_suite))
_torch_suite = _load_suite("sklearn_test_gpr_with_skbdl_torch_engine")
globals().update(
    {
        f"test_torch_engine__{name[5:]}": pytest.mark.usefixtures("torch_engine")(test)
        for name, test in _tests(_torch_suite).items()
    }
)


def test_suite_uses_skbdl():
    from skbdl import GPRegressor

    assert _suite.GaussianProcessRegressor is GPRegressor
    assert _torch_suite.GaussianProcessRegressor is GPRegressor
