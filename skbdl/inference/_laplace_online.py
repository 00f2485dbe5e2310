"""Online marginal-likelihood training of the Laplace prior precisions
(Immer et al., 2021, "Scalable marginal likelihood estimation for model
selection in deep learning", Algorithm 1).

While the MAP is trained, every ``frequency`` epochs after ``burnin`` epochs
(and when training ends, unless the last epoch had one) a Laplace
approximation of the chosen layers is fitted at the current weights and
``steps`` Adam steps are taken on the log marginal likelihood with respect
to the log prior precision of each layer (and the log noise precision of
homoscedastic regression). The training energy uses the current precisions
from then on, so the final MAP is the mode under the prior the posterior is
built with.
"""

import math

import torch
from skorch.callbacks import Callback

from ._curvature import layer_params

_DTYPE = torch.float64
_LOG_CLAMP = (math.log(1e-4), math.log(1e6))


class OnlineEnergy:
    """``-log p(theta)``: learned Gaussian precisions on the Laplace layers,
    the problem's prior on the other layers.

    ``log_delta`` holds one log precision per Laplace layer (weights and
    bias of a layer share it, as in the posterior).
    """

    def __init__(self, prior, first, log_delta):
        self.prior, self.first, self.log_delta = prior, first, log_delta

    def __call__(self, module):
        layers = module.layers()
        fixed = [p for layer in layers[: self.first] for p in layer]
        energy = self.prior.neg_log_prob(fixed) if fixed else 0.0
        delta = torch.exp(self.log_delta).to(layers[-1][0].dtype)
        delta = delta.expand(
            len(layers) - self.first
        )  # one shared value or one per layer
        for d, (w, b) in zip(delta, layers[self.first :]):
            energy = energy + 0.5 * d * (w.pow(2).sum() + b.pow(2).sum())
        return energy


class OnlineMarglik(Callback):
    """skorch callback running the hyper-parameter steps of Algorithm 1.

    Parameters
    ----------
    laplace : Laplace
        The method being fitted; gives ``_fit_curvature`` at the current
        weights of ``laplace.module_``.
    train : TrainingProblem
        Rows the evidence is computed on.
    energy : OnlineEnergy
        Holds the log precisions read by the training energy.
    log_s : float or None
        Initial log noise precision (replaced by the training noise at the
        first update); None when it is not learned.
    burnin, frequency, steps, lr : int, int, int, float
        Schedule and Adam settings of the hyper-parameter updates.
    noise_fixed : float or None
        Log noise precision used when it is not learned; None uses the
        training noise of the module (1 without one).
    """

    def __init__(
        self,
        laplace,
        train,
        energy,
        log_s,
        burnin,
        frequency,
        steps,
        lr,
        noise_fixed=None,
    ):
        self.laplace, self.train, self.energy = laplace, train, energy
        self.burnin, self.frequency, self.steps = burnin, frequency, steps
        self.log_delta = energy.log_delta.clone().to(_DTYPE).requires_grad_(True)
        self.log_s = (
            None
            if log_s is None
            else torch.tensor(float(log_s), dtype=_DTYPE, requires_grad=True)
        )
        self.lr = lr
        self._adam = {}  # first and second moments per hyper-parameter, step count
        self.noise_fixed = noise_fixed
        self.fixed_log_s = 0.0
        self._last_epoch = None
        self.n_updates_ = 0
        self.history_ = []

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch >= self.burnin and (epoch - self.burnin) % self.frequency == 0:
            self.update(net.module_)
            self._last_epoch = epoch

    def on_train_end(self, net, **kwargs):
        if self._last_epoch != len(net.history):  # weights moved since
            self.update(net.module_)

    def update(self, module):
        """Fit the Laplace at the current weights and step the evidence."""
        was_training = module.training
        module.eval()
        la = self.laplace
        la._theta = layer_params(module)[la._first :]
        if self.noise_fixed is not None:
            self.fixed_log_s = self.noise_fixed
        elif la._homoscedastic:
            self.fixed_log_s = -float(la.likelihood_.log_noise_var[0])
            if self.log_s is not None and self.n_updates_ == 0:
                with torch.no_grad():  # start from the training noise
                    self.log_s.fill_(self.fixed_log_s)
        evidence = la._fit_curvature(self.train)
        if evidence.rss is None and self.log_s is not None:
            self.log_s = None  # no homoscedastic noise in this likelihood
        fixed = torch.tensor(self.fixed_log_s, dtype=_DTYPE)
        params = [self.log_delta] + ([] if self.log_s is None else [self.log_s])
        for _ in range(self.steps):
            log_s = fixed if self.log_s is None else self.log_s
            loss = -evidence(self.log_delta, log_s) / self.train.n_train
            self._adam_step(params, torch.autograd.grad(loss, params))
        with torch.no_grad():
            self.energy.log_delta.copy_(
                self.log_delta.detach().to(self.energy.log_delta.dtype)
            )
        self.evidence_ = evidence
        self.n_updates_ += 1
        self.history_.append(torch.exp(self.log_delta.detach()).tolist())
        module.train(was_training)

    def _adam_step(self, params, grads, beta1=0.9, beta2=0.999, eps=1e-8):
        """One Adam step (Kingma and Ba, 2015); the moments persist across
        updates, as the hyper-parameter optimizer of Algorithm 1 does."""
        t = self._adam["t"] = self._adam.get("t", 0) + 1
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(params, grads)):
                m, v = self._adam.get(i, (torch.zeros_like(p), torch.zeros_like(p)))
                m = beta1 * m + (1 - beta1) * g
                v = beta2 * v + (1 - beta2) * g * g
                self._adam[i] = (m, v)
                step = (
                    self.lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
                )
                p.sub_(step).clamp_(*_LOG_CLAMP)

    def final_log_s(self):
        """Log noise precision to use in the posterior."""
        return self.fixed_log_s if self.log_s is None else float(self.log_s.detach())
