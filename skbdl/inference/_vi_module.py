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


class MeanFieldLinear(nn.Module):
    """A linear layer with a factorised Gaussian posterior on its weights.

    The means start as ``nn.Linear``'s default initialisation, so a
    ``MeanFieldMLP`` built from the same seed as an ``MLP`` has the MLP's
    weights as its means; the standard deviations start at 1e-3 (see
    ``MeanFieldMLP.set_std``).
    """

    def __init__(self, n_in, n_out):
        super().__init__()
        init = nn.Linear(n_in, n_out)
        rho = inverse_softplus(1e-3)
        self.weight_mu = nn.Parameter(init.weight.detach().clone())
        self.bias_mu = nn.Parameter(init.bias.detach().clone())
        self.weight_rho = nn.Parameter(torch.full_like(init.weight, rho))
        self.bias_rho = nn.Parameter(torch.full_like(init.bias, rho))
        self.in_features, self.out_features = n_in, n_out

    def std(self):
        """``(sigma_W, sigma_b)``, the posterior standard deviations."""
        softplus = nn.functional.softplus
        return softplus(self.weight_rho), softplus(self.bias_rho)

    def mean_forward(self, h):
        return nn.functional.linear(h, self.weight_mu, self.bias_mu)

    def sample_forward(self, h, n_draws, generator):
        """Pre-activations ``(S, n, out)`` by local reparameterisation.

        ``h`` has shape ``(n, in)`` (shared by the draws) or ``(S, n, in)``.
        """
        sw, sb = self.std()
        mean = self.mean_forward(h)
        var = nn.functional.linear(h * h, sw * sw, sb * sb)
        eps = torch.randn((n_draws, *mean.shape[-2:]), generator=generator,
                          dtype=mean.dtype, device=mean.device)
        return mean + var.sqrt() * eps


class MeanFieldMLP(nn.Module):
    """The ``MLP`` architecture with a mean-field Gaussian on every weight.

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
        self.linears = nn.ModuleList(
            MeanFieldLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.activation = activation
        self.n_train_samples = 1
        self.generator = None

    def forward(self, x):
        act = get_activation(self.activation).fn
        last = len(self.linears) - 1
        h = x
        for i, layer in enumerate(self.linears):
            if self.training:
                h = layer.sample_forward(h, self.n_train_samples, self.generator)
            else:
                h = layer.mean_forward(h)
            if i < last:
                h = act(h)
        return h

    def layers(self):
        """``[(mu_W, mu_b), ...]``, the means of every layer, head last."""
        return [(m.weight_mu, m.bias_mu) for m in self.linears]

    def stds(self):
        """``[(sigma_W, sigma_b), ...]`` of every layer, head last."""
        return [m.std() for m in self.linears]

    def prior_parameters(self):
        """The means (a point estimate's prior term; VI uses ``kl`` instead)."""
        return [p for layer in self.layers() for p in layer]

    @torch.no_grad()
    def set_std(self, std):
        """Set every posterior standard deviation to ``std``."""
        for m in self.linears:
            m.weight_rho.fill_(inverse_softplus(std))
            m.bias_rho.fill_(inverse_softplus(std))

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
        total = 0.0
        for (mw, mb), (sw, sb) in zip(self.layers(), self.stds()):
            for mu, sigma in ((mw, sw), (mb, sb)):
                total = total + (
                    0.5 * math.log(prior_var) - sigma.log()
                    + (sigma * sigma + mu * mu) / (2.0 * prior_var) - 0.5
                ).sum()
        return total


class _DrawMeanCriterion(nn.Module):
    """``criterion(f, y)`` averaged over the leading draw axis of ``f``."""

    def __init__(self, criterion):
        super().__init__()
        self.criterion = criterion

    def forward(self, f, y):
        if f.dim() == 2:  # eval mode: the mean network
            return self.criterion(f, y)
        n_draws = f.shape[0]
        return self.criterion(f.reshape(-1, f.shape[-1]), y.repeat(n_draws))


class DrawAveraged:
    """The likelihood as the engine sees it when the module outputs draws.

    ``problem.train`` reads three things from a likelihood: its trainable
    noise, its noise callbacks (both delegated, so the wrapped likelihood's
    noise is the one learned) and its ``criterion``, which here averages
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
