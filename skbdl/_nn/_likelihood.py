"""Likelihood objects: what turns a network's latent output into data.

A method produces latent outputs ``f`` (draws of the whole function, or a
closed-form mean and variance of ``f``); the likelihood owns everything
that depends on how ``f`` relates to ``y``:

- the training negative log-likelihood (the data term of the energy);
- the observation noise and the policy that learns it during training;
- ``hessian_sqrt``, the square root of ``-d^2 log p(y|f) / df^2`` that the
  generalised Gauss-Newton curvature of Laplace is built from;
- the predictive link: the softmax averaged over draws or its probit
  approximation in closed form, or the Gaussian moments with the noise added;
- the negative log predictive density of held-out rows.

Three likelihoods cover the estimators: ``Categorical`` (logits),
``Gaussian`` (latent mean; one noise variance for all rows) and
``HeteroscedasticGaussian`` (latent mean and log noise variance per row).

A method that stores several noise values (one per ensemble member or
kept draw) orders its function draws so that draw ``i`` uses noise value
``i mod M``; ``Gaussian.stack`` builds such a likelihood.
"""

import copy
import math

import torch
from skorch.callbacks import Callback
from torch import nn

from ..utils._math import gaussian_nll, probit_scale
from ..utils._torch import to_numpy

#: Floor of every noise variance, in standardised target units: an
#: interpolating network cannot drive the variance (and ``exp(-log_var)``)
#: to zero (infinity).
MIN_NOISE_VAR = 1e-4
MIN_LOG_NOISE_VAR = math.log(MIN_NOISE_VAR)

NOISE_POLICIES = ("refit", "gradient", "fixed")


def _row_average(x, weights):
    """``sum_i w_i x_i / sum_i w_i`` over rows (the plain mean if None)."""
    if weights is None:
        return x.mean()
    weights = weights.to(x.dtype)
    return (weights * x).sum() / weights.sum()


def _weighted_mean(x, weights):
    """Mean over the leading draw axis, or the weighted sum with ``weights`` (S,)."""
    if weights is None:
        return x.mean(0)
    return torch.tensordot(weights.to(x.dtype), x, dims=1)


class Likelihood:
    """Interface shared by the likelihoods (see the module docstring)."""

    task = None
    #: Whether the noise is one variance for all rows (Laplace tunes it).
    scalar_noise = False
    #: Whether ``predict_closed`` is exact for a Gaussian latent (regression)
    #: rather than an approximation (the probit link).
    exact_closed_form = False

    def n_latent(self, n_outputs):
        """Width of the latent output for ``n_outputs`` classes or targets."""
        return n_outputs

    def copy(self):
        """An independent copy (its noise state is not shared)."""
        return copy.deepcopy(self)

    @classmethod
    def stack(cls, likelihoods):
        """One likelihood for the draws of several fitted ones (in order)."""
        return likelihoods[0].copy()

    def to(self, device):
        """Move the noise state to ``device``; returns self."""
        return self

    def trainable_parameters(self, policy):
        """Parameters of the likelihood an optimizer updates under ``policy``."""
        return []

    def training_callbacks(self, data, policy):
        """skorch callbacks that learn the noise under ``policy``."""
        return []

    def criterion(self):
        """A torch module ``(f, y) -> mean training NLL`` for the engine."""
        return _NLLCriterion(self)

    def weighted_criterion(self):
        """A torch module ``(f, y, v) -> mean(v * NLL)`` for weighted rows.

        ``v`` are the row weights rescaled to mean one over the data set
        (``skbdl._nn._engine`` derives why this is the energy's scaling).
        """
        return _WeightedNLLCriterion(self)


class _NLLCriterion(nn.Module):
    def __init__(self, likelihood):
        super().__init__()
        self.likelihood = likelihood

    def forward(self, f, y):
        return self.likelihood.nll(f, y).mean()


class _WeightedNLLCriterion(_NLLCriterion):
    def forward(self, f, y, v):
        return (v.to(f.dtype) * self.likelihood.nll(f, y)).mean()


class Categorical(Likelihood):
    """Softmax likelihood of class indices given logits ``f`` (n, k)."""

    task = "classification"

    def nll(self, f, y):
        """Per-row negative log-likelihood, shape (n,)."""
        return nn.functional.cross_entropy(f, y, reduction="none")

    def criterion(self):
        return nn.CrossEntropyLoss()

    def loglik_sum(self, f, y, weights=None):
        """``sum_i w_i log p(y_i | f_i)`` as a float (``w_i = 1`` if None)."""
        if weights is not None:
            nll = nn.functional.cross_entropy(f, y, reduction="none")
            return -float((weights.to(nll.dtype) * nll).sum())
        return -float(nn.functional.cross_entropy(f, y, reduction="sum"))

    def hessian_sqrt(self, f):
        """``diag(sqrt p) - p sqrt(p)^T``; its outer product is ``diag(p) - p p^T``."""
        p = torch.softmax(f, -1)
        sq = p.sqrt()
        return torch.diag_embed(sq) - p[:, :, None] * sq[:, None, :]

    def probabilities(self, f):
        """Class probabilities of each draw, same shape as ``f``."""
        return torch.softmax(f, -1)

    def predict_draws(self, f, weights=None):
        """Posterior predictive from draws ``f`` (S, n, k): ndarray (n, k).

        Averaged in float64: torch's float32 mean over the draw axis rounds
        differently by row position, which made predictions depend on row
        order.
        """
        return to_numpy(_weighted_mean(torch.softmax(f, -1).double(), weights))

    def predict_closed(self, mean, var):
        """Probit approximation of ``E[softmax(f)]``, f ~ N(mean, diag(var))."""
        return to_numpy(torch.softmax(probit_scale(mean, var), -1))

    def predictive_nll(self, mean, var, y, log_s=None, weights=None):
        """Mean held-out NLL under the probit predictive; ``log_s`` is unused.

        With ``weights`` (n,), the weighted mean ``sum w_i nll_i / sum w_i``.
        """
        if weights is not None:
            nll = nn.functional.cross_entropy(probit_scale(mean, var), y,
                                              reduction="none")
            return float(_row_average(nll, weights))
        return float(nn.functional.cross_entropy(probit_scale(mean, var), y))


class Gaussian(Likelihood):
    """Homoscedastic Gaussian: ``y ~ N(f, sigma^2)`` with one learned ``sigma^2``.

    The latent output is the mean ``(n, 1)``. The noise is stored as
    ``log_noise_var`` of shape ``(M,)``: one value, or one per member/draw.

    Noise policies during training:

    ``"refit"`` (default)
        After each epoch the variance is set to its optimum given the mean
        function, the mean squared training residual (the noise has no
        prior). A gradient step of size ``lr`` on the log variance would
        need thousands of steps to move from its initial value on small
        data, and an over-estimated noise down-weights the data against the
        prior, so the mean under-fits.
    ``"gradient"``
        The log variance is a parameter of the optimizer.
    ``"fixed"``
        The variance stays at its current value.

    The variance is floored at ``MIN_NOISE_VAR`` under every policy.
    """

    task = "regression"
    exact_closed_form = True
    scalar_noise = True

    def __init__(self, log_noise_var=0.0):
        self.log_noise_var = torch.full((1,), float(log_noise_var))

    def n_latent(self, n_outputs):
        return 1

    def to(self, device):
        self.log_noise_var = self.log_noise_var.to(device)
        return self

    @classmethod
    def stack(cls, likelihoods):
        """One likelihood holding the noise of each of ``likelihoods`` in order."""
        out = cls()
        out.log_noise_var = torch.cat(
            [lik.log_noise_var.detach() for lik in likelihoods]
        )
        return out

    def _log_var(self):
        return self.log_noise_var.clamp_min(MIN_LOG_NOISE_VAR)

    def set_noise_var(self, var):
        """Set a single noise variance (floored)."""
        with torch.no_grad():
            self.log_noise_var = torch.full_like(
                self.log_noise_var[:1], math.log(max(float(var), MIN_NOISE_VAR))
            )

    def set_log_noise_var(self, value):
        """Set a single log noise variance (floored when used)."""
        self.log_noise_var = torch.full_like(
            self.log_noise_var[:1].detach(), float(value)
        )

    @property
    def noise_var(self):
        """The noise variance of each stored value, ndarray of shape (M,)."""
        return to_numpy(torch.exp(self._log_var()))

    def nll(self, f, y):
        # The NLL is evaluated on the (mean, log variance) layout of the
        # heteroscedastic likelihood, one code path for both. (The layout
        # matters at the last bit: torch's kernels round a broadcast scalar
        # and a strided column differently, and this is the layout every
        # recorded result was computed with.)
        f = torch.cat([f[..., :1], self._log_var().expand(*f.shape[:-1], 1)], -1)
        return gaussian_nll(y, f[..., 0], log_var=f[..., 1])

    def trainable_parameters(self, policy):
        if policy != "gradient":
            return []
        self.log_noise_var = self.log_noise_var.detach().requires_grad_(True)
        return [self.log_noise_var]

    def training_callbacks(self, data, policy):
        return [NoiseRefit(self, data)] if policy == "refit" else []

    def sum_squares(self, f, y, weights=None):
        """Residual sum of squares of the latent mean (weighted by ``weights``)."""
        squares = (y.to(f.dtype) - f[:, 0]) ** 2
        if weights is not None:
            squares = weights.to(f.dtype) * squares
        return float(squares.sum())

    def hessian_sqrt(self, f):
        """1: the noise precision scales the curvature outside (Laplace's ``s``)."""
        return torch.ones(len(f), 1, 1, dtype=f.dtype, device=f.device)

    def draw_log_var(self, n_draws):
        """Log noise variance of draws ``0..S-1`` (draw ``i``: value ``i mod M``)."""
        log_var = self._log_var().detach()
        return log_var[torch.arange(n_draws, device=log_var.device) % len(log_var)]

    def predict_draws(self, f, weights=None):
        """``(mean, epistemic var, aleatoric var)`` from draws f (S, n, 1): (n, 3).

        Reduced over draws in float64: torch's float32 reduction over the
        leading axis rounds differently for different positions in the row
        axis, which made predictions depend on row order at the 1e-7 level.
        """
        mu = f[..., 0].double()
        noise = torch.exp(self._draw_noise_log_var(f).double())
        mean = _weighted_mean(mu, weights)
        if weights is None:
            var = mu.var(0, unbiased=False)
        else:
            var = _weighted_mean((mu - mean) ** 2, weights)
        return to_numpy(torch.stack([mean, var, _weighted_mean(noise, weights)], 1))

    def _draw_noise_log_var(self, f):
        """Log noise variance of each draw and row, shape (S, n)."""
        return self.draw_log_var(f.shape[0])[:, None].to(f.dtype).expand(f.shape[:2])

    def predict_closed(self, mean, var):
        """``(mean, epistemic var, aleatoric var)`` from the latent moments."""
        noise = torch.exp(self._log_var()[0].to(mean.dtype)).expand(len(mean))
        return to_numpy(torch.stack([mean[:, 0], var[:, 0], noise], 1))

    def sample_y(self, f, eps):
        """Targets of draws f (S, n, k) with standard normal ``eps`` (S, n)."""
        return f[..., 0] + torch.exp(0.5 * self._draw_noise_log_var(f)) * eps

    def noise_for(self, f, log_s=None):
        """Noise variance per row, (n,): ``exp(-log_s)`` or the stored value."""
        if log_s is not None:
            return math.exp(-log_s)
        return torch.exp(self._log_var()[0]).to(f.dtype)

    def predictive_nll(self, mean, var, y, log_s=None, weights=None):
        """Mean held-out NLL of ``N(mean, var + noise)``; ``log_s`` is the
        log noise precision to use (else the stored noise). With ``weights``
        (n,), the weighted mean ``sum w_i nll_i / sum w_i``."""
        total = var[:, 0] + self.noise_for(mean, log_s)
        nll = gaussian_nll(y.to(mean.dtype), mean[:, 0], total)
        return float(_row_average(nll, weights))


class HeteroscedasticGaussian(Gaussian):
    """Gaussian whose log noise variance is a second latent output, (n, 2).

    The log variance is floored at ``log(MIN_NOISE_VAR)`` in training and
    prediction.
    """

    scalar_noise = False

    def __init__(self):
        self.log_noise_var = None

    def n_latent(self, n_outputs):
        return 2

    def to(self, device):
        return self

    @classmethod
    def stack(cls, likelihoods):
        return cls()

    def _row_log_var(self, f):
        return f[..., 1].clamp_min(MIN_LOG_NOISE_VAR)

    def nll(self, f, y):
        return gaussian_nll(y, f[..., 0], log_var=self._row_log_var(f))

    def trainable_parameters(self, policy):
        return []

    def training_callbacks(self, data, policy):
        return []

    def loglik_sum(self, f, y, weights=None):
        nll = self.nll(f, y.to(f.dtype))
        if weights is not None:
            nll = weights.to(nll.dtype) * nll
        return -float(nll.sum())

    def hessian_sqrt(self, f):
        """Square root of the Fisher ``diag(exp(-log_var), 1/2)`` in (mean, log_var)."""
        diag = torch.stack(
            [
                torch.exp(-0.5 * self._row_log_var(f)),
                torch.full_like(f[:, 1], math.sqrt(0.5)),
            ],
            1,
        )
        return torch.diag_embed(diag)

    def _draw_noise_log_var(self, f):
        return self._row_log_var(f)

    def predict_closed(self, mean, var):
        noise = torch.exp(self._row_log_var(mean))
        return to_numpy(torch.stack([mean[:, 0], var[:, 0], noise], 1))

    def noise_for(self, f, log_s=None):
        return torch.exp(self._row_log_var(f))

    @property
    def noise_var(self):
        return None


class NoiseRefit(Callback):
    """The ``"refit"`` policy: set the noise variance to the mean squared
    training residual at the start, after each epoch and for the weights
    training returns (early stopping may restore an earlier epoch's).
    With row weights (``data.weights``) it is the weighted mean
    ``sum_i w_i r_i^2 / sum_i w_i``, the value for repeated rows."""

    def __init__(self, likelihood, data):
        self.likelihood, self.data = likelihood, data

    def on_train_begin(self, net, **kwargs):
        self.refit(net.module_)

    def on_epoch_end(self, net, **kwargs):
        self.refit(net.module_)

    def refit(self, module):
        """Set the noise to the mean squared residual of ``module``."""
        was_training = module.training
        module.eval()
        with torch.no_grad():
            mean = module(self.data.X)[:, 0]
            squares = (self.data.y - mean) ** 2
            weights = getattr(self.data, "weights", None)
            if weights is None:
                self.likelihood.set_noise_var(torch.mean(squares))
            else:
                self.likelihood.set_noise_var(_row_average(squares, weights))
        module.train(was_training)


def likelihood_for(task, heteroscedastic=False):
    """The likelihood of an estimator's task."""
    if task == "classification":
        return Categorical()
    return HeteroscedasticGaussian() if heteroscedastic else Gaussian()


__all__ = [
    "Categorical",
    "Gaussian",
    "HeteroscedasticGaussian",
    "Likelihood",
    "MIN_NOISE_VAR",
    "NOISE_POLICIES",
    "NoiseRefit",
    "likelihood_for",
]
