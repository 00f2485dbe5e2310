"""``verbose`` of GPRegressor and DeepKernelRegressor: one labelled line per
optimizer run / epoch, nothing at ``verbose=0``."""

import math
import re

import numpy as np
import pytest
from sklearn.gaussian_process.kernels import RBF, WhiteKernel
from sklearn.gaussian_process.kernels import ConstantKernel as C

from skbdl import DeepKernelRegressor, GPRegressor

_rs = np.random.RandomState(0)
X = _rs.uniform(0, 5, (15, 1))
Y = np.sin(X).ravel() + 0.1 * _rs.randn(15)
X_DKL = _rs.uniform(-2, 2, (30, 2))
Y_DKL = np.sin(X_DKL[:, 0])
DKL = dict(hidden_layer_sizes=(8,), random_state=0)

_RUN = re.compile(
    r"^\[GPRegressor\] run (\d+)/(\d+) \((kernel's theta|random restart)\): "
    r"-LML (-?\d+\.\d{6}), (\d+) iterations, (\d+) evaluations, \d+\.\d\d s$"
)
_ITERATION = re.compile(r"^\[GPRegressor\] run (\d+)/\d+ iteration (\d+): -LML ")
_EPOCH = re.compile(
    r"^\[DeepKernelRegressor\] epoch (\d+)/(\d+): loss -?\d+\.\d{4}"
    r"(, validation NLL -?\d+\.\d{4})?, \d+\.\d\d s$"
)


def _kernel():
    return C(1.0) * RBF(1.0) + WhiteKernel(1e-2)


@pytest.mark.parametrize("engine", ["numpy", "torch"])
@pytest.mark.parametrize("n_restarts", [0, 2])
def test_gpr_verbose_prints_one_line_per_optimizer_run(
    capsys, monkeypatch, engine, n_restarts
):
    if engine == "torch":
        import skbdl.gaussian_process._engine as engine_module

        monkeypatch.setattr(engine_module, "FORCE_ENGINE", "torch")
    kw = dict(n_restarts_optimizer=n_restarts, random_state=0)
    gp = GPRegressor(_kernel(), verbose=1, **kw).fit(X, Y)
    lines = capsys.readouterr().out.splitlines()
    runs = [_RUN.match(line) for line in lines]
    assert all(runs) and len(runs) == n_restarts + 1, lines
    assert [int(m.group(1)) for m in runs] == list(range(1, n_restarts + 2))
    assert {int(m.group(2)) for m in runs} == {n_restarts + 1}
    # the best printed run is the fitted LML, to the printed 6 decimals
    best = min(runs, key=lambda m: float(m.group(4)))
    assert float(best.group(4)) == pytest.approx(
        -gp.log_marginal_likelihood_value_, abs=5e-7
    )
    assert int(best.group(5)) == gp.n_iter_
    assert all(int(m.group(6)) >= int(m.group(5)) for m in runs)
    GPRegressor(_kernel(), **kw).fit(X, Y)
    assert capsys.readouterr().out == ""


def test_gpr_verbose_2_adds_one_line_per_lbfgs_iteration(capsys):
    gp = GPRegressor(_kernel(), n_restarts_optimizer=1, random_state=0, verbose=2)
    gp.fit(X, Y)
    lines = capsys.readouterr().out.splitlines()
    runs = [m for m in map(_RUN.match, lines) if m]
    iterations = [m for m in map(_ITERATION.match, lines) if m]
    assert len(runs) + len(iterations) == len(lines)
    for run in runs:  # each run's iteration lines count 1..n_iter
        counted = [int(m.group(2)) for m in iterations if m.group(1) == run.group(1)]
        assert counted == list(range(1, int(run.group(5)) + 1))


def test_gpr_verbose_without_optimizer_prints_the_lml(capsys):
    gp = GPRegressor(RBF(), optimizer=None, verbose=1).fit(X, Y)
    out = capsys.readouterr().out
    match = re.fullmatch(r"\[GPRegressor\] kernel not optimised: -LML (\S+)\n", out)
    assert match, out
    assert float(match.group(1)) == pytest.approx(
        -gp.log_marginal_likelihood_value_, abs=5e-7
    )


def test_gpr_verbose_is_a_validated_parameter():
    assert GPRegressor().get_params()["verbose"] == 0
    with pytest.raises(ValueError, match="'verbose' parameter"):
        GPRegressor(verbose="yes").fit(X, Y)


def _epochs(out):
    lines = out.splitlines()
    matches = [_EPOCH.match(line) for line in lines]
    assert all(matches), lines
    return [int(m.group(1)) for m in matches], matches


def test_dkl_verbose_prints_one_line_per_epoch(capsys):
    dkl = DeepKernelRegressor(max_epochs=6, verbose=1, **DKL).fit(X_DKL, Y_DKL)
    epochs, matches = _epochs(capsys.readouterr().out)
    assert epochs == list(range(1, dkl.n_iter_ + 1)) == list(range(1, 7))
    assert all(m.group(3) for m in matches)  # validation NLL (early stopping)
    DeepKernelRegressor(max_epochs=6, **DKL).fit(X_DKL, Y_DKL)
    assert capsys.readouterr().out == ""


def test_dkl_verbose_long_runs_print_every_kth_epoch_and_the_last(capsys):
    kw = dict(max_epochs=100, learning_rate=0.05, n_iter_no_change=2, verbose=1)
    dkl = DeepKernelRegressor(**kw, **DKL).fit(X_DKL, Y_DKL)
    epochs, _ = _epochs(capsys.readouterr().out)
    assert dkl.n_iter_ % 4 != 0  # stopped early, between two printed epochs
    k = math.ceil(100 / 25)
    due = [e for e in range(1, dkl.n_iter_ + 1) if e == 1 or e % k == 0]
    assert epochs == sorted(set(due) | {dkl.n_iter_})
    DeepKernelRegressor(**{**kw, "verbose": 2}, **DKL).fit(X_DKL, Y_DKL)
    epochs, _ = _epochs(capsys.readouterr().out)
    assert epochs == list(range(1, dkl.n_iter_ + 1))


def test_dkl_verbose_svgp_without_validation(capsys):
    kw = dict(inference="svgp", n_inducing=5, batch_size=8, validation_fraction=0)
    DeepKernelRegressor(max_epochs=3, verbose=1, **kw, **DKL).fit(X_DKL, Y_DKL)
    epochs, matches = _epochs(capsys.readouterr().out.replace("ELBO loss", "loss"))
    assert epochs == [1, 2, 3] and not any(m.group(3) for m in matches)
