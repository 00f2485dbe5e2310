"""BayesianMLPRegressor."""

import numpy as np
import torch
from scipy.stats import norm
from sklearn.base import RegressorMixin
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import available_if

from .._nn import MIN_NOISE_VAR
from ..inference import Laplace
from ..utils._math import heldout_noise_var
from ..utils._random import Seeds
from ..utils._sklearn import StrOptions, _fit_context
from ..utils._torch import to_numpy
from ._base import BaseBayesianMLP

#: Held-out rows below which ``noise_estimate="holdout"`` keeps the
#: training-residual noise (as Laplace's held-out noise tuning does).
MIN_HELD_OUT_FOR_NOISE = 20


class BayesianMLPRegressor(RegressorMixin, BaseBayesianMLP):
    """Multi-layer perceptron regressor with a posterior over its weights.

    The predictive combines the epistemic spread of the network over
    posterior draws with the learned observation noise (aleatoric), so
    ``predict(X, return_std=True)`` returns the standard deviation of
    ``y`` itself, as scikit-learn's ``GaussianProcessRegressor`` does.
    Targets are standardised internally and predictions are mapped back.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Widths of the hidden layers.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.
    method : str or inference object, default="laplace"
        ``"laplace"``, ``"map"``, ``"ensemble"``, ``"mc_dropout"`` (any key of
        ``skbdl.inference.METHODS``) or an instance of one of those classes.
        The default, ``Laplace()``, trains the network on 90 % of the rows
        and puts exact Bayesian linear regression (with
        ``heteroscedastic=False``) on its last hidden layer's features, the
        prior precision chosen on the other 10 % and the noise too when
        that is at least 20 rows (else by the marginal likelihood; below 5
        rows nothing is held out). On diabetes, Friedman #1 and a sinusoid
        it had a lower test NLL, and 90 % intervals closer to 90 % coverage,
        than ``"map"`` (docs/benchmarks/RESULTS.md).
    prior : None, float, dict or prior object, default=None
        Prior over the weights. None is ``GaussianPrior(scale=1.0)``; a float
        is the scale of a Gaussian prior; a dict with keys among ``"input"``,
        ``"output_bias"`` and ``"default"`` is a ``LayerwisePrior``; or an
        object from :mod:`skbdl.priors`. For MAP training a Gaussian prior
        is weight decay. A method that cannot use the prior raises a
        ``ValueError`` at ``fit``.
    heteroscedastic : bool, default=False
        If True the network outputs a log noise variance per row; otherwise
        one noise variance is learned for all rows.
    noise_estimate : {"holdout", "train"}, default="holdout"
        Where the homoscedastic noise variance comes from. ``"holdout"``:
        train on all but ``validation_fraction`` of the rows (the
        early-stopping rows when ``early_stopping``), then set the noise to
        the variance that maximises the Gaussian likelihood of the held-out
        rows given the predictive mean and epistemic variance. ``"train"``:
        the training residuals (refit after every epoch), which a network
        that fits its training rows closely makes too small, so intervals
        are too narrow (on diabetes and Friedman #1, 95 % intervals of MAP
        covered 73 % and 9 % of the test rows with ``"train"``, 93 % and
        95 % with ``"holdout"``, at the same R^2; docs/benchmarks/RESULTS.md,
        "Defaults: regression intervals"). ``"holdout"`` acts as
        ``"train"`` with fewer than 20 held-out rows (fewer than 200 rows at
        the default ``validation_fraction``), with ``heteroscedastic=True``
        (the network predicts the noise) and with Laplace, which chooses its
        noise on held-out rows already.
    max_epochs : int, default=200
        Passes over the training data.
    batch_size : int or "auto", default="auto"
        Minibatch size (clipped to the number of rows). ``"auto"`` is
        ``min(64, max(8, n_rows // 10))``: 64 rows, but about ten batches per
        epoch on small data so that it gets enough optimizer steps.
    lr : float, default=1e-3
        Learning rate of the optimizer.
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
        Torch device.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, batch order and the predictive draws.
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
        the same number of features, and the method and network the
        same shapes, else ``fit`` raises a ``ValueError``. Supported by
        ``"map"``, ``"laplace"``, ``"mc_dropout"`` and ``"ensemble"``; the
        other methods raise a ``ValueError`` with ``warm_start=True``.

    Attributes
    ----------
    method_ : inference object
        The fitted clone of ``method``.
    loss_curve_ : list of float
        Training energy per epoch (standardised-target units).
    n_iter_ : int
        Number of epochs run.
    best_loss_ : float or None
        Lowest value of ``loss_curve_``; None with ``early_stopping`` (as
        scikit-learn's MLP).
    validation_scores_ : list of float or None
        With ``early_stopping``, per epoch: the mean log-likelihood of the
        held-out rows (weighted by ``sample_weight``, no prior term; higher
        is better) under the network trained so far, the quantity early
        stopping monitors. scikit-learn's MLP records R^2 here. It is
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
    BayesianMLPClassifier : The classification counterpart.
    skbdl.GPRegressor : Exact and sparse Gaussian processes.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl import BayesianMLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(100, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.randn(100)
    >>> reg = BayesianMLPRegressor(method="ensemble", random_state=0).fit(X, y)
    >>> mean, std = reg.predict(X[:3], return_std=True)
    >>> mean.shape, std.shape
    ((3,), (3,))
    """

    _task = "regression"
    _parameter_constraints = {
        **BaseBayesianMLP._parameter_constraints,
        "heteroscedastic": ["boolean"],
        "noise_estimate": [StrOptions({"train", "holdout"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        activation="relu",
        method="laplace",
        prior=None,
        heteroscedastic=False,
        noise_estimate="holdout",
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
        self.heteroscedastic = heteroscedastic
        self.noise_estimate = noise_estimate

    def _noise_from_held_out(self, n_rows):
        """Whether ``noise_estimate="holdout"`` applies to this fit."""
        n_valid = max(1, int(round(self.validation_fraction * n_rows)))
        return (self.noise_estimate == "holdout" and not self.heteroscedastic
                and not isinstance(self._resolve_method(), Laplace)
                and n_valid >= MIN_HELD_OUT_FOR_NOISE)

    def _holds_out_for_noise(self, n_rows):
        self._noise_holdout = self._noise_from_held_out(n_rows)
        return self._noise_holdout

    def _after_method_fit(self, held_out):
        if held_out is None or not self.__dict__.pop("_noise_holdout", False):
            return
        X, y = to_numpy(held_out[0]), to_numpy(held_out[1])
        weights = None if len(held_out) < 3 else to_numpy(held_out[2])
        v = self._variances(X)
        noise = heldout_noise_var(y, v[:, 0], v[:, 1], weights, floor=MIN_NOISE_VAR)
        self.method_.likelihood_.set_noise_var(noise)

    def _encode_y(self, y, sample_weight=None):
        if y.dtype.kind not in "biuf":
            raise ValueError(
                f"{type(self).__name__} needs numeric targets y; got an array of "
                f"dtype {y.dtype}. Convert y with y.astype(float), or use "
                f"BayesianMLPClassifier for class labels."
            )
        if sample_weight is None:
            self._y_mean = float(np.mean(y))
            std = float(np.std(y))
        else:  # the moments of the data with rows repeated by their weights
            self._y_mean = float(np.average(y, weights=sample_weight))
            std = float(np.sqrt(np.average((y - self._y_mean) ** 2,
                                           weights=sample_weight)))
        self._y_std = std if std > 0 else 1.0
        return (y - self._y_mean) / self._y_std

    def _encode_y_warm(self, y, sample_weight=None):
        return self._encode_y(y, sample_weight)

    def _encode_y_partial(self, y, sample_weight, classes, first):
        """The first call sets the target standardisation; later calls keep it."""
        if first:
            return self._encode_y(y, sample_weight)
        if y.dtype.kind not in "biuf":
            return self._encode_y(y, sample_weight)  # raises the dtype error
        return (y - self._y_mean) / self._y_std

    def _n_outputs(self):
        return 1

    @available_if(BaseBayesianMLP._supports_partial_fit)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one more epoch on ``(X, y)``, continuing the current fit.

        Only for a method with an incremental fit (``"map"``). Each call is
        one pass over the rows (``max_epochs`` is not used) in minibatches
        of ``batch_size``; the weights, Adam's state, the batch-order
        stream and the noise carry over from the previous call (or from
        ``fit``), so ``k`` calls on the same data give the network of
        ``fit`` with ``max_epochs=k``. The targets are standardised with
        the mean and standard deviation of the first call's (or ``fit``'s)
        ``y``. The prior is scaled by the rows of this call (``N =
        len(X)``, or the sum of ``sample_weight``). Early stopping is not
        used, as in scikit-learn's MLP.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Real-valued targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (see ``fit``).

        Returns
        -------
        self : object
            The estimator, trained one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from skbdl import BayesianMLPRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-3, 3, size=(100, 1))
        >>> y = np.sin(X[:, 0]) + 0.1 * rng.randn(100)
        >>> reg = BayesianMLPRegressor(method="map", random_state=0)
        >>> for epoch in range(3):
        ...     reg = reg.partial_fit(X, y)
        >>> reg.n_iter_, reg.predict(X[:2]).shape
        (3, (2,))
        """
        return self._partial_fit(X, y, sample_weight=sample_weight)

    def _variances(self, X):
        """(mean, epistemic var, aleatoric var) in standardised units, (n, 3)."""
        X = self._validate_X(X)
        lik = self.method_.likelihood_
        if self._use_closed_form():
            return self._closed_form(X, lik.predict_closed)
        n_draws = self._n_draws(None)
        weights = self.method_.draw_weights(n_draws)
        return self._reduce_draws(X, n_draws, lambda f: lik.predict_draws(f, weights))

    def predict(self, X, return_std=False):
        """Predictive mean, and optionally the predictive standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        return_std : bool, default=False
            Also return the standard deviation of ``y`` (epistemic spread plus
            observation noise).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
            Predictive mean.
        y_std : ndarray of shape (n_samples,)
            Predictive standard deviation; only when ``return_std``.
        """
        m = self._variances(X)
        mean = m[:, 0] * self._y_std + self._y_mean
        if not return_std:
            return mean
        return mean, np.sqrt(m[:, 1] + m[:, 2]) * self._y_std

    def predict_std(self, X):
        """Predictive standard deviation of ``y`` (noise included).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_std : ndarray of shape (n_samples,)
            Standard deviation of the predictive distribution.
        """
        return self.predict(X, return_std=True)[1]

    def predict_uncertainty(self, X):
        """Split the predictive variance into aleatoric and epistemic parts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        uncertainty : Bunch
            ``aleatoric`` (expected observation-noise variance),
            ``epistemic`` (variance of the predictive mean over the
            posterior) and ``total`` (their sum), each an ndarray of shape
            (n_samples,) in squared target units.
        """
        m = self._variances(X) * self._y_std**2
        return Bunch(total=m[:, 1] + m[:, 2], aleatoric=m[:, 2], epistemic=m[:, 1])

    def predict_interval(self, X, confidence=0.95):
        """Central predictive interval from the Gaussian predictive moments.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        confidence : float, default=0.95
            Probability mass inside the interval, in (0, 1).

        Returns
        -------
        interval : ndarray of shape (n_samples, 2)
            Lower and upper bounds, ``mean -+ z * std``.
        """
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
        mean, std = self.predict(X, return_std=True)
        z = norm.ppf(0.5 + confidence / 2)
        return np.column_stack([mean - z * std, mean + z * std])

    def sample_y(self, X, n_samples=1, random_state=0):
        """Draw targets from the posterior predictive.

        Each draw takes one posterior function and adds observation noise.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Inputs.
        n_samples : int, default=1
            Number of draws.
        random_state : int, RandomState instance or None, default=0
            Seed of the draws (as in ``GaussianProcessRegressor.sample_y``).

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples)
            Draws on the last axis.
        """
        X = self._validate_X(X)
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer; got {n_samples!r}."
            )
        seeds = Seeds.from_random_state(random_state)
        seed = seeds.seed("predict")
        # The noise for all rows is drawn at once, so the draws do not depend
        # on how the rows are chunked (a stream of per-chunk draws did).
        eps = torch.randn((int(n_samples), len(X)), generator=seeds.generator("noise"))
        start = [0]
        lik = self.method_.likelihood_

        def draw(f):
            rows = eps[:, start[0] : start[0] + f.shape[1]].to(f.device)
            start[0] += f.shape[1]
            return to_numpy(lik.sample_y(f, rows).T)

        y = self._reduce_draws(X, int(n_samples), draw, seed=seed)
        return y * self._y_std + self._y_mean

    def sample_prior_predictive(self, X, n_samples=100, random_state=None):
        """Latent functions drawn from the prior, on the target scale.

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
        f : ndarray of shape (n_samples, n_draws)
            Prior draws of the network's mean output, mapped to the scale of
            the training targets once fitted (standardised units before fit).
        """
        f = self._prior_draws(X, n_samples, random_state)
        scale, shift = getattr(self, "_y_std", 1.0), getattr(self, "_y_mean", 0.0)
        return to_numpy(f[..., 0].T).astype(np.float64) * scale + shift
