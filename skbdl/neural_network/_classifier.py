"""BayesianMLPClassifier."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from ..utils._math import entropy as _entropy
from ..utils._sklearn import _check_partial_fit_first_call, _fit_context
from ..utils._torch import to_numpy
from ._base import BaseBayesianMLP


class BayesianMLPClassifier(ClassifierMixin, BaseBayesianMLP):
    """Multi-layer perceptron classifier with a posterior over its weights.

    ``predict_proba`` is the posterior predictive (the Bayesian model
    average over weight draws), so the probabilities account for what the
    network does not know. ``predict_uncertainty`` splits the predictive
    entropy into aleatoric and epistemic parts. The inference method is a
    parameter: a name or an object from :mod:`skbdl.inference` whose own
    parameters are tunable as ``method__<param>``.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Widths of the hidden layers.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.
    method : str or inference object, default="map"
        ``"map"``, ``"laplace"``, ``"ensemble"``, ``"mc_dropout"`` (any key of
        ``skbdl.inference.METHODS``) or an instance such as
        ``skbdl.inference.Ensemble(n_members=5)``. The default is ``"map"``:
        on digits no tuned Laplace improved on its accuracy, NLL or OOD
        confidence (docs/benchmarks/RESULTS.md).
    prior : None, float, dict or prior object, default=None
        Prior over the weights. None is ``GaussianPrior(scale=1.0)``; a float
        is the scale of a Gaussian prior; a dict with keys among ``"input"``,
        ``"output_bias"`` and ``"default"`` is a ``LayerwisePrior``; or an
        object from :mod:`skbdl.priors`. For MAP training a Gaussian prior
        is weight decay. A method that cannot use the prior raises a
        ``ValueError`` at ``fit``.
    max_epochs : int, default=200
        Passes over the training data.
    batch_size : int or "auto", default="auto"
        Minibatch size (clipped to the number of rows). ``"auto"`` is
        ``min(64, max(8, n_rows // 10))``: 64 rows, but about ten batches per
        epoch on small data so that it gets enough optimizer steps.
    lr : float, default=1e-3
        Learning rate of the optimizer (Adam unless the method uses its own).
    n_samples : int, default=None
        Posterior draws used by the predictive; None uses the method's default.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and keep the weights of
        the epoch with the lowest validation loss (the mean held-out
        negative log-likelihood; see ``validation_scores_``).
    validation_fraction : float, default=0.1
        Fraction of rows held out when ``early_stopping``.
    n_iter_no_change : int, default=10
        Epochs without improvement before early stopping.
    device : str, default="cpu"
        Torch device for training and prediction.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, batch order and the predictive draws. The same
        value gives identical fits and predictions; skbdl never touches the
        global torch or numpy random state.
    verbose : int, default=0
        0 is silent; 1 prints one line per epoch and, with ``method="laplace"``,
        one line for the posterior step after training: the curvature, the
        weights it covers, the prior precision and how it was chosen
        (held-out NLL or marginal likelihood, and whether it sits on the edge
        of the search range), and its duration.
    warm_start : bool, default=False
        When True and the estimator is already fitted, ``fit`` starts from
        the previous fit's network weights instead of a fresh
        initialisation (every member's for ``"ensemble"``; the MAP stage
        of ``"laplace"``), with a fresh optimizer, as scikit-learn's MLP.
        ``loss_curve_`` and ``n_iter_`` then continue. The data must have
        the same number of features and the same classes, and the method and network the
        same shapes, else ``fit`` raises a ``ValueError``. Supported by
        ``"map"``, ``"laplace"``, ``"mc_dropout"`` and ``"ensemble"``; the
        other methods raise a ``ValueError`` with ``warm_start=True``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    method_ : inference object
        The fitted clone of ``method`` (it holds the posterior).
    loss_curve_ : list of float
        Training energy per epoch (divided by the number of rows).
    n_iter_ : int
        Number of epochs run.
    best_loss_ : float or None
        Lowest value of ``loss_curve_``; None with ``early_stopping`` (as
        scikit-learn's MLP).
    validation_scores_ : list of float or None
        With ``early_stopping``, per epoch: the mean log-likelihood of the
        held-out rows (weighted by ``sample_weight``, no prior term; higher
        is better) under the network trained so far, the quantity early
        stopping monitors. scikit-learn's MLP records the accuracy here. It is
        the trained network's (the MAP for Laplace, the mean weights for VI
        and IVON), not the posterior predictive's; for Ensemble the mean
        over members, up to the shortest member's run. None without early
        stopping, and for SGLD (its chains ignore the held-out rows).
    best_validation_score_ : float or None
        ``max(validation_scores_)``, the score of the epoch whose weights
        early stopping keeps; None when ``validation_scores_`` is None.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    feature_inclusion_ : ndarray of shape (n_features_in_,)
        Only with a spike-and-slab prior on the input layer: the posterior
        inclusion probability ``P(gamma_i = 1 | W)`` of each feature, at the
        trained weights for MAP and MC dropout, averaged over the members
        (Ensemble) or kept draws (SGLD).

    See Also
    --------
    BayesianMLPRegressor : The regression counterpart.
    sklearn.neural_network.MLPClassifier : The point-estimate MLP.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbdl import BayesianMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BayesianMLPClassifier(method="ensemble", random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).round(2).shape
    (1, 3)
    >>> sorted(clf.predict_uncertainty(X[:1]))
    ['aleatoric', 'epistemic', 'total']
    """

    _task = "classification"

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        activation="relu",
        method="map",
        prior=None,
        max_epochs=200,
        batch_size="auto",
        lr=1e-3,
        n_samples=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation=activation,
            method=method,
            prior=prior,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            n_samples=n_samples,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            device=device,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )

    def _encode_y(self, y, sample_weight=None):
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                "BayesianMLPClassifier needs samples of at least 2 classes in the "
                f"data; got 1 class: {self.classes_[0]!r}."
            )
        return encoder.transform(y)

    def _encode_y_warm(self, y, sample_weight=None):
        check_classification_targets(y)
        classes = np.unique(y)
        if not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start can only be used where `y` has the same classes as in "
                f"the previous call to fit. Previously got {self.classes_}, `y` has "
                f"{classes}. Set warm_start=False to fit the new classes from "
                f"scratch."
            )
        return np.searchsorted(self.classes_, y)

    def _encode_y_partial(self, y, sample_weight, classes, first):
        check_classification_targets(y)
        if first and classes is None:
            raise ValueError(
                "classes must be passed on the first call to "
                "BayesianMLPClassifier.partial_fit: the network's output layer has "
                "one unit per class, including classes absent from this chunk "
                "(e.g. classes=np.unique(y_all))."
            )
        if first:
            self.__dict__.pop("classes_", None)
        _check_partial_fit_first_call(self, classes)
        if len(self.classes_) < 2:
            raise ValueError(
                "BayesianMLPClassifier.partial_fit needs at least 2 classes; got "
                f"classes={self.classes_!r}."
            )
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has "
                f"{self.classes_}. 'y' has {np.unique(y)}."
            )
        return np.searchsorted(self.classes_, y)

    def _n_outputs(self):
        return len(self.classes_)

    @available_if(BaseBayesianMLP._supports_partial_fit)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one more epoch on ``(X, y)``, continuing the current fit.

        Only for a method with an incremental fit (``"map"``). Each call is
        one pass over the rows (``max_epochs`` is not used) in minibatches
        of ``batch_size``; the weights, Adam's state and the batch-order
        stream carry over from the previous call (or from ``fit``), so
        ``k`` calls on the same data give the network of ``fit`` with
        ``max_epochs=k``. The prior is scaled by the rows of this call
        (``N = len(X)``, or the sum of ``sample_weight``). Early stopping
        is not used, as in scikit-learn's MLP.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels, all among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem. Required on the first call (an
            unfitted estimator) and may be omitted on later calls, where it
            must equal ``classes_`` if given.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (see ``fit``).

        Returns
        -------
        self : object
            The estimator, trained one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from skbdl import BayesianMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = BayesianMLPClassifier(random_state=0)
        >>> for epoch in range(3):
        ...     clf = clf.partial_fit(X, y, classes=np.unique(y))
        >>> clf.n_iter_
        3
        """
        return self._partial_fit(X, y, sample_weight=sample_weight, classes=classes)

    def predict_proba(self, X):
        """Posterior predictive class probabilities (Bayesian model average).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Mean over posterior draws of the softmax, or the probit
            approximation when the method has a closed-form latent predictive.
        """
        X = self._validate_X(X)
        lik = self.method_.likelihood_
        if self._use_closed_form():
            proba = self._closed_form(X, lik.predict_closed)
        else:
            n_draws = self._n_draws(None)
            weights = self.method_.draw_weights(n_draws)
            proba = self._reduce_draws(
                X, n_draws, lambda f: lik.predict_draws(f, weights)
            )
        proba /= proba.sum(axis=1, keepdims=True)  # float64, in place
        return proba

    def predict(self, X):
        """Most probable class under the posterior predictive.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_proba_samples(self, X, n_samples=None):
        """Class probabilities under each posterior draw.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        n_samples : int, default=None
            Number of draws; None uses ``n_samples`` or the method's default.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes, n_draws)
            Softmax of each draw's logits; draws on the last axis.
        """
        X = self._validate_X(X)
        n_draws = self._n_draws(n_samples)
        lik = self.method_.likelihood_
        out = self._reduce_draws(
            X, n_draws, lambda f: to_numpy(lik.probabilities(f).permute(1, 2, 0))
        )
        out /= out.sum(axis=1, keepdims=True)  # float64, as predict_proba
        return out

    def predict_std(self, X, n_samples=None):
        """Standard deviation of the class probabilities over posterior draws.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        n_samples : int, default=None
            Number of draws; None uses ``n_samples`` or the method's default.

        Returns
        -------
        std : ndarray of shape (n_samples, n_classes)
            Spread of each class probability across draws (0 for MAP).
        """
        return self.predict_proba_samples(X, n_samples).std(axis=-1)

    def predict_uncertainty(self, X, n_samples=None):
        """Decompose the predictive entropy into aleatoric and epistemic parts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        n_samples : int, default=None
            Number of draws; None uses ``n_samples`` or the method's default.

        Returns
        -------
        uncertainty : Bunch
            ``total`` (entropy of the mean draw probabilities), ``aleatoric``
            (mean entropy of each draw) and ``epistemic`` (their difference,
            the mutual information between label and weights), each an
            ndarray of shape (n_samples,) in nats. All three come from the
            same draws, so ``total == aleatoric + epistemic``.
        """
        draws = self.predict_proba_samples(X, n_samples)
        total = _entropy(draws.mean(axis=-1))
        aleatoric = _entropy(draws, axis=1).mean(axis=-1)
        epistemic = np.maximum(total - aleatoric, 0.0)
        return Bunch(
            total=aleatoric + epistemic, aleatoric=aleatoric, epistemic=epistemic
        )

    def sample_prior_predictive(self, X, n_samples=100, random_state=None):
        """Class probabilities of networks drawn from the prior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        n_samples : int, default=100
            Number of prior draws.
        random_state : int, RandomState instance or None, default=None
            Seed of the prior draws.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes, n_draws)
            Softmax of each prior network's logits.
        """
        if not hasattr(self, "classes_"):
            raise NotFittedError(
                "BayesianMLPClassifier.sample_prior_predictive needs the number of "
                "classes, which fit learns from y: call fit first (the prior does "
                "not depend on the labels' values, only on their number)."
            )
        f = self._prior_draws(X, n_samples, random_state)
        return to_numpy(self._likelihood().probabilities(f).permute(1, 2, 0)).astype(
            np.float64
        )
