"""``ActiveLearner``: pool-based active learning as a scikit-learn meta-estimator."""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.utils import Bunch, check_array
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..utils._random import Seeds
from ..utils._sklearn import Interval, StrOptions, _fit_context, validate_data
from . import _strategies as S

# What each named strategy needs from the estimator, and how it scores.
_PROBA = {"least_confidence": S.least_confidence, "margin": S.margin,
          "entropy": S.entropy}  # fmt: skip
_DRAWS = {"bald": S.bald, "variation_ratios": S.variation_ratios}
_STOCHASTIC = {
    "power_bald": ("power", "bald"),
    "power_entropy": ("power", "entropy"),
    "softmax_bald": ("softmax", "bald"),
    "softmax_entropy": ("softmax", "entropy"),
}
STRATEGIES = (
    "random", *_PROBA, *_DRAWS, "batch_bald", *_STOCHASTIC, "max_std",
)  # fmt: skip
# Floats of predictive draws scored per pool chunk (16 MB of float64), and at
# most this many rows per chunk: the estimator's own working memory per row
# (hidden activations) is unknown here, so the row cap keeps it bounded too.
_CHUNK_FLOATS = 2_000_000
_CHUNK_ROWS = 16_384


def _estimator_has(name):
    def check(self):
        est = getattr(self, "estimator_", self.estimator)
        return hasattr(est, name)

    return check


class ActiveLearner(MetaEstimatorMixin, BaseEstimator):
    """Pool-based active learning around any scikit-learn estimator.

    ``fit`` trains a clone of ``estimator`` on the labelled seed set;
    ``query`` ranks the rows of an unlabelled pool and returns the indices
    to label next; ``teach`` adds the newly labelled rows and refits.
    ``predict``, ``predict_proba``, ``predict_uncertainty`` and ``score``
    are those of the fitted estimator. The verbs are modAL's, so a modAL
    loop runs unchanged.

    Parameters
    ----------
    estimator : estimator object
        Any scikit-learn classifier with ``predict_proba`` (a Pipeline
        too) for the uncertainty strategies; an skbdl estimator
        (``predict_proba_samples``) for the Bayesian ones; a regressor with
        ``predict(X, return_std=True)`` for ``"max_std"``.
    query_strategy : str or callable, default="bald"
        - ``"random"``: uniform.
        - ``"least_confidence"``, ``"margin"``, ``"entropy"``: from
          ``predict_proba``.
        - ``"bald"``, ``"variation_ratios"``: from posterior draws.
        - ``"batch_bald"``: greedy joint mutual information of the batch.
        - ``"power_bald"``, ``"power_entropy"``, ``"softmax_bald"``,
          ``"softmax_entropy"``: stochastic batch acquisition, rows sampled
          with weights ``score ** (1 / temperature)`` or
          ``exp(score / temperature)``.
        - ``"max_std"``: predictive standard deviation (regression).
        - a callable ``f(learner, X_pool, n_instances)`` returning indices
          (or ``(indices, scores)``).
    batch_size : int, default=10
        Rows returned by ``query`` when ``n_instances`` is not given.
    n_samples : int, default=None
        Posterior draws for the Bayesian strategies; None uses the
        estimator's default. BatchBALD wants more than BALD: what it adds,
        discounting rows that repeat what the batch already holds, is a
        small difference of small mutual informations when the draws
        disagree little, and Monte-Carlo error hides it with few draws. On
        Repeated digits (docs/benchmarks) BatchBALD beat top-k BALD at
        every round with 100 MC-dropout draws (the BatchBALD paper's
        number), not with 32.
    n_configurations : int, default=1000
        BatchBALD's budget of labellings of the batch (exact below it).
    n_candidates : int, default=1000
        BatchBALD picks among the rows with the highest BALD scores, at
        most this many, so its cost does not grow with the pool.
    temperature : float, default=1.0
        Temperature of the stochastic strategies.
    warm_start : bool, default=False
        ``teach`` refits from the current weights where the estimator has a
        ``warm_start`` parameter; from scratch otherwise (the default).
    random_state : int, RandomState instance or None, default=None
        Seeds ties, ``"random"``, BatchBALD's sampled labellings and the
        stochastic strategies; never changes the global RNG. None draws
        from numpy's global RNG, as scikit-learn does.

    Attributes
    ----------
    estimator_ : estimator
        The estimator fitted on every labelled row.
    X_training_ : ndarray of shape (n_labelled, n_features)
        The labelled rows so far.
    y_training_ : ndarray of shape (n_labelled,)
        Their labels.
    n_teach_ : int
        Number of ``teach`` calls since ``fit``.
    n_features_in_ : int
        Number of features.
    classes_ : ndarray
        Class labels (classifiers only).

    See Also
    --------
    skbdl.active_learning.simulate : Runs the whole labelling loop.
    skbdl.plotting.ActiveLearningCurveDisplay : Plots its learning curves.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbdl import ActiveLearner
    >>> X, y = load_iris(return_X_y=True)
    >>> seed = [0, 50, 100]
    >>> learner = ActiveLearner(LogisticRegression(), query_strategy="margin",
    ...                         batch_size=5, random_state=0)
    >>> learner = learner.fit(X[seed], y[seed])
    >>> idx = learner.query(X)
    >>> len(idx), learner.teach(X[idx], y[idx]).X_training_.shape
    (5, (8, 4))
    """

    _parameter_constraints = {
        "estimator": [object],
        "query_strategy": [StrOptions(set(STRATEGIES)), callable],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "n_configurations": [Interval(Integral, 1, None, closed="left")],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        query_strategy="bald",
        *,
        batch_size=10,
        n_samples=None,
        n_configurations=1000,
        n_candidates=1000,
        temperature=1.0,
        warm_start=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.batch_size = batch_size
        self.n_samples = n_samples
        self.n_configurations = n_configurations
        self.n_candidates = n_candidates
        self.temperature = temperature
        self.warm_start = warm_start
        self.random_state = random_state

    # ------------------------------------------------------------ training
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit a clone of ``estimator`` on the labelled seed set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Labelled rows.
        y : array-like of shape (n_samples,)
            Their labels or targets.

        Returns
        -------
        self : ActiveLearner
            The fitted learner.
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        self._check_strategy_fits_task()
        self._seeds = Seeds.from_random_state(self.random_state)
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.X_training_, self.y_training_ = np.array(X), np.array(y)
        self.n_teach_ = 0
        return self

    def teach(self, X, y):
        """Add newly labelled rows and refit on every labelled row.

        A failure (bad input, a fit that raises) leaves the learner as it
        was: its labelled set and fitted estimator are only replaced once
        the new fit has succeeded.

        Parameters
        ----------
        X : array-like of shape (n_new, n_features)
            The rows just labelled.
        y : array-like of shape (n_new,)
            Their labels.

        Returns
        -------
        self : ActiveLearner
            The refitted learner.
        """
        check_is_fitted(self)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], reset=False)
        X_all = np.concatenate([self.X_training_, X.astype(self.X_training_.dtype)])
        y_all = np.concatenate([self.y_training_, y])
        if self.warm_start:
            if "warm_start" not in self.estimator_.get_params():
                raise ValueError(
                    "warm_start=True needs an estimator with a 'warm_start' "
                    f"parameter; {type(self.estimator_).__name__} has none. "
                    "Use warm_start=False to refit from scratch."
                )
            # continue from a copy of the current fit, so a failure loses nothing
            estimator = copy.deepcopy(self.estimator_).set_params(warm_start=True)
        else:
            estimator = clone(self.estimator)
        estimator.fit(X_all, y_all)
        self.estimator_, self.X_training_, self.y_training_ = estimator, X_all, y_all
        self.n_teach_ += 1
        return self

    # -------------------------------------------------------------- query
    def query(self, X_pool, n_instances=None, return_scores=False):
        """Indices of the pool rows to label next.

        Parameters
        ----------
        X_pool : array-like of shape (n_pool, n_features)
            Unlabelled rows.
        n_instances : int, default=None
            Number of rows; None uses ``batch_size``.
        return_scores : bool, default=False
            Also return one score per pool row (for the batch strategies,
            the single-row score they start from: BALD or entropy).

        Returns
        -------
        indices : ndarray of shape (n_instances,)
            Row indices into ``X_pool``, best first.
        scores : ndarray of shape (n_pool,)
            Only when ``return_scores``.
        """
        check_is_fitted(self)
        X_pool = self._check_pool(X_pool)
        n = int(self.batch_size if n_instances is None else n_instances)
        if not 1 <= n <= len(X_pool):
            raise ValueError(
                f"n_instances={n_instances!r} is not between 1 and the pool size "
                f"({len(X_pool)})."
            )
        rng = np.random.default_rng(self._seeds.child(self.n_teach_).sequence)
        strategy = self.query_strategy
        if callable(strategy):
            out = strategy(self, X_pool, n)
            idx, scores = out if isinstance(out, tuple) else (out, None)
            idx = np.asarray(idx)
        elif strategy == "random":
            scores = rng.random(len(X_pool))
            idx = S.top_k(scores, n, rng)
        elif strategy == "batch_bald":
            scores = self._scores(X_pool, "bald")
            pool = S.top_k(scores, min(self.n_candidates, len(X_pool)), rng)
            if len(pool) < n:
                pool = S.top_k(scores, n, rng)
            draws = self._draws(X_pool[np.sort(pool)])
            picked, _ = S.batch_bald(
                draws, n, n_configurations=self.n_configurations, random_state=rng
            )
            idx = np.sort(pool)[picked]
        elif strategy in _STOCHASTIC:
            mode, base = _STOCHASTIC[strategy]
            scores = self._scores(X_pool, base)
            idx = S.stochastic_batch(
                scores, n, mode=mode, temperature=self.temperature, random_state=rng
            )
        else:
            scores = self._scores(X_pool, strategy)
            idx = S.top_k(scores, n, rng)
        return (idx, scores) if return_scores else idx

    def _check_pool(self, X_pool):
        X_pool = check_array(
            X_pool, dtype=[np.float64, np.float32], input_name="X_pool"
        )
        if X_pool.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X_pool has {X_pool.shape[1]} features, but the learner was "
                f"fitted with {self.n_features_in_}."
            )
        return X_pool

    def _check_strategy_fits_task(self):
        strategy = self.query_strategy
        if callable(strategy) or strategy == "random":
            return
        classifier = is_classifier(self.estimator)
        bayesian = (
            strategy in _DRAWS
            or strategy == "batch_bald"
            or (strategy in _STOCHASTIC and _STOCHASTIC[strategy][1] in _DRAWS)
        )
        if bayesian and not hasattr(self.estimator, "predict_proba_samples"):
            raise ValueError(
                f"query_strategy={strategy!r} needs posterior draws "
                "(predict_proba_samples), which "
                f"{type(self.estimator).__name__} does not have: use an skbdl "
                "estimator (BayesianMLPClassifier), or 'margin' / 'entropy' "
                "for any classifier with predict_proba."
            )
        if strategy == "max_std" and classifier:
            raise ValueError(
                "query_strategy='max_std' is for regressors; for a classifier "
                "use 'margin', 'entropy' or (skbdl estimators) 'bald'."
            )
        if strategy != "max_std" and not classifier:
            raise ValueError(
                f"query_strategy={strategy!r} needs a classifier; for a "
                "regressor with predict(X, return_std=True) use 'max_std'."
            )

    def _chunks(self, X_pool, floats_per_row):
        rows = min(_CHUNK_ROWS, max(1, _CHUNK_FLOATS // max(1, floats_per_row)))
        for start in range(0, len(X_pool), rows):
            yield start, X_pool[start : start + rows]

    def _draws(self, X):
        est = self.estimator_
        if not hasattr(est, "predict_proba_samples"):
            raise ValueError(
                f"query_strategy={self.query_strategy!r} needs posterior draws "
                f"(predict_proba_samples), which {type(est).__name__} does not "
                "have: use an skbdl estimator (BayesianMLPClassifier), or "
                "'margin' / 'entropy' for any classifier with predict_proba."
            )
        return est.predict_proba_samples(X, self.n_samples)

    def _scores(self, X_pool, name):
        """Scores of every pool row, computed in bounded chunks."""
        est = self.estimator_
        scores = np.empty(len(X_pool))
        if name == "max_std":
            for start, chunk in self._chunks(X_pool, 1):
                std = est.predict(chunk, return_std=True)[1]
                scores[start : start + len(chunk)] = S.max_std(std)
            return scores
        n_classes = len(getattr(est, "classes_", [0, 0]))
        if name in _DRAWS:
            n_draws = self.n_samples or 64
            self._draws(X_pool[:1])  # a clear error before any work
            for start, chunk in self._chunks(X_pool, n_classes * n_draws):
                scores[start : start + len(chunk)] = _DRAWS[name](self._draws(chunk))
            return scores
        if not hasattr(est, "predict_proba"):
            raise ValueError(
                f"query_strategy={name!r} needs predict_proba, which "
                f"{type(est).__name__} does not have."
            )
        for start, chunk in self._chunks(X_pool, n_classes):
            scores[start : start + len(chunk)] = _PROBA[name](est.predict_proba(chunk))
        return scores

    # --------------------------------------------------------- delegation
    @available_if(_estimator_has("predict"))
    def predict(self, X, **kwargs):
        """The fitted estimator's ``predict`` (e.g. ``return_std=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        **kwargs : dict
            Passed on, e.g. ``return_std=True`` for a regressor.

        Returns
        -------
        y_pred : ndarray or tuple of ndarray
            What the estimator returns.
        """
        check_is_fitted(self)
        return self.estimator_.predict(X, **kwargs)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """The fitted estimator's ``predict_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_proba_samples"))
    def predict_proba_samples(self, X, n_samples=None):
        """The fitted estimator's ``predict_proba_samples``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        n_samples : int, default=None
            Number of draws.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes, n_draws)
            Class probabilities under each draw.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba_samples(X, n_samples)

    @available_if(_estimator_has("predict_uncertainty"))
    def predict_uncertainty(self, X, **kwargs):
        """The fitted estimator's ``predict_uncertainty``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        **kwargs : dict
            Passed on (e.g. ``n_samples``).

        Returns
        -------
        uncertainty : Bunch
            What the estimator returns.
        """
        check_is_fitted(self)
        return self.estimator_.predict_uncertainty(X, **kwargs)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """The fitted estimator's ``score``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            True labels or targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            Accuracy for classifiers, R^2 for regressors (by default).
        """
        check_is_fitted(self)
        if sample_weight is None:
            return self.estimator_.score(X, y)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    @property
    def classes_(self):
        """Class labels of the fitted classifier."""
        check_is_fitted(self)
        return self.estimator_.classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags = inner.target_tags
        tags.input_tags.allow_nan = False
        return tags


def simulate(learner, X_pool, y_pool, X_test, y_test, *, n_queries, n_instances=None,
             scoring=None, verbose=0):  # fmt: skip
    """Run the labelling loop on a pool whose labels are known.

    The learner must already be fitted on its seed labels. Each round
    scores the test set, queries ``n_instances`` rows of what is left of the
    pool, "labels" them with ``y_pool`` and teaches them; the queried rows
    leave the pool.

    Parameters
    ----------
    learner : ActiveLearner
        A fitted learner (seed labels only).
    X_pool, y_pool : array-like of shape (n_pool, n_features), (n_pool,)
        The unlabelled pool and its hidden labels.
    X_test, y_test : array-like
        Held-out rows the learning curve is measured on.
    n_queries : int
        Number of query rounds.
    n_instances : int, default=None
        Rows per round; None uses ``learner.batch_size``.
    scoring : str or callable, default=None
        A scikit-learn scorer (name or callable ``scorer(estimator, X, y)``);
        None uses ``learner.score``.
    verbose : int, default=0
        Print one line per round when positive.

    Returns
    -------
    result : Bunch
        ``n_labels`` (n_queries + 1,), the labelled rows before each score;
        ``scores`` (n_queries + 1,), the test score after each round;
        ``queried`` (n_queries, n_instances), the indices into ``X_pool``
        labelled in each round.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbdl.active_learning import ActiveLearner, simulate
    >>> X, y = load_iris(return_X_y=True)
    >>> learner = ActiveLearner(LogisticRegression(), "entropy", batch_size=4,
    ...                         random_state=0).fit(X[[0, 50, 100]], y[[0, 50, 100]])
    >>> curve = simulate(learner, X, y, X, y, n_queries=3)
    >>> curve.n_labels
    array([ 3,  7, 11, 15])
    """
    check_is_fitted(learner)
    X_pool = check_array(X_pool, dtype=[np.float64, np.float32], input_name="X_pool")
    y_pool = np.asarray(y_pool)
    if len(y_pool) != len(X_pool):
        raise ValueError(f"X_pool has {len(X_pool)} rows but y_pool has {len(y_pool)}.")
    if not isinstance(n_queries, Integral) or n_queries < 0:
        raise ValueError(
            f"n_queries must be a non-negative integer; got {n_queries!r}."
        )
    n_instances = learner.batch_size if n_instances is None else int(n_instances)
    if n_queries * n_instances > len(X_pool):
        raise ValueError(
            f"{n_queries} rounds of {n_instances} rows need {n_queries * n_instances} "
            f"pool rows; the pool has {len(X_pool)}."
        )
    score = (
        (lambda: learner.score(X_test, y_test))
        if scoring is None
        else (lambda: check_scoring(learner.estimator_, scoring)(
            learner.estimator_, X_test, y_test))
    )  # fmt: skip
    remaining = np.arange(len(X_pool))
    n_labels, scores, queried = [len(learner.y_training_)], [score()], []
    for round_ in range(n_queries):
        picked = learner.query(X_pool[remaining], n_instances)
        rows = remaining[picked]
        learner.teach(X_pool[rows], y_pool[rows])
        remaining = np.delete(remaining, picked)
        queried.append(rows)
        n_labels.append(len(learner.y_training_))
        scores.append(score())
        if verbose:
            print(f"round {round_ + 1}/{n_queries}: {n_labels[-1]} labels, "
                  f"score {scores[-1]:.4f}")  # fmt: skip
    return Bunch(
        n_labels=np.array(n_labels),
        scores=np.array(scores),
        queried=np.array(queried, dtype=np.intp).reshape(n_queries, n_instances),
    )
