"""The fused training path (``skbdl/_nn/_fused.py``) against the generic engine.

The oracle is the autograd + skorch engine the fused path replaces: the
same energy, batches, initial weights and Adam, so the weights, the loss
curve and the noise must agree to float32 rounding after a few epochs.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl._nn import MLP, TrainingProblem, _fused, _prior_term, likelihood_for
from skbdl._nn import _problem as problem_module
from skbdl.inference import Ensemble, MCDropout
from skbdl.priors import (
    GaussianPrior,
    LaplacePrior,
    LayerwisePrior,
    SpikeAndSlabPrior,
    UniformPrior,
)
from skbdl.utils._random import Seeds
from skbdl.utils._torch import seeded

rng = np.random.RandomState(0)
X = rng.randn(70, 3)
Y_CLF = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
Y_REG = X @ [1.0, -0.5, 0.2] + 0.3 * np.sin(3 * X[:, 0]) + 0.1 * rng.randn(70)
# 70 rows in batches of 16: four full batches and a short last one.
COMMON = dict(max_epochs=4, batch_size=16, lr=1e-2, random_state=0)
# The two paths sum the same float32 terms in different orders (~1e-7
# relative per gradient). Adam divides each step by sqrt(v) + eps, which
# magnifies that for weights with tiny gradients, so after ~20 steps of size
# lr=1e-2 the weights agree to ~1e-5 relative; rtol=1e-4, atol=2e-6 leaves a
# margin, and any real difference (a wrong prior term, a missed noise refit,
# other dropout masks) moves weights by 1e-3 or more (the mutations checked).
# The loss curves, averages over the epoch, agree to 2e-6.


def _fit(est, y, fused, monkeypatch):
    monkeypatch.setattr(problem_module, "FUSED", fused)
    return est.fit(X, y)


def _weights(est):
    method = est.method_
    modules = getattr(method, "modules_", None) or [method.module_]
    return [p.detach().numpy().copy() for m in modules for p in m.parameters()]


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("hidden", [(8, 6), ()])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_fused_map_equals_the_engine(task, hidden, activation, monkeypatch):
    Est, y = ((BayesianMLPClassifier, Y_CLF) if task == "classification"
              else (BayesianMLPRegressor, Y_REG))
    est = Est(hidden, activation=activation, method="map", **COMMON)
    fused = _fit(est, y, True, monkeypatch)
    w_fused, curve_fused = _weights(fused), list(fused.loss_curve_)
    engine = _fit(clone(est), y, False, monkeypatch)
    assert_allclose(curve_fused, engine.loss_curve_, rtol=2e-6)
    for a, b in zip(w_fused, _weights(engine)):
        assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    if task == "regression":  # the noise refit after every epoch
        assert_allclose(fused.method_.likelihood_.noise_var,
                        engine.method_.likelihood_.noise_var, rtol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_fused_mc_dropout_equals_the_engine(Est, y, activation, monkeypatch):
    # the same dropout masks (drawn from the same seeded stream), the same
    # weights, hence the same predictive draws
    est = Est((8, 6), activation=activation, method=MCDropout(p=0.3, n_samples=4),
              **COMMON)
    fused = _fit(est, y, True, monkeypatch)
    engine = _fit(clone(est), y, False, monkeypatch)
    assert_allclose(fused.loss_curve_, engine.loss_curve_, rtol=2e-6)
    for a, b in zip(_weights(fused), _weights(engine)):
        assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    # and dropout did act: without it the weights differ
    plain = _fit(Est((8, 6), activation=activation, method="map", **COMMON), y, True,
                 monkeypatch)
    assert not np.allclose(_weights(plain)[0], _weights(fused)[0], atol=1e-3)


@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_stacked_ensemble_equals_members_trained_alone(Est, y, monkeypatch):
    est = Est((8,), method=Ensemble(n_members=3), **COMMON)
    stacked = _fit(est, y, True, monkeypatch)
    w_stacked = _weights(stacked)
    alone = _fit(clone(est), y, False, monkeypatch)
    assert_allclose(stacked.loss_curve_, alone.loss_curve_, rtol=2e-6)
    for a, b in zip(w_stacked, _weights(alone)):
        assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    if Est is BayesianMLPRegressor:  # one refit noise per member
        noise = stacked.method_.likelihood_.noise_var
        assert len(np.unique(noise)) == 3
        assert_allclose(noise, alone.method_.likelihood_.noise_var, rtol=1e-5)


def test_stacked_ensemble_does_not_depend_on_n_jobs():
    kw = dict(hidden_layer_sizes=(8,), **COMMON)
    one = BayesianMLPClassifier(method=Ensemble(3, n_jobs=1), **kw).fit(X, Y_CLF)
    two = BayesianMLPClassifier(method=Ensemble(3, n_jobs=2), **kw).fit(X, Y_CLF)
    assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    assert one.loss_curve_ == two.loss_curve_


def test_adam_matches_torch_adam():
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(4, 5, generator=gen), torch.randn(7, generator=gen)]
    grads = [[torch.randn(p.shape, generator=gen) for p in start] for _ in range(50)]
    ours = [p.clone() for p in start]
    fused_ref = [p.clone().requires_grad_() for p in start]
    default_ref = [p.clone().requires_grad_() for p in start]
    adam = _fused._Adam(ours, lr=1e-2)
    torch_fused = torch.optim.Adam(fused_ref, lr=1e-2, fused=True)
    torch_default = torch.optim.Adam(default_ref, lr=1e-2)
    for step in grads:
        adam.step(step)
        for ref, opt in ((fused_ref, torch_fused), (default_ref, torch_default)):
            for p, g in zip(ref, step):
                p.grad = g.clone()
            opt.step()
    for a, f, d in zip(ours, fused_ref, default_ref):
        assert torch.equal(a, f.detach())  # the same kernel
        # torch's default (foreach) Adam orders the bias corrections and eps
        # differently: float32 rounding, ~1e-7 per step over 50 steps
        torch.testing.assert_close(a, d.detach(), rtol=1e-6, atol=1e-6)
    # and the _foreach fallback (torch builds without the fused CPU kernel)
    fallback = [p.clone() for p in start]
    adam = _fused._Adam(fallback, lr=1e-2)
    for step in grads:
        adam.t += 1
        adam._foreach_step(step)
    for a, d in zip(fallback, default_ref):
        torch.testing.assert_close(a, d.detach(), rtol=1e-6, atol=1e-6)


def _problem(**kw):
    params = dict(X=torch.as_tensor(X, dtype=torch.float32),
                  y=torch.as_tensor(Y_CLF), likelihood=likelihood_for("classification"),
                  n_outputs=3, hidden_layer_sizes=(4,), activation="relu",
                  prior=GaussianPrior(1.0), seeds=Seeds.from_random_state(0))
    return TrainingProblem(**{**params, **kw})


@pytest.mark.parametrize("change, reason", [
    (dict(prior=UniformPrior(-2.0, 2.0)), "prior"),
    (dict(valid=(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))),
     "early stopping"),
    (dict(likelihood=likelihood_for("regression", heteroscedastic=True), n_outputs=1),
     "likelihood"),
])
def test_fused_reason_names_what_needs_the_engine(change, reason):
    assert _fused.fused_reason(_problem()) is None
    assert reason in _fused.fused_reason(_problem(**change))


@pytest.mark.parametrize("prior", [LaplacePrior(1.0), GaussianPrior(1.0, mean=0.5),
                                   SpikeAndSlabPrior(0.5)])
def test_priors_with_a_gradient_take_the_fused_path(prior):
    assert _fused.fused_reason(_problem(prior=prior)) is None


def test_fused_reason_for_the_training_arguments():
    problem = _problem()
    plain = MLP(3, (4,), 3, "relu")
    assert _fused.fused_reason(problem, plain) is None
    assert _fused.fused_reason(problem, MLP(3, (4,), 3, "relu", dropout=0.1)) is None
    assert "MLP" in _fused.fused_reason(problem, torch.nn.Linear(3, 3))
    assert "optimizer" in _fused.fused_reason(problem, plain, optimizer=torch.optim.SGD)
    assert "optimizer" in _fused.fused_reason(
        problem, plain, optimizer_kwargs={"weight_decay": 1.0})
    assert "hooks" in _fused.fused_reason(problem, plain, on_step=[print])
    assert "noise" in _fused.fused_reason(problem, plain, noise="gradient")


def test_methods_outside_the_fused_path_use_the_engine(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("train_fused called")

    monkeypatch.setattr(problem_module, "train_fused", refuse)
    BayesianMLPClassifier((4,), method="map", early_stopping=True,
                          **COMMON).fit(X, Y_CLF)
    BayesianMLPRegressor((4,), method="map", heteroscedastic=True,
                         **COMMON).fit(X, Y_REG)
    with pytest.raises(AssertionError, match="train_fused"):
        BayesianMLPClassifier((4,), method="map", **COMMON).fit(X, Y_CLF)


def test_verbose_labels_every_member(capsys):
    est = BayesianMLPClassifier((4,), method=Ensemble(3), verbose=1,
                                **COMMON).fit(X, Y_CLF)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["epoch", "member", "1", "member", "2", "member", "3",
                                "dur"]
    rows = [[float(v) for v in line.split()] for line in lines[2:]]
    assert [int(r[0]) for r in rows] == list(range(1, COMMON["max_epochs"] + 1))
    # the ensemble's loss curve is the mean of the members' printed losses
    # (printed to 4 decimals)
    assert_allclose([np.mean(r[1:4]) for r in rows], est.loss_curve_, atol=1e-4)


def test_verbose_prints_sgld_chains_and_ivon_draws_mean(capsys):
    # chains are separate runs, one column each; IVON's MC draws are one
    # model, one train_loss column: the mean loss_curve_ records
    from skbdl.inference import IVON, SGLD

    BayesianMLPClassifier((4,), method=SGLD(n_chains=2), verbose=1,
                          **COMMON).fit(X, Y_CLF)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["epoch", "chain", "1", "chain", "2", "dur"]
    est = BayesianMLPClassifier((4,), method=IVON(mc_samples=2), verbose=1,
                                **COMMON).fit(X, Y_CLF)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "dur"]
    printed = [float(line.split()[1]) for line in lines[2:]]
    # printed to 4 decimals: within half a unit of the last digit
    assert_allclose(printed, est.loss_curve_, atol=5e-5)


@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_fused_weighted_rows_equal_the_engine(Est, y, monkeypatch):
    weights = np.random.RandomState(1).uniform(0, 3, len(X))
    est = Est((8,), method=Ensemble(2), **COMMON)
    monkeypatch.setattr(problem_module, "FUSED", True)
    fused = est.fit(X, y, sample_weight=weights)
    w_fused = _weights(fused)
    monkeypatch.setattr(problem_module, "FUSED", False)
    engine = clone(est).fit(X, y, sample_weight=weights)
    assert_allclose(fused.loss_curve_, engine.loss_curve_, rtol=2e-6)
    for a, b in zip(w_fused, _weights(engine)):
        assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    if Est is BayesianMLPRegressor:
        assert_allclose(fused.method_.likelihood_.noise_var,
                        engine.method_.likelihood_.noise_var, rtol=1e-5)


def test_verbose_names_each_member_on_the_generic_engine(capsys):
    BayesianMLPClassifier((4,), method=Ensemble(2), early_stopping=True, verbose=1,
                          **COMMON).fit(X, Y_CLF)
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("[")] == ["[member 1]",
                                                                "[member 2]"]
    assert lines[0] == "[member 1]"


def _draws(est):
    return [t.numpy().copy() for wb in est.method_.draws_ for t in wb]


# SGLD, IVON and VI on the fused path (``rule``), and the non-Gaussian
# priors: the same update rules as the engine's ``SGLDUpdate``,
# ``IVONUpdate`` and autograd VI, the same noise streams, so the kept draws
# and posteriors agree to float32 rounding. The tolerances below are the
# module's for MAP (see the top; rtol=1e-4 / atol=2e-6 on weights, 2e-6 on
# loss curves, 1e-5 on noise and energies). Measured, every test of this
# section: weights need no atol at rtol=1e-4 except a near-zero weight
# under the Laplace prior (2e-8); loss curves differ by <= 1.1e-7 relative,
# noise and energy traces by <= 1.4e-7. A wrong step size, noise scale,
# prior term or kept step moves them by 1e-3 or more (mutations checked).
@pytest.mark.parametrize("kwargs", [
    dict(schedule="constant", step_size=0.1),
    dict(schedule="cyclical", n_cycles=2, exploration=0.5),
    dict(schedule="polynomial", preconditioner="rmsprop", temperature=0.5),
])
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_fused_sgld_chains_equal_the_engine(Est, y, kwargs, monkeypatch):
    from skbdl.inference import SGLD

    est = Est((8, 6), method=SGLD(n_chains=2, n_keep=6, **kwargs), **COMMON)
    fused = _fit(est, y, True, monkeypatch)
    engine = _fit(clone(est), y, False, monkeypatch)
    assert fused.method_.n_draws_ == engine.method_.n_draws_ >= 8
    for a, b in zip(_draws(fused), _draws(engine)):
        assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    assert_allclose(fused.loss_curve_, engine.loss_curve_, rtol=2e-6)
    assert_allclose(fused.method_.traces_["energy"], engine.method_.traces_["energy"],
                    rtol=1e-5)
    if Est is BayesianMLPRegressor:  # the step scaled by each chain's noise
        assert_allclose(fused.method_.likelihood_.noise_var,
                        engine.method_.likelihood_.noise_var, rtol=1e-5)


def test_fused_sgld_stacks_every_chain_whatever_n_jobs(monkeypatch):
    from skbdl.inference import SGLD

    calls = []
    original = problem_module.train_fused

    def spy(problem, modules, **kwargs):
        calls.append((len(modules), kwargs.get("rule") is not None))
        return original(problem, modules, **kwargs)

    monkeypatch.setattr(problem_module, "train_fused", spy)
    kw = dict(hidden_layer_sizes=(8,), **COMMON)
    one = BayesianMLPClassifier(method=SGLD(n_chains=3, n_jobs=1), **kw).fit(X, Y_CLF)
    two = BayesianMLPClassifier(method=SGLD(n_chains=3, n_jobs=2), **kw).fit(X, Y_CLF)
    assert calls == [(3, True), (3, True)]  # one stack of all chains, both times
    assert one.method_.n_draws_ == two.method_.n_draws_ == 3 * 6  # 6 kept per chain


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(hess_approx="gradsq", mc_samples=3),
    dict(mc_samples=2, debias=False, rescale_lr=False, clip_radius=1e-3),
])
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_fused_ivon_equals_the_engine(Est, y, kwargs, monkeypatch):
    from skbdl.inference import IVON

    est = Est((8, 6), method=IVON(lr=0.05, beta2=0.99, **kwargs), **COMMON)
    fused = _fit(est, y, True, monkeypatch)
    engine = _fit(clone(est), y, False, monkeypatch)
    # both record the mean loss over the mc_samples draws of a step
    assert_allclose(fused.loss_curve_, engine.loss_curve_, rtol=2e-6)
    for a, b in zip(_weights(fused), _weights(engine)):
        assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    assert_allclose(fused.method_.hess_, engine.method_.hess_, rtol=1e-4, atol=2e-6)
    # and the Hessian estimate did move away from hess_init
    assert np.abs(fused.method_.hess_.numpy() - 0.3).max() > 1e-2
    if Est is BayesianMLPRegressor:
        assert_allclose(fused.method_.likelihood_.noise_var,
                        engine.method_.likelihood_.noise_var, rtol=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_fused_vi_equals_the_engine(Est, y, activation, monkeypatch):
    # the hand-written local reparameterisation (forward, backward, KL
    # gradient) against MeanFieldMLP under autograd: the same noise stream,
    # so the same means and standard deviations to float32 rounding
    from skbdl.inference import VI

    est = Est((8, 6), activation=activation, method=VI(init_scale=0.1), **COMMON)
    fused = _fit(est, y, True, monkeypatch)
    engine = _fit(clone(est), y, False, monkeypatch)
    assert_allclose(fused.loss_curve_, engine.loss_curve_, rtol=2e-6)
    assert_allclose(fused.method_.mean_, engine.method_.mean_, rtol=1e-4, atol=2e-6)
    assert_allclose(fused.method_.std_, engine.method_.std_, rtol=1e-4, atol=2e-6)
    # the standard deviations were trained (they start at init_scale)
    assert np.abs(fused.method_.std_.numpy() - 0.1).max() > 1e-3
    if Est is BayesianMLPRegressor:
        assert_allclose(fused.method_.likelihood_.noise_var,
                        engine.method_.likelihood_.noise_var, rtol=1e-5)


def test_fused_vi_kl_gradient_and_value():
    # the KL term of the fused VI rule alone (no data gradient, no Adam
    # step), in float64, against autograd through mean_field_kl: its
    # gradient in both halves and its value from epoch_values, to rounding
    # (measured: 2e-15 relative at most; 1e-12 leaves room for rounding only)
    from skbdl._nn import MeanFieldStack
    from skbdl.inference._vi import _StackedVIAdam
    from skbdl.inference._vi_module import MeanFieldMLP, mean_field_kl

    with seeded(0):
        module = MeanFieldMLP(3, (4,), 2, "tanh").double()
    with torch.no_grad():
        module.rho.copy_(torch.linspace(-4.0, 1.0, module.rho.numel()))
    stack = MeanFieldStack([module], generator=torch.Generator().manual_seed(0))
    rule = _StackedVIAdam(stack, lr=0.1, prior_var=0.7, n_train=50)
    rule.adam.step = lambda grads: None  # leave the weights where they are
    x = torch.randn(1, 3, 5, dtype=torch.float64)

    def closure():  # forward and backward with a zero data gradient
        _, saved = stack.forward(x, keep=True, train=True)
        stack.backward(torch.zeros(1, 2, 5, dtype=torch.float64), saved,
                       torch.ones(1, 5, 1, dtype=torch.float64))
        return torch.zeros(1, dtype=torch.float64)

    rule.step(closure)
    (value,) = rule.epoch_values(1)
    mu = module.mu.detach().clone().requires_grad_()
    rho = module.rho.detach().clone().requires_grad_()
    kl = mean_field_kl(mu, torch.nn.functional.softplus(rho), 0.7) / 50
    grad_mu, grad_rho = torch.autograd.grad(kl, [mu, rho])
    assert float(value[0]) == pytest.approx(float(kl), rel=1e-12)
    assert_allclose(stack.grad_mu[0].numpy(), grad_mu.numpy(), rtol=1e-12)
    assert_allclose(stack.grad_rho[0].numpy(), grad_rho.numpy(), rtol=1e-12)


def test_epoch_values_need_one_closure_call_per_step():
    # the values kept per step must line up with the epoch's losses: a rule
    # that called the closure twice per step would misalign them
    from skbdl.inference._vi import _StackedVIAdam
    from skbdl.inference._vi_module import MeanFieldMLP

    stack = _fused._Stack([MLP(4, (3,), 2, "relu")])
    term = _prior_term.PriorTerm(stack, LaplacePrior(1.0), 10)
    term.step()
    term.step()
    with pytest.raises(RuntimeError, match="2 times, for 3 losses"):
        term.epoch_values(3)
    from skbdl._nn import MeanFieldStack

    rule = _StackedVIAdam(MeanFieldStack([MeanFieldMLP(4, (3,), 2)]), lr=0.1,
                          prior_var=1.0, n_train=10)
    with pytest.raises(RuntimeError, match="0 KL values for 2 steps"):
        rule.epoch_values(2)


def test_vi_with_several_train_samples_uses_the_engine(monkeypatch):
    from skbdl.inference import VI

    def refuse(*args, **kwargs):
        raise AssertionError("train_fused called")

    monkeypatch.setattr(problem_module, "train_fused", refuse)
    BayesianMLPClassifier((4,), method=VI(n_train_samples=2), **COMMON).fit(X, Y_CLF)


@pytest.mark.parametrize("method", ["sgld", "ivon", "vi", "sgld_map_init",
                                    "ivon_2_samples"])
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_fused_rules_with_row_weights_equal_the_engine(Est, y, method, monkeypatch):
    from skbdl.inference import IVON, SGLD, VI

    methods = {"sgld": SGLD(n_chains=2, n_keep=6),
               "sgld_map_init": SGLD(n_chains=2, n_keep=6, init="map"),
               "ivon": IVON(lr=0.05), "ivon_2_samples": IVON(lr=0.05, mc_samples=2),
               "vi": VI(init_scale=0.1)}
    w = np.random.RandomState(1).randint(1, 4, len(X)).astype(float)
    est = Est((8, 6), method=methods[method], **COMMON)
    monkeypatch.setattr(problem_module, "FUSED", True)
    fused = est.fit(X, y, sample_weight=w)
    monkeypatch.setattr(problem_module, "FUSED", False)
    engine = clone(est).fit(X, y, sample_weight=w)
    for a, b in zip(_posterior(fused), _posterior(engine)):
        assert_allclose(a, b, rtol=1e-4, atol=2e-6)


def _posterior(est):
    method = est.method_
    if hasattr(method, "draws_"):
        return _draws(est)
    if hasattr(method, "std_"):
        return [method.mean_.numpy(), method.std_.numpy()]
    return [*_weights(est), method.hess_.numpy()]


def test_train_fused_refuses_a_state_with_a_rule():
    from skbdl._nn import TrainState

    problem = _problem()
    module = MLP(3, (4,), 3, "relu")
    with pytest.raises(ValueError, match="resumes Adam only"):
        _fused.train_fused(problem, [module], seeds=[problem.seeds],
                           likelihoods=[problem.likelihood], state=TrainState(),
                           rule=lambda stack: None)


_PRIORS = {
    "laplace": LaplacePrior(0.5),
    "spike_and_slab": SpikeAndSlabPrior([0.9, 0.1, 0.5], scale=2.0, spike_scale=0.05),
    "layerwise": LayerwisePrior(
        input=GaussianPrior(scale=[1.0, 2.0, 0.5], mean=[0.0, 0.3, 0.0]),
        output_bias=LaplacePrior(1.0), default=GaussianPrior(0.7)),
}


@pytest.mark.parametrize("prior", list(_PRIORS))
@pytest.mark.parametrize("method", ["map", "ensemble", "sgld", "mc_dropout"])
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_fused_priors_equal_the_engine(Est, y, method, prior, monkeypatch):
    # the closed-form prior gradients (_gradient_plan and each part's
    # _batched_energy) against autograd through neg_log_prob_layers
    # in the engine; a wrong gradient,
    # a missing 1/N or a prior left out moves the weights by 1e-3 or more
    from skbdl.inference import SGLD

    methods = {"map": "map", "ensemble": Ensemble(n_members=2),
               "sgld": SGLD(n_chains=2, n_keep=6), "mc_dropout": MCDropout(p=0.2)}
    est = Est((8, 6), method=methods[method], prior=_PRIORS[prior], **COMMON)
    fused = _fit(est, y, True, monkeypatch)
    engine = _fit(clone(est), y, False, monkeypatch)
    assert_allclose(fused.loss_curve_, engine.loss_curve_, rtol=2e-6)
    if method == "sgld":
        pairs = zip(_draws(fused), _draws(engine))
    else:
        pairs = zip(_weights(fused), _weights(engine))
    for a, b in pairs:
        assert_allclose(a, b, rtol=1e-4, atol=2e-6)


class _Quartic(GaussianPrior):
    """A prior without a closed-form gradient (the autograd fallback)."""

    def _neg_log_prob(self, param):
        return param.pow(4).sum()

    def _batched_energy(self):
        from skbdl.priors._elementwise import _BasePrior

        return _BasePrior._batched_energy(self)


@pytest.mark.parametrize("prior", [
    GaussianPrior(0.7), GaussianPrior(0.7, mean=0.3), LaplacePrior(0.5), _Quartic(),
    # isotropic Gaussian parts (weight decay in the backward pass) on the
    # middle and the output bias, a gradient part on the input weight
    LayerwisePrior(input=LaplacePrior(0.5), output_bias=GaussianPrior(2.0),
                   default=GaussianPrior(0.5)),
    # weight decay on the input weight alone, a gradient part on the rest
    LayerwisePrior(input=GaussianPrior(0.5), default=LaplacePrior(1.0)),
    SpikeAndSlabPrior([0.9, 0.1, 0.5, 0.5], scale=[1.0, 2.0, 1.0, 0.5], mean=0.1,
                      spike_scale=0.05),
    LayerwisePrior(input=GaussianPrior(scale=[1.0, 2.0, 3.0, 4.0],
                                       mean=[0.0, 0.2, -0.1, 0.0]),
                   output_bias=GaussianPrior(2.0, mean=[0.1, 0.2, 0.3]),
                   default=LaplacePrior(1.0)),
], ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("hidden", [(6, 5), ()])
def test_prior_segments_give_the_gradient_of_neg_log_prob_layers(prior, hidden):
    # the fused path's prior term on a stack of two float64 networks: every
    # part on its slot of the flat weights (input weight, rest, middle,
    # output bias), as weight decay or as a gradient, against autograd
    # through neg_log_prob_layers, member by member. Both evaluate the same
    # float64 expressions in another order, so they agree to rounding
    # (~1e-15); 1e-12 leaves room for it only.
    modules = []
    for seed in range(2):
        torch.manual_seed(seed)
        modules.append(MLP(4, hidden, 3, "relu").double())
    stack = _fused._Stack(modules)
    # a backward pass without data: only the prior's weight decay parts
    x = torch.zeros(2, 4, 3, dtype=torch.float64)
    _, saved = stack.forward(x, keep=True, train=True)
    term = _prior_term.PriorTerm(stack, prior, 1.0)
    stack.backward(torch.zeros(2, 3, 3, dtype=torch.float64), saved,
                   torch.ones(2, 3, 1, dtype=torch.float64), term.coef)
    term.step()
    (values,) = term.epoch_values(1)
    for k, module in enumerate(modules):
        leaves = [(w.detach().clone().requires_grad_(),
                   b.detach().clone().requires_grad_()) for w, b in module.layers()]
        value = prior.neg_log_prob_layers(leaves)
        expected = torch.autograd.grad(value, [t for layer in leaves for t in layer])
        assert float(values[k]) == pytest.approx(float(value), rel=1e-12)
        got = [t for i in range(len(leaves))
               for t in (stack.grad_w[i][k], stack.grad_b[i][k, :, 0])]
        for a, b in zip(got, expected, strict=True):
            assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
