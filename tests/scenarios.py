"""Shared test scenarios whose answers are known (closed forms and fixed data sets).

Each generator is a pure function of its arguments and a seed and returns
NumPy arrays; none touches the global NumPy or torch random state. Except in
``digits_ood`` (which reproduces ``python -m skbdl``), inputs and targets are
float64 values that are exactly representable in float32, so a float32
network and a float64 oracle see the same numbers.

* Bayesian linear regression: ``linear_regression`` (data) and
  ``blr_posterior`` / ``blr_predictive`` / ``blr_log_evidence`` (the closed
  form the Laplace, last-layer, VI and SGLD tests compare with on a network
  without hidden layers).
* ``two_moons``: a small non-linear binary classification problem.
* ``gap_1d``: 1-D regression data in two clusters with an empty gap between
  them, for in-between uncertainty (Foong et al., 2019).
* ``digits_ood``: digits 0-4 to train on and digits 5-9 as out-of-distribution
  inputs, split as ``python -m skbdl`` splits them.

Import it as ``import scenarios`` (``tests/conftest.py`` puts ``tests/`` on
``sys.path``).
"""

import numpy as np
from sklearn.utils import Bunch


def _f32(a):
    """Round to float32 and return float64 (exact in both precisions)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# ------------------------------------------------ Bayesian linear regression
def linear_regression(n=40, weights=(1.0, -2.0, 0.5), bias=0.3, noise_std=0.4, seed=0):
    """Data from ``y = X w + b + eps``, ``X ~ N(0, I)``, ``eps ~ N(0, noise_std^2)``.

    Parameters
    ----------
    n : int
        Number of rows.
    weights : sequence of float of length d
        True weights ``w``; ``d`` is the number of features.
    bias : float
        True intercept ``b``.
    noise_std : float
        Standard deviation of the observation noise.
    seed : int
        Seed of a local ``numpy.random.RandomState``.

    Returns
    -------
    X : ndarray of shape (n, d)
        Inputs.
    y : ndarray of shape (n,)
        Targets.
    """
    rng = np.random.RandomState(seed)
    weights = np.asarray(weights, dtype=float)
    X = _f32(rng.randn(n, len(weights)))
    y = _f32(X @ weights + bias + noise_std * rng.randn(n))
    return X, y


def with_bias(X):
    """Features ``[X | 1]``, shape (n, d + 1): the bias is the last weight
    (skbdl's and laplace-torch's ``[W | b]`` convention)."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack([X, np.ones(len(X))])


def _prior_matrix(prior_precision, d):
    P = np.asarray(prior_precision, dtype=np.float64)
    return P * np.eye(d) if P.ndim == 0 else P


def blr_posterior(phi, y, prior_precision, noise_var):
    """Posterior of ``w`` in ``y = phi w + eps`` (Bishop, 2006, eq. 3.53-3.54).

    Prior ``w ~ N(0, P^-1)``, noise ``eps ~ N(0, noise_var I)``.

    Parameters
    ----------
    phi : ndarray of shape (n, d)
        Features (include a constant column for a bias).
    y : ndarray of shape (n,)
        Targets.
    prior_precision : float or ndarray of shape (d, d)
        ``P``: a float ``delta`` means ``delta I``.
    noise_var : float
        ``sigma^2``.

    Returns
    -------
    mean : ndarray of shape (d,)
        ``S phi^T y / sigma^2``.
    cov : ndarray of shape (d, d)
        ``S = (phi^T phi / sigma^2 + P)^-1``.
    """
    phi, y = np.asarray(phi, dtype=np.float64), np.asarray(y, dtype=np.float64)
    P = _prior_matrix(prior_precision, phi.shape[1])
    cov = np.linalg.inv(phi.T @ phi / noise_var + P)
    cov = 0.5 * (cov + cov.T)
    return cov @ phi.T @ y / noise_var, cov


def blr_predictive(phi_new, mean, cov, noise_var=0.0):
    """Predictive mean and variance at new rows.

    Parameters
    ----------
    phi_new : ndarray of shape (m, d)
        Features of the new rows.
    mean, cov : ndarray of shape (d,) and (d, d)
        The posterior from ``blr_posterior``.
    noise_var : float
        Added to the variance (0 gives the latent ``phi w`` variance).

    Returns
    -------
    mean : ndarray of shape (m,)
    var : ndarray of shape (m,)
    """
    phi_new = np.asarray(phi_new, dtype=np.float64)
    return phi_new @ mean, np.einsum("ni,ij,nj->n", phi_new, cov, phi_new) + noise_var


def blr_log_evidence(phi, y, prior_precision, noise_var):
    """``log N(y; 0, phi P^-1 phi^T + sigma^2 I)``, the log marginal likelihood.

    Computed in function space (the n x n marginal covariance of ``y``), not in
    weight space as Bishop's eq. 3.86 and skbdl do, so it is an independent
    check. For a scalar ``P = delta I``, ``prior_precision`` and ``noise_var``
    may be arrays that broadcast against each other (a grid); the value is then
    evaluated through the SVD ``phi = U diag(s) V^T``: the covariance has
    eigenvalues ``s_i^2 / delta + sigma^2`` along ``U`` and ``sigma^2`` on its
    orthogonal complement.

    Parameters
    ----------
    phi : ndarray of shape (n, d)
        Features.
    y : ndarray of shape (n,)
        Targets.
    prior_precision : float, ndarray of scalars, or ndarray of shape (d, d)
        ``delta`` (broadcast) or a full prior precision matrix ``P``.
    noise_var : float or ndarray
        ``sigma^2`` (broadcast with ``delta``; a float with a matrix ``P``).

    Returns
    -------
    log_evidence : float or ndarray
        Of the broadcast shape of ``prior_precision`` and ``noise_var``.
    """
    phi, y = np.asarray(phi, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n, d = phi.shape
    delta = np.asarray(prior_precision, dtype=np.float64)
    if delta.ndim == 2 and delta.shape == (d, d):
        C = phi @ np.linalg.solve(delta, phi.T) + noise_var * np.eye(n)
        L = np.linalg.cholesky(C)
        z = np.linalg.solve(L, y)
        return float(-0.5 * (n * np.log(2 * np.pi) + z @ z) - np.log(np.diag(L)).sum())
    U, s, _ = np.linalg.svd(phi, full_matrices=False)
    proj = U.T @ y
    rest = y @ y - proj @ proj  # the part of y orthogonal to phi's columns
    delta, noise_var = np.broadcast_arrays(delta, np.asarray(noise_var, dtype=float))
    eig = s**2 / delta[..., None] + noise_var[..., None]
    quad = (proj**2 / eig).sum(-1) + rest / noise_var
    log_det = np.log(eig).sum(-1) + (n - len(s)) * np.log(noise_var)
    out = -0.5 * (n * np.log(2 * np.pi) + log_det + quad)
    return float(out) if out.ndim == 0 else out


# ------------------------------------------------------------ classification
def two_moons(n=100, noise=0.1, seed=0):
    """Two interleaving half circles (``sklearn.datasets.make_moons``).

    Parameters
    ----------
    n : int
        Number of rows (half of them in each class).
    noise : float
        Standard deviation of the Gaussian noise added to the points.
    seed : int
        ``random_state`` of ``make_moons``.

    Returns
    -------
    X : ndarray of shape (n, 2)
        Points in about [-1, 2] x [-0.5, 1].
    y : ndarray of shape (n,)
        Class labels 0 and 1.
    """
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return _f32(X), y


# ------------------------------------------------------- in-between regression
def gap_1d(n=40, noise_std=0.1, seed=0):
    """1-D regression in two clusters with an empty gap between them.

    ``x`` is uniform on [-2, -1] (half the rows) and [1, 2] (the other half);
    ``y = sin(1.5 x) + eps``. A Bayesian model should be more uncertain in the
    gap (-1, 1) than on the clusters; Foong et al. (2019) show that some
    approximations (mean-field VI, and Laplace with some structures) are not.

    Parameters
    ----------
    n : int
        Number of training rows (even).
    noise_std : float
        Standard deviation of ``eps``.
    seed : int
        Seed of a local ``numpy.random.RandomState``.

    Returns
    -------
    scenario : Bunch
        ``X`` (n, 1) and ``y`` (n,), the training data; ``X_gap`` (5, 1),
        points in the gap, -0.5 to 0.5; ``X_clusters`` (4, 1), points inside
        the clusters, -1.75, -1.25, 1.25 and 1.75.
    """
    rng = np.random.RandomState(seed)
    half = n // 2
    x = np.concatenate([rng.uniform(-2, -1, half), rng.uniform(1, 2, n - half)])
    y = np.sin(1.5 * x) + noise_std * rng.randn(n)
    return Bunch(X=_f32(x[:, None]), y=_f32(y),
                 X_gap=_f32(np.linspace(-0.5, 0.5, 5)[:, None]),
                 X_clusters=_f32(np.array([[-1.75], [-1.25], [1.25], [1.75]])))


# ------------------------------------------------------------------- digits
def digits_ood(test_size=0.3, seed=0):
    """Digits: train on classes 0-4; classes 5-9 are out of distribution.

    The split is the one of ``python -m skbdl``: all 1797 digits are split
    70/30, stratified, with ``random_state=seed``; a ``StandardScaler`` is
    fitted on the training rows of all ten classes; the in-distribution
    model sees the training rows of classes 0-4.

    Parameters
    ----------
    test_size : float
        Share of the rows held out for testing.
    seed : int
        ``random_state`` of ``train_test_split``.

    Returns
    -------
    scenario : Bunch
        ``X_train`` (n_train, 64) and ``y_train`` (n_train,), digits 0-4 of
        the training split; ``X_test`` (n_test, 64) and ``y_test`` (n_test,),
        digits 0-4 of the test split; ``X_ood`` (n_ood, 64), digits 5-9 of
        the test split; ``y_ood`` (n_ood,), their labels; and the whole
        ten-class split, ``X_train_all`` (1257, 64), ``y_train_all``,
        ``X_test_all`` (540, 64), ``y_test_all``. Features are standardised.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, stratify=y,
                                              random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    known_tr, known_te = y_tr < 5, y_te < 5
    return Bunch(X_train=X_tr[known_tr], y_train=y_tr[known_tr],
                 X_test=X_te[known_te], y_test=y_te[known_te],
                 X_ood=X_te[~known_te], y_ood=y_te[~known_te],
                 X_train_all=X_tr, y_train_all=y_tr, X_test_all=X_te, y_test_all=y_te)
