"""Every method honours every prior or says why not (issue 12, §2): the
support matrix of the README, fitted on tiny data.

A supported pair fits and predicts finite values; an unsupported pair fails
at ``fit`` with a ``ValueError`` naming both the method and the prior, never
running silently under another prior. A method added to ``METHODS`` without
a row here fails ``test_every_method_has_a_row``.
"""

import warnings

import numpy as np
import pytest

from skbdl import BayesianMLPRegressor
from skbdl.inference import METHODS
from skbdl.priors import (
    GaussianPrior,
    LaplacePrior,
    LayerwisePrior,
    SpikeAndSlabPrior,
    UniformPrior,
)

PRIORS = {
    "gaussian": GaussianPrior(0.5),
    "gaussian_mean": GaussianPrior(0.5, mean=0.3),
    "laplace": LaplacePrior(0.5),
    "per_feature": LayerwisePrior(input=GaussianPrior(scale=[0.5, 1.0, 2.0])),
    "output_bias": LayerwisePrior(output_bias=GaussianPrior(mean=0.5, scale=0.1)),
    "spike_and_slab": SpikeAndSlabPrior(inclusion_prob=0.3),
    "uniform": UniformPrior(-1.0, 1.0),
}
_LOG_PROB = {"gaussian", "gaussian_mean", "laplace", "per_feature", "output_bias",
             "spike_and_slab"}
# The support matrix (README, "Priors"): the priors each method trains under.
SUPPORTED = {
    "map": _LOG_PROB,
    "ensemble": _LOG_PROB,
    "mc_dropout": _LOG_PROB,
    "sgld": _LOG_PROB,
    "laplace": {"gaussian", "laplace"},
    "vi": {"gaussian"},
    "ivon": {"gaussian"},
}

rng = np.random.RandomState(0)
X = rng.randn(30, 3)
y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.randn(30)


def test_every_method_has_a_row():
    assert set(SUPPORTED) == set(METHODS)


@pytest.mark.parametrize("prior_name", sorted(PRIORS))
@pytest.mark.parametrize("method", sorted(METHODS))
def test_method_honours_the_prior_or_raises(method, prior_name):
    prior = PRIORS[prior_name]
    est = BayesianMLPRegressor((3,), method=method, prior=prior, max_epochs=10,
                               random_state=0)
    if prior_name in SUPPORTED[method]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 10 epochs: convergence warnings
            est.fit(X, y)
        mean, std = est.predict(X, return_std=True)
        assert np.isfinite(mean).all() and np.isfinite(std).all()
        assert hasattr(est, "feature_inclusion_") == (prior_name == "spike_and_slab")
    else:
        name = type(METHODS[method]()).__name__
        with pytest.raises(ValueError, match=rf"{name}\b.*{type(prior).__name__}"):
            est.fit(X, y)
