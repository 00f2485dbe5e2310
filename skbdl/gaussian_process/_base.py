"""Prediction API shared by GPRegressor and DeepKernelRegressor."""

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._linalg import clip_variance, sampling_factor


def _as_numpy(a):
    """A torch tensor (detached, on the CPU) or an array-like as ndarray."""
    if a is None or isinstance(a, np.ndarray):
        return a
    if torch.is_tensor(a):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _unnormalize(mean, var_or_cov, y_mean, y_std):
    """Undo target normalisation; squeeze the target axis when single."""
    mean = mean * y_std + y_mean
    if var_or_cov is not None:
        var_or_cov = var_or_cov[..., None] * y_std**2
        if var_or_cov.shape[-1] == 1:
            var_or_cov = var_or_cov[..., 0]
    if mean.shape[1] == 1:
        mean = mean[:, 0]
    return mean, var_or_cov


class GPPredictMixin:
    """``predict`` / ``predict_std`` / ``sample_y`` on top of ``_latent``.

    Subclasses implement ``_latent(X, kind)`` returning torch tensors or
    ndarrays in normalised units: the mean (n, t) and, for kind "var", the variance (n,)
    or, for kind "cov", the covariance (n, n); and ``_validate_predict(X)``.
    """

    def predict(self, X, return_std=False, return_cov=False):
        """Predict with the Gaussian process posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.
        return_std : bool, default=False
            Also return the predictive standard deviation.
        return_cov : bool, default=False
            Also return the joint predictive covariance. At most one of
            ``return_std`` and ``return_cov`` may be True.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictive mean.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_targets), optional
            Predictive standard deviation (only when ``return_std``).
        y_cov : ndarray of shape (n_samples, n_samples) or \
                (n_samples, n_samples, n_targets), optional
            Predictive covariance (only when ``return_cov``).
        """
        if return_std and return_cov:
            raise RuntimeError(
                "At most one of return_std or return_cov can be requested."
            )
        X = self._validate_predict(X)
        prior = self._predict_prior(X, return_std, return_cov)
        if prior is not None:
            return prior
        kind = "cov" if return_cov else ("var" if return_std else None)
        mean, spread = self._latent(X, kind)
        mean, spread = _as_numpy(mean), _as_numpy(spread)
        if kind == "var":
            spread = clip_variance(spread)
        mean, spread = _unnormalize(mean, spread, self._y_train_mean, self._y_train_std)
        if kind is None:
            return mean
        return mean, (np.sqrt(spread) if kind == "var" else spread)

    def _predict_prior(self, X, return_std, return_cov):
        """Predictions of an unfitted model (None when fitted)."""
        return None

    def predict_std(self, X):
        """Predictive standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.

        Returns
        -------
        y_std : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Standard deviation of the predictive distribution.
        """
        return self.predict(X, return_std=True)[1]

    def sample_y(self, X, n_samples=1, random_state=0):
        """Draw joint samples from the predictive distribution at X.

        Before ``fit`` the draws come from the GP prior, as in scikit-learn.
        Each target's draws are ``mean + A z`` with ``A A^T`` the predictive
        covariance (its Cholesky factor, or an eigen-factor when it is
        singular, see Notes) and ``z`` standard normal, drawn target by
        target with shape (n_samples, n_samples_X) as numpy's
        ``multivariate_normal`` does, so the draws of target 0 do not depend
        on the number of targets.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features) or list of object
            Query points.
        n_samples : int, default=1
            Number of draws per query point.
        random_state : int, RandomState instance or None, default=0
            Seed of the draws; None uses numpy's global RNG.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples) or \
                (n_samples_X, n_targets, n_samples)
            Draws, on the last axis.

        Notes
        -----
        A covariance that is singular to rounding (``DotProduct() ** 2``,
        query points at training inputs) is factored as
        ``U sqrt(max(w, 0))`` from its eigen-decomposition, i.e. the draws
        come from the nearest positive semi-definite covariance.
        """
        rng = check_random_state(random_state)
        mean, cov = self.predict(X, return_cov=True)
        n = mean.shape[0]
        if mean.ndim == 1:
            A = sampling_factor(cov)
            return mean[:, None] + A @ rng.standard_normal((n_samples, n)).T
        # The targets share one latent covariance, scaled by each target's
        # normalisation variance (1 for the prior and without normalize_y).
        scale = np.broadcast_to(
            getattr(self, "_y_train_std", 1.0), (mean.shape[1],)
        ).astype(np.float64)
        A = sampling_factor(cov[..., 0] / scale[0] ** 2)
        draws = np.empty((n, mean.shape[1], n_samples))
        for t in range(mean.shape[1]):
            z = rng.standard_normal((n_samples, n))
            draws[:, t] = mean[:, t, None] + scale[t] * (A @ z.T)
        return draws
