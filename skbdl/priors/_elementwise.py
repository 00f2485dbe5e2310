"""The prior base class and the element-wise priors (Gaussian, Laplace, uniform)."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ..utils._sklearn import Interval

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)

#: What a method needs of a prior (``check_prior_support``).
NEEDS = {
    "log_prob": "a differentiable log density (its gradient trains the weights)",
    "precision": "one Gaussian prior precision for all weights",
    "gaussian": "an isotropic zero-mean Gaussian prior",
}


def _values(prior, name, *, positive=False, low=None, high=None):
    """A scalar or 1-D hyper-parameter as a float64 array; a clear error."""
    value = getattr(prior, name)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    owner = type(prior).__name__
    if (array is None or array.ndim > 1 or array.size == 0
            or not np.isfinite(array).all()):
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a finite float or a 1-D "
            f"array of finite floats (one per feature); got {value!r}."
        )
    if positive and not (array > 0).all():
        raise ValueError(
            f"The {name!r} parameter of {owner} must be positive; got {value!r}."
        )
    if low is not None and not ((array >= low) & (array <= high)).all():
        raise ValueError(
            f"The {name!r} parameter of {owner} must lie in [{low}, {high}]; got "
            f"{value!r}."
        )
    return array


def _tensor(array, like):
    return torch.as_tensor(array, dtype=like.dtype, device=like.device)


class _BasePrior(BaseEstimator):
    """Shared interface: log density and draws, per tensor and per layer."""

    #: Names of the hyper-parameters that may be one value per feature.
    _vector_params = ()
    #: Whether the prior only applies to the input layer (``LayerwisePrior``
    #: refuses it elsewhere).
    _input_layer_only = False

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

    def neg_log_prob_layers(self, layers):
        """Negative log density of a whole network, up to a constant.

        Parameters
        ----------
        layers : list of (torch.Tensor, torch.Tensor)
            ``(weight, bias)`` of every linear layer, head last; weights of
            shape ``(out, in)``, biases ``(out,)``.

        Returns
        -------
        value : torch.Tensor
            A scalar tensor, differentiable in the layers.
        """
        return self.neg_log_prob([p for layer in layers for p in layer])

    def _gradient_plan(self):
        """Which part of the prior applies where, for the fused path.

        The fused training path (``skbdl._nn._prior_term``) adds the
        prior's gradient to the data term's at every step, one part at a
        time, each on a contiguous view of the stacked weights (an
        isotropic zero-mean Gaussian part as weight decay inside the
        backward pass). A list of ``(prior, slot)``: ``slot`` is ``"all"``
        (every weight and bias), ``"input_weight"``, ``"rest"`` (everything
        after the input weight), ``"middle"`` (everything between the input
        weight and the output bias, contiguous in the flat layout) or
        ``"output_bias"``. An element-wise prior applies to ``"all"``.
        """
        return [(self, "all")]

    def _batched_energy(self):
        """``(step, value)`` for tensors ``t`` with a leading member axis
        ``S`` (the fused training loop's prior term).

        ``step(t, out, alpha)`` adds ``alpha * grad(-log p)(t)`` to ``out``
        in place and returns what the value at ``t`` needs; ``value(kept)``
        turns the list of what ``k`` steps returned into the summed
        ``-log p`` of each member at each step, shape ``(k, S)``. Priors
        with a closed form override it (converting their hyper-parameters
        once, here); the default differentiates ``_neg_log_prob`` by
        autograd, member by member, and keeps the values."""

        def step(t, out, alpha):
            pairs = [self._value_and_grad(member) for member in t]
            out.add_(torch.stack([g for _, g in pairs]), alpha=alpha)
            return torch.stack([v for v, _ in pairs])

        return step, torch.stack

    def _value_and_grad(self, param):
        """``_neg_log_prob(param)`` and its gradient (autograd fallback)."""
        leaf = param.detach().requires_grad_()
        with torch.enable_grad():
            value = self._neg_log_prob(leaf)
            (grad,) = torch.autograd.grad(value, leaf)
        return value.detach(), grad

    def sample_layers(self, sizes, n_samples, generator):
        """Draw the layers of ``n_samples`` networks from the prior.

        Parameters
        ----------
        sizes : sequence of int
            Widths ``[n_in, hidden..., n_out]``.
        n_samples : int
            Number of networks ``S``.
        generator : torch.Generator
            Source of randomness.

        Returns
        -------
        layers : list of (torch.Tensor, torch.Tensor)
            Weights of shape ``(S, out, in)`` and biases ``(S, out)``.
        """
        return [
            (self.sample((n_samples, b, a), generator),
             self.sample((n_samples, b), generator))
            for a, b in zip(sizes[:-1], sizes[1:])
        ]

    def check_layers(self, sizes):
        """Check that the prior fits a network of widths ``sizes``.

        Parameters
        ----------
        sizes : sequence of int
            Widths ``[n_in, hidden..., n_out]``.

        Raises
        ------
        ValueError
            When a per-feature hyper-parameter has the wrong length.
        """
        for name in self._vector_params:
            if np.ndim(getattr(self, name)) > 0:
                raise ValueError(
                    f"The {name!r} parameter of {type(self).__name__} has one value "
                    f"per feature, so this prior can only be the 'input' or "
                    f"'output_bias' part of a LayerwisePrior; pass a scalar to apply "
                    f"it to every weight."
                )

    def feature_inclusion(self, layers):
        """Posterior inclusion probability of each input feature, if defined.

        Parameters
        ----------
        layers : list of (torch.Tensor, torch.Tensor)
            Stacked layers, weights of shape ``(M, out, in)``.

        Returns
        -------
        inclusion : torch.Tensor of shape (M, in) or None
            None: the prior has no spike-and-slab part.
        """
        return None

    def _check_values(self):
        """Validate the hyper-parameters beyond ``_parameter_constraints``."""

    def _unsupported(self, needs):
        """Why a method that ``needs`` (a key of ``NEEDS``) cannot use it, or None."""
        return None

    def _check_shape(self, shape, where):
        """Per-feature hyper-parameters match the last axis of ``shape``."""
        for name in self._vector_params:
            n = np.size(getattr(self, name))
            if np.ndim(getattr(self, name)) > 0 and n != shape[-1]:
                raise ValueError(
                    f"The {name!r} parameter of {type(self).__name__} has {n} values, "
                    f"but {where} has {shape[-1]}; pass a scalar or one value each."
                )


class GaussianPrior(_BasePrior):
    """Gaussian prior on every weight and bias; zero-mean and isotropic by default.

    With the default zero mean and a scalar scale the MAP estimate is
    ridge-regularised training: the energy ``-(N/n) sum log p(y|x, w) +
    ||w||^2 / (2 scale^2)`` divided by ``N`` is the mean loss plus weight
    decay ``1 / (2 N scale^2) ||w||^2``. A per-feature ``scale`` or ``mean``
    (a 1-D array) broadcasts against the last axis of the tensor it applies
    to, so it is meant for one part of a ``LayerwisePrior``: one value per
    input feature (the columns of the input layer's weight) or per output
    (the output bias, e.g. the log base rates of a classifier).

    Parameters
    ----------
    scale : float or array-like of shape (n,), default=1.0
        Prior standard deviation of each weight.
    mean : float or array-like of shape (n,), default=0.0
        Prior mean of each weight.

    Attributes
    ----------
    precision : float or ndarray
        The prior precision ``1 / scale**2``.

    See Also
    --------
    LaplacePrior : Heavier-tailed, sparsity-inducing prior.
    LayerwisePrior : Different priors for the input layer and output bias.

    Notes
    -----
    ``neg_log_prob`` is ``sum ((w - mean) / scale)^2 / 2``: it omits the
    constant ``sum log(scale sqrt(2 pi))`` over the weights.

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

    _parameter_constraints = {
        "scale": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "mean": [Real, "array-like"],
    }
    _vector_params = ("scale", "mean")

    def __init__(self, scale=1.0, mean=0.0):
        self.scale = scale
        self.mean = mean

    @property
    def precision(self):
        if np.ndim(self.scale) == 0:
            return 1.0 / float(self.scale) ** 2
        return 1.0 / np.asarray(self.scale, dtype=np.float64) ** 2

    def _isotropic(self):
        return np.ndim(self.scale) == 0 and np.ndim(self.mean) == 0 and self.mean == 0

    def _check_values(self):
        _values(self, "scale", positive=True)
        _values(self, "mean")

    def _unsupported(self, needs):
        if needs != "log_prob" and not self._isotropic():
            return "it has per-feature scales or a non-zero mean"
        return None

    def _neg_log_prob(self, param):
        if self._isotropic():
            return 0.5 * self.precision * param.pow(2).sum()
        z = (param - _tensor(np.asarray(self.mean, float), param)) / _tensor(
            np.asarray(self.scale, float), param)
        return 0.5 * z.pow(2).sum()

    def _batched_energy(self):
        if self._isotropic():
            precision = float(self.precision)

            def step(t, out, alpha):
                out.add_(t, alpha=alpha * precision)
                return torch.linalg.vector_norm(t.flatten(1), dim=1)

            def value(kept):
                return 0.5 * precision * torch.stack(kept).square()

            return step, value
        mean, scale = np.asarray(self.mean, float), np.asarray(self.scale, float)
        cache = {}

        def step(t, out, alpha):
            key = (t.dtype, t.device)
            if key not in cache:
                cache[key] = (_tensor(mean, t), _tensor(scale, t))
            mu, sigma = cache[key]
            z = (t - mu) / sigma
            out.addcdiv_(z, sigma, value=alpha)
            return torch.linalg.vector_norm(z.flatten(1), dim=1)

        def value(kept):
            return 0.5 * torch.stack(kept).square()

        return step, value

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
        eps = torch.randn(shape, generator=generator)
        if self._isotropic():
            return float(self.scale) * eps
        return _tensor(np.asarray(self.mean, float), eps) + _tensor(
            np.asarray(self.scale, float), eps) * eps


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
        the Laplace approximation uses it (a Gaussian approximation of this
        prior; its MAP is found under the Laplace prior itself).

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

    def _unsupported(self, needs):
        if needs == "gaussian":
            return "it is not Gaussian"
        return None

    def _neg_log_prob(self, param):
        return param.abs().sum() / float(self.scale)

    def _batched_energy(self):
        scale = float(self.scale)

        def step(t, out, alpha):  # the subgradient 0 at 0, as autograd's abs
            out.add_(t.sign(), alpha=alpha / scale)
            return torch.linalg.vector_norm(t.flatten(1), ord=1, dim=1)

        def value(kept):
            return torch.stack(kept) / scale

        return step, value

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


class UniformPrior(_BasePrior):
    """Independent uniform prior ``U(low, high)`` on every weight and bias.

    Meant for prior predictive checks (``sample_prior_predictive``): a
    uniform prior on each weight is not uninformative about the function
    the network computes. Its log density is flat inside the box and
    ``-inf`` outside, so it gives gradient training nothing to follow and
    no method trains under it: ``fit`` raises a ``ValueError`` naming the
    method.

    Parameters
    ----------
    low : float, default=-1.0
        Lower end of the interval.
    high : float, default=1.0
        Upper end of the interval; must exceed ``low``.

    See Also
    --------
    GaussianPrior : A prior every method trains under.

    Notes
    -----
    ``neg_log_prob`` is exact: ``n log(high - low)`` for ``n`` weights
    inside the box, ``inf`` when any lies outside.

    Examples
    --------
    >>> import torch
    >>> from skbdl.priors import UniformPrior
    >>> from skbdl.utils._torch import make_generator
    >>> w = UniformPrior(-2.0, 2.0).sample((1000,), make_generator(0))
    >>> bool(w.min() >= -2.0 and w.max() <= 2.0)
    True
    """

    _parameter_constraints = {"low": [Real], "high": [Real]}

    def __init__(self, low=-1.0, high=1.0):
        self.low = low
        self.high = high

    def _check_values(self):
        if not (np.isfinite(self.low) and np.isfinite(self.high)
                and self.low < self.high):
            raise ValueError(
                f"The 'low' and 'high' parameters of UniformPrior must be finite "
                f"with low < high; got low={self.low!r}, high={self.high!r}."
            )

    def _unsupported(self, needs):
        return ("its log density is constant inside [low, high] and -inf "
                "outside: no gradient to train on, and no Gaussian precision")

    def _neg_log_prob(self, param):
        inside = ((param >= self.low) & (param <= self.high)).all()
        value = param.new_tensor(param.numel() * np.log(self.high - self.low))
        return torch.where(inside, value, param.new_tensor(float("inf")))

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
        width = float(self.high) - float(self.low)
        return float(self.low) + width * torch.rand(shape, generator=generator)
