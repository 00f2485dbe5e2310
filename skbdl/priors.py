"""Priors over network weights.

A prior is a small ``BaseEstimator`` holding only its hyper-parameters. Every
inference method uses the same object and the same training-set size ``N``, so
"prior scale" means the same thing for MAP (where the Gaussian prior is weight
decay), ensembles, MC dropout, Laplace, SGLD, VI and IVON: every method
minimises or samples the energy ``-(N/n) sum log p(y|x, w) - log p(w)``.
"""

from numbers import Real

import torch
from sklearn.base import BaseEstimator, clone

from .utils._sklearn import Interval

__all__ = ["GaussianPrior", "LaplacePrior"]


class _BasePrior(BaseEstimator):
    """Shared interface: ``neg_log_prob``, ``sample`` and ``precision``."""

    def neg_log_prob(self, params):
        """Negative log density of the weights, summed, up to a constant.

        Parameters
        ----------
        params : iterable of torch.Tensor
            The weight tensors the prior applies to.

        Returns
        -------
        value : torch.Tensor
            A scalar tensor, differentiable in ``params``.
        """
        return sum(self._neg_log_prob(p) for p in params)


class GaussianPrior(_BasePrior):
    """Isotropic zero-mean Gaussian prior on every weight and bias.

    With this prior the MAP estimate is ridge-regularised training: the
    energy ``-(N/n) sum log p(y|x, w) + ||w||^2 / (2 scale^2)`` divided by ``N``
    is the mean loss plus weight decay ``1 / (2 N scale^2) ||w||^2``.

    Parameters
    ----------
    scale : float, default=1.0
        Prior standard deviation of each weight. The prior precision is
        ``1 / scale**2``.

    Attributes
    ----------
    precision : float
        The prior precision ``1 / scale**2``.

    See Also
    --------
    LaplacePrior : Heavier-tailed, sparsity-inducing prior.

    Examples
    --------
    >>> import torch
    >>> from skbdl.priors import GaussianPrior
    >>> prior = GaussianPrior(scale=0.5)
    >>> prior.precision
    4.0
    >>> float(prior.neg_log_prob([torch.ones(3)]))
    6.0
    """

    _parameter_constraints = {"scale": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, scale=1.0):
        self.scale = scale

    @property
    def precision(self):
        return 1.0 / float(self.scale) ** 2

    def _neg_log_prob(self, param):
        return 0.5 * self.precision * param.pow(2).sum()

    def sample(self, shape, generator):
        """Draw weights from the prior.

        Parameters
        ----------
        shape : tuple of int
            Shape of the tensor to draw.
        generator : torch.Generator
            Source of randomness.

        Returns
        -------
        draw : torch.Tensor of shape ``shape``
            The weights.
        """
        return float(self.scale) * torch.randn(shape, generator=generator)


class LaplacePrior(_BasePrior):
    """Zero-mean Laplace prior on every weight (L1 regularisation at the MAP).

    Its heavier tails and sharp peak at zero favour sparse weights: the MAP
    energy adds ``||w||_1 / scale`` to the summed negative log-likelihood.

    Parameters
    ----------
    scale : float, default=1.0
        Laplace scale ``b``; the density is ``exp(-|w| / b) / (2 b)``.

    Attributes
    ----------
    precision : float
        The precision of the Gaussian with the same variance, ``1 / (2 b^2)``;
        methods that need a Gaussian prior (Laplace approximation) use it.

    See Also
    --------
    GaussianPrior : The default prior.

    Examples
    --------
    >>> import torch
    >>> from skbdl.priors import LaplacePrior
    >>> float(LaplacePrior(scale=0.5).neg_log_prob([torch.ones(3)]))
    6.0
    """

    _parameter_constraints = {"scale": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, scale=1.0):
        self.scale = scale

    @property
    def precision(self):
        return 1.0 / (2.0 * float(self.scale) ** 2)

    def _neg_log_prob(self, param):
        return param.abs().sum() / float(self.scale)

    def sample(self, shape, generator):
        """Draw weights from the prior.

        Parameters
        ----------
        shape : tuple of int
            Shape of the tensor to draw.
        generator : torch.Generator
            Source of randomness.

        Returns
        -------
        draw : torch.Tensor of shape ``shape``
            The weights.
        """
        u = torch.rand(shape, generator=generator) - 0.5
        return -float(self.scale) * torch.sign(u) * torch.log1p(-2 * u.abs())


def resolve_prior(prior):
    """Turn the estimators' ``prior`` parameter into a prior object.

    ``None`` gives ``GaussianPrior(scale=1.0)``; a float is the scale of a
    Gaussian prior; a prior object is cloned.
    """
    if prior is None:
        return GaussianPrior()
    if isinstance(prior, Real):
        return GaussianPrior(scale=float(prior))
    prior = clone(prior)
    prior._validate_params()
    return prior
