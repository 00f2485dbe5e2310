"""The mean-field Gaussian network of VI and its KL divergence to the prior.

Every weight and bias ``w_i`` has the posterior ``N(mu_i, sigma_i^2)`` with
``sigma_i = softplus(rho_i)``; ``mu`` and ``rho`` are the parameters the
optimizer updates (Blundell et al., 2015, section 3.2).

In training mode the forward pass samples the pre-activations of every
linear layer by the local reparameterisation trick (Kingma, Salimans and
Welling, 2015, section 2.3): for inputs ``h`` the pre-activation of a
layer is Gaussian with mean ``h mu_W^T + mu_b`` and variance
``h^2 sigma_W^2^T + sigma_b^2`` (element-wise squares), so it is drawn
directly as ``mean + sqrt(var) eps``, which has a lower gradient variance
than drawing one weight matrix per batch. It returns ``n_train_samples``
independent draws stacked on a leading axis, ``(S, n, k)``, and
``DrawAveraged`` averages the NLL over them. The noise comes from the
module's ``generator`` (set by ``VI.fit`` for the run).

In eval mode the forward pass uses the means only (the "mean network"): the
noise refit of the regressor and early stopping's validation loss evaluate
the network that way. Posterior draws of whole functions for prediction are
made by ``VI.sample_f``, not here.
"""

import math

import torch
from torch import nn

from .._nn import activation as get_activation


def inverse_softplus(x):
    """``rho`` with ``softplus(rho) = x`` (x > 0), as a float."""
    x = float(x)
    return x + math.log(-math.expm1(-x))


def mean_field_kl(mu, sigma, prior_var):
    """``KL(prod_i N(mu_i, sigma_i^2) || N(0, prior_var I))``, summed over the
    last axis (one value per leading index)."""
    squares = (sigma * sigma).sum(-1) + (mu * mu).sum(-1)
    return mean_field_kl_of_sums(mu.shape[-1], squares, sigma.log().sum(-1),
                                 prior_var)


def mean_field_kl_of_sums(n_weights, squares, log_sigma, prior_var):
    """``mean_field_kl`` from its sums: ``squares = sum(sigma^2 + mu^2)`` and
    ``log_sigma = sum(log sigma)`` over ``n_weights`` weights."""
    const = n_weights * (0.5 * math.log(prior_var) - 0.5)
    return const + squares / (2.0 * prior_var) - log_sigma


class MeanFieldMLP(nn.Module):
    """The ``MLP`` architecture with a mean-field Gaussian on every weight.

    The means and the ``rho`` of all layers are two flat parameters, ``mu``
    and ``rho`` of shape ``(n_weights,)`` (``W`` row-major then ``b`` of
    each layer, head last), so the KL term and the optimizer handle two
    tensors instead of four per layer (measured: the per-tensor version
    spent more time in the KL than in the forward pass). The means start as
    ``nn.Linear``'s default initialisation in the order ``MLP`` draws it, so
    a ``MeanFieldMLP`` built from the same seed as an ``MLP`` has the MLP's
    weights as its means; the standard deviations start at 1e-3 (see
    ``set_std``).

    Parameters
    ----------
    n_in : int
        Number of input features.
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers (may be empty: a linear model).
    n_out : int
        The latent width.
    activation : str
        Key of ``skbdl._nn.ACTIVATIONS``.
    dropout : float
        Must be 0 (the signature is ``MLP``'s, for ``build_module``).

    Attributes
    ----------
    n_train_samples : int
        Draws of the pre-activations per training forward pass (default 1).
    generator : torch.Generator or None
        Source of the training noise (None: torch's global RNG).
    """

    def __init__(self, n_in, hidden_layer_sizes, n_out, activation="relu", dropout=0.0):
        super().__init__()
        if dropout:
            raise ValueError(f"MeanFieldMLP has no dropout; got dropout={dropout}.")
        sizes = [n_in, *hidden_layer_sizes, n_out]
        self.shapes = [(b, a) for a, b in zip(sizes[:-1], sizes[1:])]
        init = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        mu = torch.cat([t.detach().reshape(-1) for m in init
                        for t in (m.weight, m.bias)])
        self.mu = nn.Parameter(mu)
        self.rho = nn.Parameter(torch.full_like(mu, inverse_softplus(1e-3)))
        self.activation = activation
        self.n_train_samples = 1
        self.generator = None

    def _split(self, flat):
        """``[(W, b), ...]`` views of a flat ``(n_weights,)`` tensor."""
        sizes = [n for n_out, n_in in self.shapes for n in (n_out * n_in, n_out)]
        parts = torch.split(flat, sizes)  # one backward node for all views
        return [(parts[2 * i].view(shape), parts[2 * i + 1])
                for i, shape in enumerate(self.shapes)]

    def std(self):
        """The posterior standard deviations ``softplus(rho)``, flat."""
        return nn.functional.softplus(self.rho)

    def forward(self, x):
        act = get_activation(self.activation).fn
        last = len(self.shapes) - 1
        means = self._split(self.mu)
        if self.training:  # local reparameterisation: draw the pre-activations
            variances = self._split(self.std().square())
            widths = [n_out for n_out, _ in self.shapes]
            eps = torch.randn((self.n_train_samples, len(x), sum(widths)),
                              generator=self.generator, dtype=x.dtype,
                              device=x.device).split(widths, -1)
        h = x
        for i, (w, b) in enumerate(means):
            s = nn.functional.linear(h, w, b)
            if self.training:
                var = nn.functional.linear(h * h, *variances[i])
                s = torch.addcmul(s, var.sqrt(), eps[i])
            h = act(s) if i < last else s
        return h

    def layers(self):
        """``[(mu_W, mu_b), ...]``, the means of every layer, head last."""
        return self._split(self.mu)

    def stds(self):
        """``[(sigma_W, sigma_b), ...]`` of every layer, head last."""
        return self._split(self.std())

    @torch.no_grad()
    def set_std(self, std):
        """Set every posterior standard deviation to ``std``."""
        self.rho.fill_(inverse_softplus(std))

    @torch.no_grad()
    def set_means(self, layers):
        """Copy ``[(W, b), ...]`` (e.g. ``MLP.layers()``) into the means."""
        for (mw, mb), (w, b) in zip(self.layers(), layers):
            mw.copy_(w)
            mb.copy_(b)

    def kl(self, prior_var):
        """``KL(q || N(0, prior_var I))`` summed over all weights, a scalar.

        Per weight: ``log(s / sigma) + (sigma^2 + mu^2) / (2 s^2) - 1/2``
        with ``s^2 = prior_var``.
        """
        return mean_field_kl(self.mu, self.std(), prior_var)


class _DrawMeanCriterion(nn.Module):
    """``criterion(f, y)`` averaged over the leading draw axis of ``f``."""

    def __init__(self, criterion):
        super().__init__()
        self.criterion = criterion

    def forward(self, f, y, *weights):
        if f.dim() == 2:  # eval mode: the mean network
            return self.criterion(f, y, *weights)
        n_draws = f.shape[0]
        return self.criterion(f.reshape(-1, f.shape[-1]), y.repeat(n_draws),
                              *(w.repeat(n_draws) for w in weights))


class DrawAveraged:
    """The likelihood as the engine sees it when the module outputs draws.

    ``problem.train`` reads three things from a likelihood: its trainable
    noise, its noise callbacks (both delegated, so the wrapped likelihood's
    noise is the one learned) and its ``criterion`` (``weighted_criterion``
    with row weights), which here averages
    the mean batch NLL over the ``S`` stacked draws of ``MeanFieldMLP``.
    """

    def __init__(self, likelihood):
        self.likelihood = likelihood

    def trainable_parameters(self, policy):
        return self.likelihood.trainable_parameters(policy)

    def training_callbacks(self, data, policy):
        return self.likelihood.training_callbacks(data, policy)

    def criterion(self):
        return _DrawMeanCriterion(self.likelihood.criterion())

    def weighted_criterion(self):
        return _DrawMeanCriterion(self.likelihood.weighted_criterion())
