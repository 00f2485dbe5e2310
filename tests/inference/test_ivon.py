"""IVON: the update rule against the reference ``ivon-opt``, and the method.

The oracle (DESIGN §4): ``IVONUpdate`` and ``ivon.IVON`` 0.1.3 are given the
same network, the same minibatches and the same weight draws for 120 steps;
the mean ``m``, the Hessian estimate ``h`` and the momentum must agree to
1e-6. ``ivon-opt`` draws its noise from the global torch RNG, so it runs
under ``torch.random.fork_rng`` seeded with ``s``; ours draws from a
``torch.Generator`` seeded with ``s``. Both call ``randn(n_weights)`` once
per Monte-Carlo sample in the same order, so the draws are identical
(asserted through the iterates: a single differing draw moves ``h``).
"""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.inference import IVON
from skbdl.inference._ivon_update import IVONDivergedError, IVONUpdate
from skbdl.priors import GaussianPrior, LaplacePrior

ivon = pytest.importorskip("ivon")

N_STEPS = 120
SEED = 7


def _net():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
        ).double()


def _batches():
    rng = np.random.RandomState(1)
    X = torch.tensor(rng.normal(size=(N_STEPS, 16, 3)))
    y = (X[..., 0] + X[..., 1] > 0).long() + (X[..., 2] > 0.5).long()
    return X, y


def _loss(net, x, y):
    return torch.nn.functional.cross_entropy(net(x), y)


def _run_reference(kwargs, mc_samples):
    net = _net()
    opt = ivon.IVON(net.parameters(), mc_samples=mc_samples, **kwargs)
    X, y = _batches()
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        for step in range(N_STEPS):
            for _ in range(mc_samples):
                with opt.sampled_params(train=True):
                    opt.zero_grad()
                    _loss(net, X[step], y[step]).backward()
            opt.step()
    group = opt.param_groups[0]
    mean = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    return mean, group["hess"], group["momentum"]


def _run_ours(kwargs, mc_samples, seed=SEED):
    net = _net()
    opt = IVONUpdate(net.parameters(), mc_samples=mc_samples,
                     generator=torch.Generator().manual_seed(seed), **kwargs)
    X, y = _batches()
    for step in range(N_STEPS):
        def closure():
            opt.zero_grad()
            loss = _loss(net, X[step], y[step])
            loss.backward()
            return loss
        opt.step(closure)
    mean = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    return mean, opt.hess, opt.momentum


BASE = dict(lr=0.05, ess=200.0, hess_init=0.1, beta1=0.9, beta2=0.999,
            weight_decay=1e-3)
CONFIGS = {
    "price": dict(BASE),
    "gradsq": dict(BASE, hess_approx="gradsq"),
    "no-debias": dict(BASE, debias=False),
    "no-rescale": dict(BASE, rescale_lr=False, lr=0.005),
    "clipped": dict(BASE, clip_radius=0.05),
    "no-decay": dict(BASE, weight_decay=0.0, beta2=0.99),
}


@pytest.mark.parametrize("name, mc_samples", [
    *((name, 1) for name in CONFIGS), ("price", 3), ("gradsq", 3)])
def test_update_equals_ivon_opt_step_for_step(name, mc_samples):
    kwargs = CONFIGS[name]
    ref_m, ref_h, ref_mom = _run_reference(kwargs, mc_samples)
    m, h, mom = _run_ours(kwargs, mc_samples)
    # the run must have moved every state far beyond the tolerance, or the
    # comparison would pass for a rule that does nothing
    assert (m - _flat_init()).abs().max() > 1e-2
    assert (h - kwargs["hess_init"]).abs().max() > 1e-2
    assert mom.abs().max() > 1e-3
    torch.testing.assert_close(m, ref_m, rtol=0, atol=1e-6)
    torch.testing.assert_close(h, ref_h, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(mom, ref_mom, rtol=0, atol=1e-6)


def _flat_init():
    return torch.cat([p.detach().reshape(-1) for p in _net().parameters()])


def test_a_different_draw_is_detected():
    """The oracle is sensitive to the draws: another seed gives another h."""
    _, h, _ = _run_ours(CONFIGS["price"], 1)
    _, other, _ = _run_ours(CONFIGS["price"], 1, seed=SEED + 1)
    assert (other - h).abs().max() > 1e-3


def test_step_leaves_the_global_rng_alone():
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    _run_ours(CONFIGS["price"], 2)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()


def test_step_needs_a_closure_and_rejects_bad_hess_approx():
    net = _net()
    with pytest.raises(ValueError, match="closure"):
        IVONUpdate(net.parameters(), lr=0.1, ess=10.0).step()
    with pytest.raises(ValueError, match="hess_approx"):
        IVONUpdate(net.parameters(), lr=0.1, ess=10.0, hess_approx="exact")


def test_nan_loss_raises_diverged():
    net = _net()
    opt = IVONUpdate(net.parameters(), lr=0.1, ess=10.0,
                     generator=torch.Generator().manual_seed(0))

    def closure():
        opt.zero_grad()
        loss = net(torch.full((2, 3), float("nan"), dtype=torch.float64)).sum()
        loss.backward()
        return loss

    with pytest.raises(IVONDivergedError, match="non-finite"):
        opt.step(closure)


# ------------------------------------------------------------ the method
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[:600]), y[:600]


def test_delta_is_the_prior_precision_per_datum(digits):
    X, y = digits
    prior = GaussianPrior(scale=0.5)
    kwargs = IVON()._update_kwargs(_Problem(len(X), prior))
    assert kwargs["weight_decay"] == pytest.approx(4.0 / len(X))
    assert kwargs["ess"] == len(X)
    assert IVON(ess=50.0)._update_kwargs(_Problem(len(X), prior))["ess"] == 50.0
    # and the fitted posterior std of a weight without curvature is the prior's
    clf = BayesianMLPClassifier(hidden_layer_sizes=(8,), method=IVON(beta2=0.9),
                                prior=prior, max_epochs=30, random_state=0)
    Xc = np.hstack([X[:, 10:14], np.zeros((len(X), 1))])  # a constant-zero input
    clf.fit(Xc, y)
    hess = clf.method_.hess_[:8 * 5].view(8, 5)  # first-layer weights
    std = 1.0 / torch.sqrt(len(X) * (hess + kwargs["weight_decay"]))
    np.testing.assert_allclose(std[:, 4].numpy(), 0.5, rtol=1e-3)
    assert (std[:, :4] < 0.45).all()


class _Problem:
    def __init__(self, n, prior):
        self.n_train, self.prior = n, prior


def test_non_gaussian_prior_is_a_clear_error(digits):
    X, y = digits
    clf = BayesianMLPClassifier(method="ivon", prior=LaplacePrior(), max_epochs=1)
    with pytest.raises(ValueError, match="GaussianPrior.*LaplacePrior"):
        clf.fit(X, y)


@pytest.mark.parametrize("param, value", [
    ("lr", -0.1), ("beta2", 1.0), ("beta1", -0.1), ("ess", 0.0), ("hess_init", 0.0),
    ("mc_samples", 0), ("predict", "mode"),
])
def test_bad_hyper_parameters_name_the_parameter(digits, param, value):
    X, y = digits
    clf = BayesianMLPClassifier(method=IVON(**{param: value}), max_epochs=1)
    with pytest.raises(ValueError, match=param):
        clf.fit(X, y)


def test_divergence_names_lr_and_suggests_a_smaller_one(digits):
    X, y = digits
    clf = BayesianMLPClassifier(hidden_layer_sizes=(16,), method=IVON(lr=1e6),
                                max_epochs=3, random_state=0)
    with pytest.raises(FloatingPointError, match=r"got lr=1000000.0; try lr=100000"):
        clf.fit(X, y)


def test_h_learns_with_a_short_hessian_memory(digits):
    """At the defaults h moves a little from hess_init; with beta2=0.999, far.

    h relaxes towards the data's Price estimate at rate (1 - beta2) per
    step. At the default beta2=0.9999, a 200-epoch fit on all 1,257
    training rows of digits (4,000 steps) moves the median h from 0.3 to
    0.20 (1.5x; measured): the known "h stays at hess_init" behaviour, which
    is why hess_init sets the posterior's scale (IVON's docstring). Here,
    600 rows and 200 epochs (2,000 steps): measured 0.246 at the defaults
    (1.22x, asserted >= 1.15x) and 0.0415 with beta2=0.999 (7.2x, asserted
    >= 5x).
    """
    X, y = digits
    default = BayesianMLPClassifier(method="ivon", max_epochs=200,
                                    random_state=0).fit(X, y)
    assert default.method_.hess_.median() < default.method_.hess_init / 1.15
    clf = BayesianMLPClassifier(method=IVON(beta2=0.999), max_epochs=200,
                                random_state=0).fit(X, y)
    h = clf.method_.hess_
    assert h.median() < clf.method_.hess_init / 5
    assert torch.isfinite(h).all() and (h > 0).all()
    # the predictive spreads: draws disagree somewhere
    draws = clf.predict_proba_samples(X[:50], n_samples=16)
    assert draws.std(-1).max() > 0.05


def test_mean_prediction_is_the_mean_network(digits):
    X, y = digits
    clf = BayesianMLPClassifier(hidden_layer_sizes=(16,), method=IVON(predict="mean"),
                                max_epochs=5, random_state=0).fit(X, y)
    with torch.no_grad():
        logits = clf.method_.module_(torch.as_tensor(X[:20], dtype=torch.float32))
    np.testing.assert_allclose(clf.predict_proba(X[:20]),
                               torch.softmax(logits, -1).numpy(), rtol=1e-5,
                               atol=1e-6)


def test_regressor_noise_is_the_mean_networks_residual():
    """The homoscedastic noise is refit to the mean network's residuals."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(300, 1))
    y = X[:, 0] + 0.5 * rng.randn(300)
    reg = BayesianMLPRegressor(hidden_layer_sizes=(16,), method="ivon",
                               max_epochs=40, random_state=0).fit(X, y)
    residual = y - reg.predict(X)
    log_var = float(reg.method_.likelihood_.log_noise_var)
    noise_std = math.exp(0.5 * log_var) * reg._y_std
    assert noise_std == pytest.approx(residual.std(), rel=0.1)
    assert noise_std == pytest.approx(0.5, rel=0.2)


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(weight_decay=0.1),
    dict(weight_decay=0.1, clip_radius=0.05),
    dict(weight_decay=0.1, hess_approx="gradsq", mc_samples=3),
    dict(weight_decay=0.1, mc_samples=3, debias=False, rescale_lr=False),
], ids=repr)
def test_stacked_ivon_equals_ivon_update_in_float64(kwargs):
    # the fused path's IVON (StackedIVON: h + delta carried as ess (h +
    # delta), lerps, in-place mean steps) against the engine's IVONUpdate,
    # step for step on a smooth non-quadratic loss of 12 weights, in float64,
    # with the same draws: the two evaluate the same update in another
    # order, so 30 steps agree to ~1e-15; 1e-12 allows for rounding only
    from types import SimpleNamespace

    from skbdl.inference._ivon_update import StackedIVON

    P, k = 12, kwargs.get("mc_samples", 1)
    start = torch.linspace(-1.0, 1.0, P, dtype=torch.float64)
    scale = torch.linspace(0.5, 2.0, P, dtype=torch.float64)

    def loss_of(w):  # rows of w -> loss per row; curvature varies with w
        return (torch.sin(3.0 * w) * scale + 0.5 * scale * w * w).sum(-1)

    settings = dict(lr=0.05, ess=40.0, hess_init=0.3, beta2=0.99, **kwargs)
    param = torch.nn.Parameter(start.clone())
    engine = IVONUpdate([param], generator=torch.Generator().manual_seed(0),
                        **settings)

    def engine_closure():
        param.grad = None
        loss = loss_of(param)
        loss.backward()
        return loss

    stack = SimpleNamespace(flat=start.repeat(k, 1), grad=torch.zeros(k, P,
                                                                      dtype=torch.float64))
    fused = StackedIVON(stack, generator=torch.Generator().manual_seed(0), **settings)

    def fused_closure():
        w = stack.flat.detach().clone().requires_grad_()
        loss = loss_of(w)
        (grad,) = torch.autograd.grad(loss.sum(), w)
        stack.grad.copy_(grad)
        return loss.detach()

    for _ in range(30):
        engine.step(engine_closure)
        fused.step(fused_closure)
    np.testing.assert_allclose(fused.mean.numpy(), param.detach().numpy(), rtol=1e-12,
                    atol=1e-14)
    np.testing.assert_allclose(fused.hess.numpy(), engine.hess.numpy(), rtol=1e-12)
    np.testing.assert_allclose(fused.momentum.numpy(), engine.momentum.numpy(),
                               rtol=1e-12,
                    atol=1e-14)
    # the Hessian estimate moved: the test exercises the h update
    assert np.abs(fused.hess.numpy() - 0.3).max() > 1e-2
