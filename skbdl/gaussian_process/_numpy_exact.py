"""Exact GP on the scikit-learn kernel's own NumPy evaluation.

Used for kernels that cannot be compiled to torch (any ``Kernel`` subclass,
structured inputs, ``Matern`` with other ``nu``, ``PairwiseKernel``) and for
small training sets, where torch's per-operation overhead costs more than the
linear algebra (docs/benchmarks/RESULTS.md, "small n"). The kernel gives
``K`` and ``dK/dtheta`` through ``kernel(X, eval_gradient=True)``; the linear
algebra is LAPACK through SciPy (Rasmussen & Williams 2006, Alg. 2.1 and
eq. 5.9). ``Y`` is 2-D, shape (n, n_targets); ``alpha`` a vector of length n.
"""

import math

import numpy as np
import scipy.linalg

from ._kernels import with_theta
from ._linalg import np_cholesky, np_cholesky_inverse


def _factor(K, alpha):
    """K + diag(alpha) in place, then its lower Cholesky factor or None.

    K is symmetric, so its transpose (a Fortran-ordered view) is factored in
    place: no n x n copy (scikit-learn's ``cholesky`` makes one).
    """
    K[np.diag_indices_from(K)] += alpha
    L, info = scipy.linalg.lapack.dpotrf(K.T, lower=1, clean=1, overwrite_a=1)
    return L if info == 0 else None


def lml(kernel, X, Y, alpha, eval_gradient=False):
    """log p(Y | X) for the kernel's current theta; -inf if K is not PD.

    Returns ``np.float64`` and, with ``eval_gradient``, the gradient with
    respect to ``kernel.theta`` (ndarray of shape (n_theta,)).
    """
    if eval_gradient:
        K, dK = kernel(X, eval_gradient=True)
    else:
        K = kernel(X)
    L = _factor(np.asarray(K, dtype=np.float64), alpha)  # Alg. 2.1 line 2
    if L is None:
        value = np.float64(-np.inf)
        return (value, np.zeros(len(kernel.theta))) if eval_gradient else value
    a, _ = scipy.linalg.lapack.dpotrs(L, Y, lower=1)  # line 3
    n, t = Y.shape
    value = np.float64(
        -0.5 * np.vdot(Y, a)  # line 7, data fit
        - t * np.log(np.diag(L)).sum()  # line 7, complexity
        - 0.5 * n * t * math.log(2.0 * math.pi)
    )
    if not eval_gradient:
        return value
    # eq. 5.9: dL/dtheta_k = tr(W dK_k), W = (a a^T - t K^-1) / 2
    W = a @ a.T
    W -= t * np_cholesky_inverse(L)
    W *= 0.5
    grad = W.reshape(-1) @ np.reshape(dK, (n * n, -1))
    return value, grad


def make_objective(kernel, X, Y, alpha):
    """scikit-learn's ``obj_func(theta, eval_gradient=True)`` (-LML and its
    gradient) for ``kernel`` with its log-hyper-parameters set to theta."""

    def obj_func(theta, eval_gradient=True):
        out = lml(with_theta(kernel, theta), X, Y, alpha, eval_gradient)
        return (-out[0], -out[1]) if eval_gradient else -out

    return obj_func


def posterior(kernel, X, Y, alpha, jitter):
    """(L, alpha_) of Alg. 2.1 lines 2-3; see ``np_cholesky`` for ``jitter``."""
    K = np.array(kernel(X), dtype=np.float64)
    K[np.diag_indices_from(K)] += alpha
    L = np_cholesky(K, "kernel matrix K(X, X) + alpha", "alpha", jitter=jitter)
    weights, _ = scipy.linalg.lapack.dpotrs(L, Y, lower=1)
    return L, weights


def triangular_inverse(L):
    """L^-1 of a lower-triangular factor (LAPACK ``dtrtri``).

    ``predict`` multiplies by it instead of solving with L: one GEMM
    instead of a TRSM, measured 2-4x faster for 1000 query rows on
    n = 10-200 training rows, with the same accuracy (relative difference
    below 2e-15).
    """
    inv, info = scipy.linalg.lapack.dtrtri(L, lower=1)
    if info != 0:  # pragma: no cover - L comes from a successful Cholesky
        raise ValueError(f"LAPACK dtrtri failed (info={info})")
    return np.tril(inv)


def predict(kernel, X_train, L, weights, Xs, kind, L_inv=None):
    """Mean (n*, t) and, for ``kind`` "var" / "cov", the latent-plus-white
    variance (n*,) or covariance (n*, n*) (Alg. 2.1 lines 4-6)."""
    Ks = kernel(Xs, X_train)
    mean = Ks @ weights  # line 4
    if kind is None:
        return mean, None
    if L_inv is not None:
        V = L_inv @ Ks.T  # line 5
    else:
        V, _ = scipy.linalg.lapack.dtrtrs(L, Ks.T, lower=1)
    if kind == "cov":
        return mean, kernel(Xs) - V.T @ V  # line 6
    return mean, kernel.diag(Xs) - np.einsum("ij,ij->j", V, V)
