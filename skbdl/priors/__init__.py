"""Priors over network weights.

A prior is a small ``BaseEstimator`` holding only its hyper-parameters. Every
inference method uses the same object and the same training-set size ``N``, so
"prior scale" means the same thing for MAP (where the Gaussian prior is weight
decay), ensembles, MC dropout, Laplace, SGLD, VI and IVON: every method
minimises or samples the energy ``-(N/n) sum log p(y|x, w) - log p(w)``.

Priors see the network as its list of layers ``[(W, b), ...]`` (head last,
``W`` of shape ``(out, in)``) through ``neg_log_prob_layers`` and
``sample_layers``. An element-wise prior (Gaussian, Laplace, uniform) treats
every weight and bias alike; ``LayerwisePrior`` gives the input layer, the
output bias and the rest their own priors, and ``SpikeAndSlabPrior`` groups
the input-layer weights by input feature. A method that cannot honour a
prior says so at ``fit`` (``check_prior_support``).
"""

from numbers import Real

from sklearn.base import clone

from ._elementwise import NEEDS, GaussianPrior, LaplacePrior, UniformPrior
from ._layerwise import LayerwisePrior, SpikeAndSlabPrior

__all__ = [
    "GaussianPrior",
    "LaplacePrior",
    "LayerwisePrior",
    "SpikeAndSlabPrior",
    "UniformPrior",
]

_LAYER_KEYS = ("input", "output_bias", "default")


def resolve_prior(prior):
    """Turn the estimators' ``prior`` parameter into a validated prior object.

    ``None`` gives ``GaussianPrior(scale=1.0)``; a float is the scale of a
    Gaussian prior; a dict with keys among ``"input"``, ``"output_bias"``
    and ``"default"`` is a ``LayerwisePrior``; a prior object is cloned.
    """
    if prior is None:
        return GaussianPrior()
    if isinstance(prior, Real):
        return GaussianPrior(scale=float(prior))
    if isinstance(prior, dict):
        unknown = sorted(set(prior) - set(_LAYER_KEYS), key=str)
        if unknown:
            raise ValueError(
                f"Unknown layer key(s) {unknown} in the 'prior' dict; the keys are "
                f"{list(_LAYER_KEYS)} (see LayerwisePrior)."
            )
        prior = LayerwisePrior(**prior)
    prior = clone(prior)
    prior._validate_params()
    prior._check_values()
    return prior


def check_prior_support(prior, method, needs):
    """Raise a ``ValueError`` naming ``method`` and ``prior`` if it cannot be used.

    ``needs`` is a key of ``NEEDS``: ``"log_prob"`` (MAP, ensembles, MC
    dropout, SGLD train on the gradient of ``log p``), ``"precision"``
    (Laplace: one Gaussian precision) or ``"gaussian"`` (VI, IVON: an
    isotropic zero-mean Gaussian).
    """
    reason = prior._unsupported(needs)
    if reason is not None:
        raise ValueError(
            f"{method} cannot use prior={prior!r}: {method} needs {NEEDS[needs]}, "
            f"and {reason}. Pass a supported prior (see the priors support matrix "
            f"in the README) or choose another method."
        )
