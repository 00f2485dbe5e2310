"""Mean-field Gaussian variational inference (Bayes by backprop)."""

import functools
import math
from numbers import Integral, Real

import numpy as np
import torch
from skorch.callbacks import Callback

from .._nn import Adam, MeanFieldStack, stacked_forward
from ..utils._sklearn import Interval, StrOptions
from ._base import BaseInference
from ._ivon import diagonal_gaussian_f, gaussian_prior_precision
from ._vi_module import DrawAveraged, MeanFieldMLP, mean_field_kl_of_sums


def _diverged(lr, what):
    """The error for a non-finite negative ELBO: it names ``lr`` and a fix."""
    return FloatingPointError(
        f"VI training diverged: the negative ELBO was {what}. Lower the "
        f"estimator's learning rate (VI trains with Adam at lr): got lr={lr:g}; "
        f"try lr={lr / 10:g}."
    )


class _StopOnDivergence(Callback):
    """Raise a ``FloatingPointError`` naming ``lr`` on a non-finite epoch loss."""

    def __init__(self, lr):
        self.lr = lr

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        if not math.isfinite(loss):
            raise _diverged(self.lr, f"{loss} at epoch {len(net.history)}")


class _StackedVIAdam:
    """VI's Adam on the fused path: the negative ELBO per datum.

    The closure leaves the gradient of the mean batch NLL in ``stack.grad``
    (``MeanFieldStack``); this adds the gradient of ``KL(q || N(0, s^2 I)) /
    N`` (``mu / s^2`` for the means, ``(sigma / s^2 - 1 / sigma)
    sigmoid(rho)`` for ``rho``), then takes an Adam step at ``lr``. The KL's
    value only enters the epoch's energies: ``epoch_values`` computes it for
    all of the epoch's steps from what each step kept.
    """

    def __init__(self, stack, *, lr, prior_var, n_train):
        self.stack, self.lr = stack, float(lr)
        self.prior_var, self.n_train = float(prior_var), float(n_train)
        self.adam = Adam(stack.rows, lr)
        self._inv_sigma = torch.empty_like(stack.sigma)
        self._kept = []  # what each step's KL value needs

    def step(self, closure, noise_var=None):
        loss = closure()
        stack, s2, n = self.stack, self.prior_var, self.n_train
        # the KL's gradient; the MeanFieldStack's backward left sigma and
        # dsigma = sigmoid(rho) of this step
        stack.grad_mu.add_(stack.mu, alpha=1.0 / (s2 * n))
        torch.reciprocal(stack.sigma, out=self._inv_sigma)
        stack.grad_rho.addcmul_(self._inv_sigma, stack.dsigma, value=-1.0 / n)
        stack.grad_rho.addcmul_(stack.sigma, stack.dsigma, value=1.0 / (s2 * n))
        # its value goes into the epoch's energies only (epoch_values)
        self._kept.append((torch.linalg.vecdot(stack.mu, stack.mu),
                           stack.var.sum(-1), stack.sigma.log().sum(-1)))
        self.adam.step(stack.grad_rows)
        return loss

    def epoch_values(self, n_steps):
        """``KL(q || p) / N`` at each step since the last call, (steps, S)."""
        if len(self._kept) != n_steps:
            raise RuntimeError(f"{len(self._kept)} KL values for {n_steps} steps")
        mu_sq, var_sum, log_sigma = (torch.stack(t) for t in zip(*self._kept))
        self._kept.clear()
        kl = mean_field_kl_of_sums(self.stack.P, var_sum + mu_sq, log_sigma,
                                   self.prior_var)
        return kl / self.n_train

    def end_epoch(self, losses):
        """Raise a ``FloatingPointError`` naming ``lr`` after a non-finite epoch."""
        if not np.isfinite(losses).all():
            raise _diverged(self.lr, "not finite")


def _prior_var(prior):
    why = "its KL divergence to the mean-field posterior is in closed form"
    return 1.0 / gaussian_prior_precision(prior, "VI", why)


class VI(BaseInference):
    """Mean-field Gaussian variational inference (Bayes by backprop).

    The posterior is ``q(w) = prod_i N(mu_i, sigma_i^2)`` over every weight
    and bias, with ``sigma = softplus(rho)``. Training minimises the
    negative ELBO ``(N/n) sum_batch E_q[-log p(y|x, w)] + KL(q || p)`` with
    Adam at the estimator's ``lr``, ``max_epochs`` and ``batch_size``: the
    engine's per-datum energy with the KL in place of ``-log p(w)``, so the
    KL weight is ``1/N`` per datum (DESIGN §1.7). The KL to the estimator's
    ``GaussianPrior`` is in closed form. The expectation is estimated with
    ``n_train_samples`` draws of the pre-activations per step by the local
    reparameterisation trick [2]_, from the fit's own generator.

    The regressor's homoscedastic noise follows the default policy of the
    other methods: after every epoch it is set to the mean squared training
    residual of the mean network (``mu``), which ignores the spread of
    ``q``.

    Parameters
    ----------
    n_train_samples : int, default=1
        Monte-Carlo draws of the expected NLL per step: the module's
        training forward returns them stacked, ``(S, n, k)``, and the
        criterion averages the mean batch NLL over them. With 1 (and a
        plain MLP shape, an isotropic Gaussian prior and no early
        stopping) training takes the fused path, where the local
        reparameterisation and its gradients are written out by hand
        (``skbdl._nn.MeanFieldStack``), about 3x faster.
    init_scale : float, default=1e-3
        Initial posterior standard deviation of every weight. Measured on
        digits (docs/benchmarks/bench_variational.py): 1e-3 kept MAP's
        accuracy; 1e-2 to 0.1 lost 1.3 points and doubled the test NLL.
    init : {"random", "map"}, default="random"
        ``"random"``: the means start at the network's random initialisation.
        ``"map"``: a MAP network is trained first (``max_epochs`` more) and
        the means start at its weights (MOPED, [3]_).
    predict : {"bma", "mean"}, default="bma"
        ``"bma"`` averages ``n_samples`` weight draws from ``q``; ``"mean"``
        predicts with the means only (closed form, no epistemic variance).
    n_samples : int, default=64
        Draws of the predictive when the estimator's ``n_samples`` is None.

    Attributes
    ----------
    module_ : torch.nn.Module
        The ``MeanFieldMLP``; in eval mode its forward is the mean network.
    mean_ : torch.Tensor of shape (n_weights,)
        The posterior means ``mu``, flat: ``W`` (row-major) then ``b`` of
        each layer, head last (the order of ``module_.layers()``).
    std_ : torch.Tensor of shape (n_weights,)
        The posterior standard deviations ``sigma``, in the same order.
    likelihood_ : Likelihood
        The fitted likelihood (its noise, for regression).
    loss_curve_ : list of float
        The negative ELBO divided by ``N`` per epoch (of the VI phase).

    See Also
    --------
    IVON : A diagonal Gaussian learned by a variational Newton method.

    Notes
    -----
    Mean-field VI is known to under-estimate the uncertainty between
    clusters of data (Foong et al., 2019); ``tests/inference/test_vi.py``
    measures it on the ``gap_1d`` scenario.

    References
    ----------
    .. [1] C. Blundell, J. Cornebise, K. Kavukcuoglu and D. Wierstra,
       "Weight Uncertainty in Neural Networks", ICML 2015.
    .. [2] D. P. Kingma, T. Salimans and M. Welling, "Variational Dropout
       and the Local Reparameterization Trick", NeurIPS 2015.
    .. [3] R. Krishnan, M. Subedar and O. Tickoo, "Specifying Weight Priors
       in Bayesian Deep Neural Networks with Empirical Bayes", AAAI 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbdl import BayesianMLPClassifier
    >>> from skbdl.inference import VI
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BayesianMLPClassifier(method=VI(), random_state=0).fit(X, y)
    >>> clf.predict_proba_samples(X[:2], n_samples=8).shape
    (2, 3, 8)
    """

    _parameter_constraints = {
        "n_train_samples": [Interval(Integral, 1, None, closed="left")],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "init": [StrOptions({"random", "map"})],
        "predict": [StrOptions({"bma", "mean"})],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_train_samples=1, *, init_scale=1e-3, init="random",
                 predict="bma", n_samples=64):
        self.n_train_samples = n_train_samples
        self.init_scale = init_scale
        self.init = init
        self.predict = predict
        self.n_samples = n_samples

    @property
    def closed_form(self):
        return self.predict == "mean"

    @property
    def default_n_samples(self):
        return 1 if self.predict == "mean" else int(self.n_samples)

    def fit(self, problem):
        prior_var = _prior_var(problem.prior)
        module = problem.build_module(problem.seeds, factory=MeanFieldMLP)
        module.set_std(float(self.init_scale))
        if self.init == "map":
            module.set_means(self._map_weights(problem))
        self.likelihood_ = problem.new_likelihood()
        module.n_train_samples = int(self.n_train_samples)
        module.generator = problem.seeds.generator("noise", problem.device)
        try:
            if problem.trains_stacked and module.n_train_samples == 1:
                # the fused path: hand-written local reparameterisation
                rule = functools.partial(_StackedVIAdam, lr=problem.lr,
                                         prior_var=prior_var, n_train=problem.n_train)
                stack_type = functools.partial(MeanFieldStack,
                                               generator=module.generator)
                self.loss_curve_ = problem.train_stack(
                    [module], seeds=[problem.seeds], likelihoods=[self.likelihood_],
                    rule=rule, prior=False, stack_type=stack_type)[0]
            else:
                self.loss_curve_ = problem.train(
                    module, seeds=problem.seeds,
                    likelihood=DrawAveraged(self.likelihood_),
                    extra_energy=lambda m: m.kl(prior_var),
                    callbacks=[_StopOnDivergence(problem.lr)],
                )
        finally:
            module.generator = None  # a torch.Generator does not pickle
        self.module_ = module
        self._store()
        return self

    def _map_weights(self, problem):
        """Weights of the network ``MAP().fit(problem)`` gives (``init="map"``)."""
        mlp = problem.build_module(problem.seeds)
        problem.train(mlp, seeds=problem.seeds, likelihood=problem.new_likelihood())
        return mlp.layers()

    def _store(self):
        """Detached ``[(W, b), ...]`` means and stds for the draws; flat copies."""
        with torch.no_grad():
            self._mean = [(w.detach().clone(), b.detach().clone())
                          for w, b in self.module_.layers()]
            self._std = [(sw.detach().clone(), sb.detach().clone())
                         for sw, sb in self.module_.stds()]
        self.mean_ = torch.cat([t.reshape(-1) for layer in self._mean for t in layer])
        self.std_ = torch.cat([t.reshape(-1) for layer in self._std for t in layer])

    def predict_f(self, X):
        if not self.closed_form:
            return super().predict_f(X)
        with torch.no_grad():
            mean = self.module_(X)
        return mean, torch.zeros_like(mean)

    def sample_f(self, X, n_samples, generator):
        act = self.module_.activation
        if self.predict == "mean":
            f = stacked_forward(self._mean, X, act)
            return f.expand(n_samples, *f.shape[1:])
        return diagonal_gaussian_f(self._mean, self._std, X, n_samples, generator,
                                   act)
