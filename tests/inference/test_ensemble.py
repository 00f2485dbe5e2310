"""Deep ensembles (``skbdl/inference/_ensemble.py``)."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.inference import Ensemble

import scenarios

X_CLF, Y_CLF = scenarios.two_moons(n=40, noise=0.2, seed=0)
GAP = scenarios.gap_1d(n=40, seed=0)


@pytest.mark.parametrize("Est, X, y", [
    pytest.param(BayesianMLPClassifier, X_CLF, Y_CLF, id="clf"),
    pytest.param(BayesianMLPRegressor, GAP.X, GAP.y, id="reg")])
def test_n_jobs_does_not_change_the_result(Est, X, y):
    """Members trained in two worker processes (joblib's default backend) are
    bit for bit those trained one after the other."""
    fits = [Est((8,), method=Ensemble(n_members=3, n_jobs=n_jobs), max_epochs=5,
                random_state=0).fit(X, y) for n_jobs in (1, 2)]
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    X_new = np.vstack([X[:5], X[:5] + 3.0])
    if Est is BayesianMLPClassifier:
        outputs = [(f.predict_proba(X_new), f.predict_proba_samples(X_new))
                   for f in fits]
    else:
        outputs = [(*f.predict(X_new, return_std=True), f.sample_y(X_new, 4))
                   for f in fits]
    for a, b in zip(*outputs):
        assert_array_equal(a, b)
    # the members differ from each other (so equality is not trivial)
    if Est is BayesianMLPClassifier:
        assert not np.allclose(outputs[0][1][..., 0], outputs[0][1][..., 1])
    else:
        assert np.all(fits[0].predict_uncertainty(X_new).epistemic > 0)
