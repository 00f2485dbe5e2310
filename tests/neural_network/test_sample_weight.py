"""``fit(X, y, sample_weight)`` and the early-stopping score attributes.

The oracle for the weights: the energy is ``-sum_i w_i log p(y_i|x_i, w) -
log p(w)`` with ``N = sum_i w_i``, so with full-batch training (the batch
holds every row, so batch composition cannot differ) an integer weight must
give the same fit as the row repeated, and a weight of 0 the same fit as the
row removed.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl._nn import TrainingCurve, train_valid_split
from skbdl.inference import (
    IVON,
    MAP,
    METHODS,
    SGLD,
    VI,
    Ensemble,
    Laplace,
    MCDropout,
)
from skbdl.inference._ensemble import _mean_curve
from skbdl.utils._random import Seeds
from skbdl.utils._torch import to_tensor

RNG = np.random.RandomState(0)
X = RNG.randn(40, 3)
Y_CLF = (X[:, 0] + 0.3 * RNG.randn(40) > 0).astype(int)
Y_REG = X[:, 0] - 0.5 * X[:, 1] + 0.1 * RNG.randn(40)
# row 0 counts twice, row 1 not at all, row 2 three times
WEIGHTS = np.ones(40)
WEIGHTS[:3] = [2, 0, 3]
REPEATED = np.r_[0, 0, 2, 2, 2, np.arange(3, 40)]

FULL_BATCH = dict(hidden_layer_sizes=(8,), max_epochs=40, batch_size=64, lr=1e-2,
                  random_state=0)

# Methods whose training is deterministic given the energy (their training
# noise, if any, is drawn per weight, not per row) and whose posterior sums
# over rows: every one must treat a weight as repeated rows.
EQUIVALENT = [
    MAP(),
    Laplace(prior_precision=1.0),
    Laplace("last_layer", "diag", prior_precision="marglik"),
    Laplace("all", "full", prior_precision="marglik"),
    Laplace("all", "kron", prior_precision="marglik"),
    IVON(),
    SGLD(n_chains=1, n_keep=5),
    Ensemble(n_members=2),
]


def _outputs(est):
    if isinstance(est, BayesianMLPClassifier):
        return est.predict_proba(X)
    return np.column_stack(est.predict(X, return_std=True))


@pytest.mark.parametrize("method", EQUIVALENT, ids=repr)
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)],
                         ids=["clf", "reg"])
def test_integer_weight_is_repeated_row(Est, y, method):
    weighted = Est(method=method, **FULL_BATCH).fit(X, y, sample_weight=WEIGHTS)
    repeated = Est(method=method, **FULL_BATCH).fit(X[REPEATED], y[REPEATED])
    assert_allclose(_outputs(weighted), _outputs(repeated), atol=1e-5, rtol=1e-5)
    # The energy per row is a float32 sum of terms of size ~1.5 (resolution
    # ~2e-7), and the regression curve crosses zero: relative agreement
    # alone cannot hold there.
    assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-5, atol=1e-6)
    if isinstance(method, Laplace):  # the tuned posterior, not just the mode
        assert_allclose(weighted.method_.prior_precision_,
                        repeated.method_.prior_precision_, rtol=1e-4)
        assert_allclose(weighted.method_.log_marginal_likelihood_,
                        repeated.method_.log_marginal_likelihood_, rtol=1e-4)


def test_regressor_noise_and_scaling_are_weighted():
    weighted = BayesianMLPRegressor(method="map", **FULL_BATCH).fit(
        X, Y_REG, sample_weight=WEIGHTS)
    repeated = BayesianMLPRegressor(method="map", **FULL_BATCH).fit(
        X[REPEATED], Y_REG[REPEATED])
    assert weighted._y_mean == pytest.approx(repeated._y_mean, rel=1e-12)
    assert weighted._y_std == pytest.approx(repeated._y_std, rel=1e-12)
    assert_allclose(weighted.method_.likelihood_.noise_var,
                    repeated.method_.likelihood_.noise_var, rtol=1e-5)


def test_weights_change_the_fit():
    """The oracle above could pass with weights ignored only if they did nothing."""
    weighted = BayesianMLPRegressor(method="map", **FULL_BATCH).fit(
        X, Y_REG, sample_weight=WEIGHTS)
    plain = BayesianMLPRegressor(method="map", **FULL_BATCH).fit(X, Y_REG)
    assert np.abs(weighted.predict(X) - plain.predict(X)).max() > 1e-3


def test_unit_weights_match_no_weights():
    a = BayesianMLPClassifier(**FULL_BATCH).fit(X, Y_CLF, sample_weight=np.ones(40))
    b = BayesianMLPClassifier(**FULL_BATCH).fit(X, Y_CLF)
    assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("method", [VI(), MCDropout()], ids=repr)
def test_row_noise_methods_train_with_weights(method):
    """VI and MC dropout draw their training noise per row, so a repeated row
    gets other noise than a weighted one and the fits are not identical;
    they must still use the weights (a weight 0 row is ignored)."""
    sw = np.ones(40)
    sw[:20] = 0
    est = BayesianMLPClassifier(method=method, **FULL_BATCH)
    est.fit(X, Y_CLF, sample_weight=sw)
    assert np.isfinite(est.loss_curve_).all()
    assert est.predict_proba(X).shape == (40, 2)


@pytest.mark.parametrize("sample_weight, match", [
    (-np.ones(40), "sample_weight"),
    (np.ones(39), "sample_weight"),
    (np.r_[np.nan, np.ones(39)], "sample_weight"),
    (np.r_[np.inf, np.ones(39)], "sample_weight"),
    (np.zeros(40), "sample_weight"),
    (np.ones((40, 2)), "1D"),
])
@pytest.mark.parametrize("Est", [BayesianMLPClassifier, BayesianMLPRegressor])
def test_invalid_sample_weight(Est, sample_weight, match):
    y = Y_CLF if Est is BayesianMLPClassifier else Y_REG
    with pytest.raises(ValueError, match=match):
        Est(**FULL_BATCH).fit(X, y, sample_weight=sample_weight)


def test_early_stopping_split_without_weight_raises():
    """Every held-out row of weight 0: no validation loss to monitor."""
    generator = Seeds.from_random_state(0).generator("split")
    _, (_, _, index) = train_valid_split(
        torch.zeros(40, 1), torch.zeros(40), 0.1, generator, torch.arange(40.0))
    sw = np.ones(40)
    sw[index.long().numpy()] = 0
    est = BayesianMLPClassifier(early_stopping=True, **FULL_BATCH)
    with pytest.raises(ValueError, match="validation part has sample_weight 0"):
        est.fit(X, Y_CLF, sample_weight=sw)


# ------------------------------------------------ early-stopping attributes
def _held_out(X, y, fraction, random_state, sample_weight=None):
    """The estimator's validation rows, split by the same seed stream."""
    generator = Seeds.from_random_state(random_state).generator("split")
    w = None if sample_weight is None else to_tensor(sample_weight)
    _, valid = train_valid_split(to_tensor(X), torch.as_tensor(y), fraction,
                                 generator, w)
    return valid


@pytest.mark.parametrize("weighted", [False, True])
def test_best_validation_score_is_held_out_loglik(weighted):
    sw = WEIGHTS if weighted else None
    est = BayesianMLPClassifier(
        hidden_layer_sizes=(8,), max_epochs=60, lr=3e-2, batch_size=8,
        early_stopping=True, validation_fraction=0.25, n_iter_no_change=5,
        random_state=0,
    ).fit(X, Y_CLF, sample_weight=sw)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ == len(est.loss_curve_)
    assert est.best_validation_score_ == max(est.validation_scores_)
    # the returned weights are the best epoch's (skorch's load_best): its
    # score is their mean held-out log-likelihood, computed independently
    Xv, yv, *wv = _held_out(X, Y_CLF, 0.25, 0, sw)
    with torch.no_grad():
        nll = torch.nn.functional.cross_entropy(
            est.method_.module_(Xv), yv, reduction="none").double()
    expected = -float(nll.mean() if not wv else (wv[0] * nll).sum() / wv[0].sum())
    assert est.best_validation_score_ == pytest.approx(expected, rel=1e-5)
    # and it trained past the best epoch only while patience allowed
    best = int(np.argmax(est.validation_scores_))
    assert est.n_iter_ <= best + 1 + 5 or est.n_iter_ == 60


def test_no_early_stopping_sets_best_loss():
    est = BayesianMLPRegressor(method="map", **FULL_BATCH).fit(X, Y_REG)
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None
    assert est.best_validation_score_ is None


def test_ensemble_scores_are_member_means():
    curves = [TrainingCurve([3.0, 2.0, 1.0], [-1.0, -0.5, -0.7]),
              TrainingCurve([5.0, 4.0], [-2.0, -1.5])]
    mean = _mean_curve(curves)  # as loss_curve_: up to the shortest member
    assert mean == [4.0, 3.0]
    assert mean.validation_scores == [-1.5, -1.0]
    est = BayesianMLPClassifier(
        method=Ensemble(n_members=2), early_stopping=True, **FULL_BATCH
    ).fit(X, Y_CLF)
    assert len(est.validation_scores_) == len(est.loss_curve_)
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert np.isfinite(est.validation_scores_).all()


def test_sgld_keeps_no_validation_scores():
    est = BayesianMLPClassifier(method=SGLD(n_chains=1, n_keep=5),
                                early_stopping=True, **FULL_BATCH).fit(X, Y_CLF)
    assert est.validation_scores_ is None
    assert est.best_validation_score_ is None
    assert est.best_loss_ is None


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)],
                         ids=["clf", "reg"])
def test_every_method_fits_weighted_with_early_stopping(Est, y, name):
    """Default settings of every method (Laplace's held-out tuning included),
    minibatches and early stopping, with some weights 0."""
    sw = np.r_[np.zeros(5), RNG.randint(1, 4, size=35)]
    est = Est(method=name, hidden_layer_sizes=(8,), max_epochs=5,
              early_stopping=True, random_state=0).fit(X, y, sample_weight=sw)
    assert np.isfinite(_outputs(est)).all()
