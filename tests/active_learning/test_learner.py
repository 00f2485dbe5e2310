"""ActiveLearner: a scikit-learn meta-estimator with modAL's verbs."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import BayesianRidge, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbdl import ActiveLearner, BayesianMLPClassifier, GPRegressor
from skbdl.active_learning import _learner, bald, batch_bald, margin, simulate, top_k

X, y = make_classification(
    n_samples=120, n_features=5, n_informative=3, n_classes=3, random_state=0
)
SEED = np.concatenate([np.flatnonzero(y == c)[:3] for c in range(3)])
POOL = np.setdiff1d(np.arange(len(X)), SEED)


def _mlp(**kw):
    params = dict(hidden_layer_sizes=(16,), max_epochs=20, random_state=0)
    return BayesianMLPClassifier(**{**params, **kw})


def test_margin_query_is_top_k_of_the_fitted_estimators_margin():
    learner = ActiveLearner(LogisticRegression(), "margin", batch_size=7,
                            random_state=0).fit(X[SEED], y[SEED])  # fmt: skip
    idx, scores = learner.query(X[POOL], return_scores=True)
    ref = LogisticRegression().fit(X[SEED], y[SEED])
    np.testing.assert_allclose(scores, margin(ref.predict_proba(X[POOL])))
    np.testing.assert_array_equal(idx, top_k(scores, 7, _rng(learner)))
    assert learner.query(X[POOL], 3).shape == (3,)


def _rng(learner):
    return np.random.default_rng(learner._seeds.child(learner.n_teach_).sequence)


def test_teach_appends_and_refits_from_scratch():
    learner = ActiveLearner(LogisticRegression(), "entropy").fit(X[SEED], y[SEED])
    idx = learner.query(X[POOL], 5)
    learner.teach(X[POOL][idx], y[POOL][idx])
    rows = np.concatenate([SEED, POOL[idx]])
    np.testing.assert_array_equal(learner.X_training_, X[rows])
    np.testing.assert_array_equal(learner.y_training_, y[rows])
    ref = LogisticRegression().fit(X[rows], y[rows])
    np.testing.assert_allclose(learner.estimator_.coef_, ref.coef_)
    assert learner.n_teach_ == 1
    np.testing.assert_allclose(learner.predict_proba(X), ref.predict_proba(X))
    assert learner.score(X, y) == ref.score(X, y)
    np.testing.assert_array_equal(learner.classes_, [0, 1, 2])


def test_warm_start_continues_the_current_fit():
    est = LogisticRegression(max_iter=5, solver="lbfgs")
    learner = ActiveLearner(est, "margin", warm_start=True).fit(X[SEED], y[SEED])
    first = learner.estimator_
    learner.teach(X[POOL[:5]], y[POOL[:5]])
    assert learner.estimator_ is not first and learner.estimator_.warm_start
    with pytest.raises(ValueError, match="warm_start"):
        ActiveLearner(Ridge(), "max_std", warm_start=True).fit(X, y.astype(float))\
            .teach(X[:2], y[:2].astype(float))  # fmt: skip


def test_pipeline_and_bald_on_skbdl_draws_with_chunking(monkeypatch):
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    learner = ActiveLearner(pipe, "entropy", random_state=0).fit(X[SEED], y[SEED])
    assert learner.query(X[POOL]).shape == (10,)
    bayes = ActiveLearner(_mlp(method="mc_dropout"), "bald", n_samples=8,
                          random_state=0).fit(X[SEED], y[SEED])  # fmt: skip
    _, whole = bayes.query(X[POOL], return_scores=True)
    draws = bayes.estimator_.predict_proba_samples(X[POOL], 8)
    np.testing.assert_allclose(whole, bald(draws), rtol=1e-6)
    # three rows per chunk: the same scores (a draw is a whole function), up
    # to float32 rounding: the forward pass over 3 rows and over 111 rounds
    # the logits' last bits differently, and BALD is a difference of two
    # entropies of size ~1, so a score of 1e-3 carries ~1e-9 of that
    monkeypatch.setattr(_learner, "_CHUNK_FLOATS", 3 * 3 * 8)
    _, chunked = bayes.query(X[POOL], return_scores=True)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-8)


class _RowRecorder(LogisticRegression):
    def predict_proba(self, X):
        type(self).max_rows = max(getattr(type(self), "max_rows", 0), len(X))
        return super().predict_proba(X)


def test_pool_is_scored_in_bounded_chunks(monkeypatch):
    monkeypatch.setattr(_learner, "_CHUNK_FLOATS", 30)  # 10 rows of 3 classes
    learner = ActiveLearner(_RowRecorder(), "margin").fit(X[SEED], y[SEED])
    _RowRecorder.max_rows = 0
    _, scores = learner.query(X[POOL], return_scores=True)
    assert _RowRecorder.max_rows == 10 and scores.shape == (len(POOL),)


def test_batch_bald_through_the_learner_uses_the_top_candidates():
    learner = ActiveLearner(_mlp(method="mc_dropout"), "batch_bald", batch_size=4,
                            n_samples=8, n_candidates=20,
                            random_state=0).fit(X[SEED], y[SEED])  # fmt: skip
    idx, scores = learner.query(X[POOL], return_scores=True)
    assert len(set(idx)) == 4
    rng = _rng(learner)
    cand = np.sort(top_k(scores, 20, rng))
    draws = learner.estimator_.predict_proba_samples(X[POOL][cand], 8)
    ref, _ = batch_bald(draws, 4, random_state=rng)
    np.testing.assert_array_equal(idx, cand[ref])


@pytest.mark.parametrize("Reg", [GPRegressor, GaussianProcessRegressor])
def test_max_std_for_regressors(Reg):
    Xr, yr = make_regression(n_samples=40, n_features=2, noise=1.0, random_state=0)
    learner = ActiveLearner(Reg(), "max_std", batch_size=3).fit(Xr[:10], yr[:10])
    idx, scores = learner.query(Xr[10:], return_scores=True)
    std = Reg().fit(Xr[:10], yr[:10]).predict(Xr[10:], return_std=True)[1]
    np.testing.assert_allclose(scores, std, rtol=1e-6)
    assert np.all(scores[idx] >= np.sort(scores)[-3])  # the top 3 (ties aside)
    mean, sd = learner.predict(Xr[10:], return_std=True)
    assert sd.shape == (30,)


@pytest.mark.parametrize("strategy", ["random", "power_entropy", "softmax_bald"])
def test_reproducible_and_global_rng_untouched(strategy):
    state = np.random.get_state()[1].copy()
    est = _mlp(method="mc_dropout") if "bald" in strategy else LogisticRegression()
    a = ActiveLearner(est, strategy, random_state=3).fit(X[SEED], y[SEED])
    b = ActiveLearner(est, strategy, random_state=3).fit(X[SEED], y[SEED])
    np.testing.assert_array_equal(a.query(X[POOL]), b.query(X[POOL]))
    np.testing.assert_array_equal(a.query(X[POOL]), a.query(X[POOL]))
    assert np.array_equal(state, np.random.get_state()[1])
    c = ActiveLearner(est, strategy, random_state=4).fit(X[SEED], y[SEED])
    assert not np.array_equal(a.query(X[POOL]), c.query(X[POOL]))


def test_random_state_none_uses_numpys_global_rng():
    def run():
        np.random.seed(0)
        return ActiveLearner(LogisticRegression(), "random").fit(
            X[SEED], y[SEED]).query(X[POOL])  # fmt: skip

    np.testing.assert_array_equal(run(), run())


def test_meta_estimator_params_clone_pickle_gridsearch():
    learner = ActiveLearner(LogisticRegression(C=2.0), "margin")
    assert learner.get_params()["estimator__C"] == 2.0
    assert clone(learner).set_params(estimator__C=0.5).estimator.C == 0.5
    fitted = learner.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.query(X[:30]), fitted.query(X[:30]))
    search = GridSearchCV(
        learner,
        {"estimator__C": [0.1, 10.0], "query_strategy": ["margin", "entropy"]},
        cv=3,
    ).fit(X, y)
    assert set(search.best_params_) == {"estimator__C", "query_strategy"}


def test_simulate_runs_the_labelling_loop():
    Xi, yi = load_iris(return_X_y=True)
    learner = ActiveLearner(LogisticRegression(), "margin", batch_size=4,
                            random_state=0).fit(Xi[[0, 50, 100]], yi[[0, 50, 100]])
    curve = simulate(learner, Xi, yi, Xi, yi, n_queries=5)  # fmt: skip
    np.testing.assert_array_equal(curve.n_labels, [3, 7, 11, 15, 19, 23])
    assert curve.queried.shape == (5, 4) and len(set(curve.queried.ravel())) == 20
    assert curve.scores[-1] == learner.score(Xi, yi)
    ref = LogisticRegression().fit(
        np.concatenate([Xi[[0, 50, 100]], Xi[curve.queried.ravel()]]),
        np.concatenate([yi[[0, 50, 100]], yi[curve.queried.ravel()]]),
    )
    assert curve.scores[-1] == ref.score(Xi, yi)
    again = simulate(learner, Xi, yi, Xi, yi, n_queries=1, scoring="neg_log_loss")
    assert again.scores[0] < 0


def test_bad_input_is_a_clear_error_and_a_failed_teach_loses_nothing():
    learner = ActiveLearner(LogisticRegression(), "margin").fit(X[SEED], y[SEED])
    with pytest.raises(ValueError, match="0 sample"):
        learner.query(np.empty((0, 5)))
    with pytest.raises(ValueError, match="4 features"):
        learner.query(X[:, :4])
    pool = X[POOL].copy()
    pool[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        learner.query(pool)
    with pytest.raises(ValueError, match="n_instances"):
        learner.query(X[:5], 6)
    before = learner.X_training_.copy(), learner.estimator_
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        learner.teach(X[:3], y[:2])
    with pytest.raises(ValueError, match="NaN"):
        learner.teach(pool[:5], y[:5])
    np.testing.assert_array_equal(learner.X_training_, before[0])
    assert learner.estimator_ is before[1] and learner.n_teach_ == 0
    with pytest.raises(ValueError, match="query_strategy"):
        ActiveLearner(LogisticRegression(), "unknown").fit(X, y)
    with pytest.raises(ValueError, match="'bald' needs posterior draws.*margin"):
        ActiveLearner(LogisticRegression(), "bald").fit(X, y)
    with pytest.raises(ValueError, match="'max_std' is for regressors"):
        ActiveLearner(LogisticRegression(), "max_std").fit(X, y)
    with pytest.raises(ValueError, match="needs a classifier.*max_std"):
        ActiveLearner(Ridge(), "margin").fit(X, y.astype(float))
    with pytest.raises(ValueError, match="y_pool"):
        simulate(learner, X, y[:-1], X, y, n_queries=1)
    with pytest.raises(ValueError, match="pool rows"):
        simulate(learner, X[:15], y[:15], X, y, n_queries=2)


@parametrize_with_checks(
    [
        ActiveLearner(LogisticRegression(), "margin"),
        ActiveLearner(_mlp(lr=0.01), "bald", n_samples=4, random_state=0),
        ActiveLearner(BayesianRidge(), "max_std"),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
