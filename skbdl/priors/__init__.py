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
from ._layerwise import LayerwisePrior
from ._spike_and_slab import SpikeAndSlabPrior

__all__ = [
    "GaussianPrior",
    "LaplacePrior",
    "LayerwisePrior",
    "SpikeAndSlabPrior",
    "UniformPrior",
]

_LAYER_KEYS = ("input", "output_bias", "default")
_DEFAULT_INCLUSION = 0.5  # columns a dict inclusion_prob does not name


def resolve_prior(prior, feature_names=None):
    """Turn the estimators' ``prior`` parameter into a validated prior object.

    ``None`` gives ``GaussianPrior(scale=1.0)``; a float is the scale of a
    Gaussian prior; a dict with keys among ``"input"``, ``"output_bias"``
    and ``"default"`` is a ``LayerwisePrior``; a prior object is cloned.
    A spike-and-slab ``inclusion_prob`` given as a dict of column names
    becomes one value per column of ``feature_names`` (the estimator's
    ``feature_names_in_``) in the clone.
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
    _name_features(prior, feature_names)
    prior._check_values()
    return prior


def _name_features(prior, feature_names):
    """Replace a dict ``inclusion_prob`` of the input part by a vector."""
    part = prior._parts()["input"] if isinstance(prior, LayerwisePrior) else prior
    if not isinstance(part, SpikeAndSlabPrior) or not isinstance(
            part.inclusion_prob, dict):
        return
    named = part.inclusion_prob
    if feature_names is None:
        raise ValueError(
            "The 'inclusion_prob' parameter of SpikeAndSlabPrior is a dict keyed by "
            "column name, but X has no column names: fit on a pandas DataFrame, or "
            "pass one value per feature."
        )
    columns = [str(c) for c in feature_names]
    unknown = sorted(str(k) for k in named if str(k) not in columns)
    if unknown:
        raise ValueError(
            f"The 'inclusion_prob' parameter of SpikeAndSlabPrior names {unknown}, "
            f"which are not columns of X (feature_names_in_ = {columns})."
        )
    values = {str(k): v for k, v in named.items()}
    part.inclusion_prob = [values.get(c, _DEFAULT_INCLUSION) for c in columns]
    part._validate_params()


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
