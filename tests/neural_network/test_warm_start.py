"""``warm_start`` and ``partial_fit`` of the Bayesian MLPs.

Oracles:

* warm start: a warm fit whose optimizer cannot move the weights
  (``lr=1e-12``) predicts what the previous fit predicted, so it started
  from exactly those weights; a cold fit with the same settings does not.
* ``partial_fit``: one call is one epoch that continues the weights, Adam's
  state and the batch-order stream, so ``k`` calls on the same data are
  the run of ``fit(max_epochs=k)``, bit for bit, on the fused path and on
  the generic engine; ``fit(max_epochs=a)`` then ``k`` calls is
  ``fit(max_epochs=a + k)``.
"""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl._nn import _problem
from skbdl.inference import IVON, MAP, SGLD, VI, Ensemble, Laplace, MCDropout

RNG = np.random.RandomState(0)
X = RNG.randn(40, 3)
Y_CLF = (X[:, 0] + 0.3 * RNG.randn(40) > 0).astype(int)
Y3 = np.digitize(X[:, 0], [-0.5, 0.5])  # three classes
Y_REG = X[:, 0] - 0.5 * X[:, 1] + 0.1 * RNG.randn(40)
W = RNG.randint(0, 3, size=40).astype(float)

SMALL = dict(hidden_layer_sizes=(8,), lr=1e-2, random_state=0)
WARM = [MAP(), Laplace(prior_precision=1.0), MCDropout(p=0.2), Ensemble(n_members=2)]


def _pred(est, X):
    if isinstance(est, BayesianMLPClassifier):
        return est.predict_proba(X)
    return np.column_stack(est.predict(X, return_std=True))


# ------------------------------------------------------------------ warm start
@pytest.mark.parametrize("method", WARM, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("Est, y", [(BayesianMLPClassifier, Y_CLF),
                                    (BayesianMLPRegressor, Y_REG)])
def test_warm_start_starts_from_the_previous_weights(Est, y, method):
    est = Est(method=method, max_epochs=30, **SMALL).fit(X, y)
    before = _pred(est, X)
    curve = list(est.loss_curve_)
    est.set_params(warm_start=True, lr=1e-12, max_epochs=1).fit(X, y)
    assert_allclose(_pred(est, X), before, atol=1e-6)
    # loss_curve_ and n_iter_ continue, as scikit-learn's
    assert est.loss_curve_[:30] == curve and est.n_iter_ == 31
    cold = Est(method=method, max_epochs=1, **{**SMALL, "lr": 1e-12}).fit(X, y)
    assert np.abs(_pred(cold, X) - before).max() > 1e-2


def test_warm_start_small_steps_stay_close_a_cold_fit_does_not():
    est = BayesianMLPClassifier(max_epochs=50, **SMALL).fit(X, Y3)
    before = est.predict_proba(X)
    est.set_params(warm_start=True, lr=1e-4, max_epochs=1).fit(X, Y3)
    warm = np.abs(est.predict_proba(X) - before).max()
    cold = BayesianMLPClassifier(max_epochs=1, **{**SMALL, "lr": 1e-4}).fit(X, Y3)
    assert warm < 0.02 < np.abs(cold.predict_proba(X) - before).max()


def test_warm_start_restarts_adam():
    """A warm fit is a new run from the previous weights (fresh Adam), so it
    is not the continuation that partial_fit is."""
    est = BayesianMLPClassifier(max_epochs=3, **SMALL).fit(X, Y_CLF)
    est.set_params(warm_start=True, max_epochs=2).fit(X, Y_CLF)
    longer = BayesianMLPClassifier(max_epochs=5, **SMALL).fit(X, Y_CLF)
    assert np.abs(est.predict_proba(X) - longer.predict_proba(X)).max() > 1e-6
    assert est.method_._train_state.optimizer["t"] == 2 * 5  # 5 batches an epoch


def test_warm_start_without_a_previous_fit_is_a_cold_fit():
    warm = BayesianMLPClassifier(max_epochs=5, warm_start=True, **SMALL).fit(X, Y_CLF)
    cold = BayesianMLPClassifier(max_epochs=5, **SMALL).fit(X, Y_CLF)
    assert_array_equal(warm.predict_proba(X), cold.predict_proba(X))


def test_warm_start_ensemble_new_members_start_fresh():
    est = BayesianMLPClassifier(method=Ensemble(n_members=2), max_epochs=20,
                                **SMALL).fit(X, Y_CLF)
    old = [m.head.weight.detach().clone() for m in est.method_.modules_]
    est.set_params(warm_start=True, lr=1e-12, max_epochs=1,
                   method=Ensemble(n_members=3)).fit(X, Y_CLF)
    new = [m.head.weight.detach() for m in est.method_.modules_]
    for a, b in zip(old, new[:2]):
        assert_allclose(b.numpy(), a.numpy(), atol=1e-6)
    fresh = BayesianMLPClassifier(method=Ensemble(n_members=3), max_epochs=1,
                                  **{**SMALL, "lr": 1e-12}).fit(X, Y_CLF)
    assert_allclose(new[2].numpy(),
                    fresh.method_.modules_[2].head.weight.detach().numpy(), atol=1e-6)


@pytest.mark.parametrize("method", [SGLD(), VI(), IVON(), "sgld"],
                         ids=lambda m: m if isinstance(m, str) else type(m).__name__)
def test_warm_start_unsupported_method_raises(method):
    est = BayesianMLPClassifier(method=method, max_epochs=2, warm_start=True, **SMALL)
    name = method.upper() if isinstance(method, str) else type(method).__name__
    with pytest.raises(ValueError, match=f"warm_start=True is not supported.*{name}"):
        est.fit(X, Y_CLF)


def test_warm_start_data_and_network_must_match():
    est = BayesianMLPClassifier(max_epochs=2, warm_start=True, **SMALL).fit(X, Y_CLF)
    with pytest.raises(ValueError, match="X has 2 features.*expecting 3"):
        est.fit(X[:, :2], Y_CLF)
    with pytest.raises(ValueError, match="same classes as in the previous call"):
        est.fit(X, Y3)
    with pytest.raises(ValueError, match="layer sizes"):
        est.set_params(hidden_layer_sizes=(4,)).fit(X, Y_CLF)
    est.set_params(hidden_layer_sizes=(8,), method=MCDropout())
    with pytest.raises(ValueError, match="method was MAP; method is now MCDropout"):
        est.fit(X, Y_CLF)
    # warm_start=False refits anything from scratch
    est.set_params(warm_start=False).fit(X[:, :2], Y3)
    assert est.n_features_in_ == 2 and len(est.classes_) == 3


# ----------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "engine"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("Est, y, params", [
    (BayesianMLPClassifier, Y3, {}),
    (BayesianMLPRegressor, Y_REG, {"method": "map"}),
    (BayesianMLPRegressor, Y_REG, {"method": "map", "heteroscedastic": True}),
], ids=["clf", "reg", "reg-hetero"])
def test_k_partial_fits_equal_one_fit(Est, y, params, weighted, fused, monkeypatch):
    monkeypatch.setattr(_problem, "FUSED", fused)
    sw = W if weighted else None
    extra = {"classes": np.unique(y)} if Est is BayesianMLPClassifier else {}
    once = Est(max_epochs=4, **params, **SMALL).fit(X, y, sample_weight=sw)
    inc = Est(**params, **SMALL)
    for _ in range(4):
        inc.partial_fit(X, y, sample_weight=sw, **extra)
    assert_array_equal(_pred(inc, X), _pred(once, X))
    assert inc.loss_curve_ == once.loss_curve_ and inc.n_iter_ == 4
    assert inc.best_loss_ == min(once.loss_curve_)
    # fit(max_epochs=a) then k calls is fit(max_epochs=a + k)
    cont = Est(max_epochs=2, **params, **SMALL).fit(X, y, sample_weight=sw)
    cont.partial_fit(X, y, sample_weight=sw)
    cont.partial_fit(X, y, sample_weight=sw)
    assert_array_equal(_pred(cont, X), _pred(once, X))


def test_partial_fit_state_survives_pickling():
    a = BayesianMLPClassifier(**SMALL).partial_fit(X, Y_CLF, classes=[0, 1])
    b = pickle.loads(pickle.dumps(a))
    a.partial_fit(X, Y_CLF)
    b.partial_fit(X, Y_CLF)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_partial_fit_after_early_stopping_restarts_adam_only():
    """Early stopping trains on the engine; partial_fit (no early stopping,
    as scikit-learn) then takes the fused path and restarts Adam."""
    est = BayesianMLPClassifier(max_epochs=3, early_stopping=True, **SMALL)
    est.fit(X, Y_CLF)
    assert est.method_._train_state.path == "engine"
    assert est.best_loss_ is None and len(est.validation_scores_) == 3
    est.partial_fit(X, Y_CLF)
    assert est.method_._train_state.path == "fused"
    assert est.method_._train_state.optimizer["t"] == 5  # one epoch of 5 batches
    assert est.n_iter_ == 4 and est.best_loss_ == min(est.loss_curve_)


def test_partial_fit_classes():
    est = BayesianMLPClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, Y3)
    labels = np.array(["a", "b", "c"])
    first = Y3 < 2  # the first chunk lacks class "c"
    est.partial_fit(X[first], labels[Y3[first]], classes=labels)
    assert est.predict_proba(X).shape == (40, 3)
    est.partial_fit(X, labels[Y3])  # classes may be omitted later
    with pytest.raises(ValueError, match="is not the same as on last call"):
        est.partial_fit(X, labels[Y3], classes=["a", "b"])
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        est.partial_fit(X, np.append(labels[Y3][:-1], "d"))
    with pytest.raises(ValueError, match="X has 2 features.*expecting 3"):
        est.partial_fit(X[:, :2], labels[Y3])
    assert est.n_iter_ == 2
    with pytest.raises(ValueError, match="at least 2 classes"):
        BayesianMLPClassifier(**SMALL).partial_fit(X, Y_CLF * 0, classes=[0])


def test_partial_fit_regressor_keeps_the_first_standardisation():
    est = BayesianMLPRegressor(method="map", **SMALL).partial_fit(X, Y_REG)
    mean, std = est._y_mean, est._y_std
    est.partial_fit(X, Y_REG + 10.0)
    assert (est._y_mean, est._y_std) == (mean, std)


def test_partial_fit_only_for_incremental_methods():
    assert hasattr(BayesianMLPClassifier(), "partial_fit")  # default "map"
    assert hasattr(BayesianMLPRegressor(method=MAP()), "partial_fit")
    for method in ("laplace", "ensemble", "mc_dropout", "sgld", "vi", "ivon",
                   Laplace()):
        assert not hasattr(BayesianMLPClassifier(method=method), "partial_fit")
    assert not hasattr(BayesianMLPRegressor(), "partial_fit")  # default Laplace
    with pytest.raises(AttributeError, match="partial_fit"):
        BayesianMLPRegressor(method="laplace").partial_fit(X, Y_REG)


def test_partial_fit_cannot_switch_methods():
    est = BayesianMLPClassifier(method=Laplace(prior_precision=1.0), max_epochs=2,
                                **SMALL)
    est.fit(X, Y_CLF).set_params(method="map")
    with pytest.raises(ValueError, match="continues the fitted method_ .Laplace."):
        est.partial_fit(X, Y_CLF)
