"""Numerically careful linear algebra shared by the GP estimators."""

import contextlib
import warnings

import numpy as np
import scipy.linalg
import torch
from threadpoolctl import ThreadpoolController

from ..utils._torch import GP_WORK_PER_THREAD, get_num_threads, torch_threads

_MAX_TRIES = 6
_BLAS = []  # lazily created threadpoolctl controller


class GPLinAlgError(np.linalg.LinAlgError):
    """A matrix that must be positive definite is not, even with jitter.

    A ``numpy.linalg.LinAlgError``, the error scikit-learn's
    ``GaussianProcessRegressor`` raises, and so also a ``ValueError`` (what
    skbdl raised before): either ``except`` clause catches it.
    """


def gp_num_threads(n):
    """Threads for GP linear algebra on ``n`` rows.

    An explicit count (``SKBDL_NUM_THREADS``, ``torch.set_num_threads``,
    ``OMP_NUM_THREADS``) wins; otherwise one thread per
    ``GP_WORK_PER_THREAD`` multiply-adds of the ``n x n`` Cholesky factor,
    so two from about 1500 rows and more on a machine with more cores. On a
    machine busy with other work, set ``SKBDL_NUM_THREADS=1``.
    """
    return get_num_threads(n**3 // 3, per_thread=GP_WORK_PER_THREAD)


@contextlib.contextmanager
def gp_threads(n):
    """Run a block with ``gp_num_threads(n)`` torch *and* SciPy BLAS threads.

    SciPy's OpenBLAS (``cholesky_inverse``) would otherwise use every core:
    on the shared 2-core machine two OpenBLAS threads made ``dpotri`` 10-15x
    slower than one while other processes were running.
    """
    n_threads = gp_num_threads(n)
    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    with torch_threads(n_threads), _BLAS[0].limit(limits=n_threads, user_api="blas"):
        yield


def _jitter_message(what, param, jitter):
    return (
        f"The kernel is not returning a positive definite {what}, even with "
        f"{jitter:.3g} added to its diagonal. Try gradually increasing the "
        f"'{param}' parameter of the estimator (e.g. alpha=1e-6 or more), or "
        "add a WhiteKernel to the kernel."
    )


def _warn_jitter(what, param, jitter):
    warnings.warn(
        f"Cholesky of {what} failed; succeeded after adding "
        f"{jitter:.3g} to its diagonal. Consider increasing the "
        f"'{param}' parameter.",
        RuntimeWarning,
        stacklevel=4,
    )


def cholesky(K, what="the kernel matrix", param="alpha", warn=True, jitter=True):
    """Lower Cholesky factor of the torch tensor ``K``, with jitter retries.

    Tries ``K`` as is, then adds ``jitter * mean(diag(K))`` to the diagonal
    with jitter = 1e-10, 1e-9, ... (at most ``_MAX_TRIES`` retries), warning
    when jitter was needed. Raises ``GPLinAlgError`` naming ``param`` when
    every try fails, or at once when ``jitter=False``.
    """
    L, info = torch.linalg.cholesky_ex(K)
    if int(info) == 0:
        return L
    if not jitter:
        raise GPLinAlgError(
            f"{int(info)}-th leading minor of {what} not positive definite"
        )
    scale = float(torch.diagonal(K).abs().mean()) or 1.0
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    for i in range(_MAX_TRIES):
        jitter = scale * 10.0 ** (-10 + i)
        L, info = torch.linalg.cholesky_ex(K + jitter * eye)
        if int(info) == 0:
            if warn:
                _warn_jitter(what, param, jitter)
            return L
    raise GPLinAlgError(_jitter_message(what, param, jitter))


def np_cholesky(K, what="the kernel matrix", param="alpha", jitter=True):
    """Lower Cholesky factor of the float64 ndarray ``K`` (LAPACK ``dpotrf``).

    The NumPy twin of :func:`cholesky`: with ``jitter=True`` the same
    growing-jitter retries and warning; with ``jitter=False`` a failure
    raises ``GPLinAlgError`` at once. ``K`` is not modified.
    """
    L, info = scipy.linalg.lapack.dpotrf(K, lower=1, clean=1, overwrite_a=0)
    if info == 0:
        return L
    if info < 0:  # pragma: no cover - an illegal argument, not K's values
        raise ValueError(f"LAPACK dpotrf: argument {-info} is illegal")
    if not jitter:
        raise GPLinAlgError(f"{info}-th leading minor of {what} not positive definite")
    scale = float(np.abs(np.diag(K)).mean()) or 1.0
    for i in range(_MAX_TRIES):
        jitter = scale * 10.0 ** (-10 + i)
        Kj = K.copy()
        Kj[np.diag_indices_from(Kj)] += jitter
        L, info = scipy.linalg.lapack.dpotrf(Kj, lower=1, clean=1, overwrite_a=1)
        if info == 0:
            _warn_jitter(what, param, jitter)
            return L
    raise GPLinAlgError(_jitter_message(what, param, jitter))


def np_cholesky_inverse(L):
    """K^-1 from the lower Cholesky factor ``L`` (ndarray) of K, symmetric."""
    inv, info = scipy.linalg.lapack.dpotri(L, lower=1)
    if info != 0:  # pragma: no cover - L comes from a successful Cholesky
        raise GPLinAlgError(f"LAPACK dpotri failed (info={info})")
    # dpotri fills the lower triangle; mirror it into the upper one.
    lower = np.tril(inv)
    return lower + np.tril(inv, -1).T


def clip_variance(var, warn=True):
    """Set negative predictive variances (ndarray) to 0, warning as
    scikit-learn does (a ``UserWarning`` with its message)."""
    negative = var < 0
    if negative.any():
        if warn:
            warnings.warn(
                "Predicted variances smaller than 0. Setting those variances to 0.",
                UserWarning,
                stacklevel=3,
            )
        var = np.where(negative, 0.0, var)
    return var


def sampling_factor(C):
    """A with A A^T = C for drawing from N(m, C): the Cholesky factor when
    C is positive definite, else U sqrt(max(w, 0)) from C = U diag(w) U^T.

    A predictive covariance is often singular to rounding (a low-rank
    kernel such as ``DotProduct() ** 2``, or test points at training
    inputs); the eigen-factor then draws from the nearest positive
    semi-definite matrix instead of failing. Warns when C has an
    eigenvalue below -1e-8 (1 + max |eigenvalue|), i.e. is indefinite beyond
    rounding, the tolerance numpy's ``multivariate_normal`` (scikit-learn's
    sampler) warns at.
    """
    C = np.asarray(C, dtype=np.float64)
    L, info = scipy.linalg.lapack.dpotrf(C, lower=1, clean=1, overwrite_a=0)
    if info == 0:
        return L
    w, U = np.linalg.eigh(C)
    if w[0] < -1e-8 * (1.0 + max(abs(w[-1]), abs(w[0]))):
        warnings.warn(
            "The predictive covariance is not positive semi-definite (smallest "
            f"eigenvalue {w[0]:.3g}, largest {w[-1]:.3g}); drawing from its "
            "nearest positive semi-definite matrix.",
            RuntimeWarning,
            stacklevel=3,
        )
    return U * np.sqrt(np.clip(w, 0.0, None))


def cholesky_inverse(L):
    """K^-1 from the lower Cholesky factor L of K (a new, symmetric tensor).

    On the CPU in float64 this calls LAPACK ``dpotri`` through SciPy: on the
    project machine SciPy's OpenBLAS ``dpotri`` was measured 1.7-2x faster
    than ``torch.cholesky_inverse`` (MKL) with one thread at n = 1000-2000
    (docs/benchmarks/RESULTS.md). Elsewhere ``torch.cholesky_inverse``.
    The caller bounds SciPy's BLAS threads (``gp_threads``).
    """
    if L.device.type != "cpu" or L.dtype != torch.float64 or L.requires_grad:
        return torch.cholesky_inverse(L)
    # C-ordered lower L is F-ordered upper U = L^T with K = U^T U.
    U = np.array(L.numpy().T, order="F", copy=True)
    inv, info = scipy.linalg.lapack.dpotri(U, lower=0, overwrite_c=1)
    if info != 0:  # pragma: no cover - L comes from a successful Cholesky
        return torch.cholesky_inverse(L)
    # dpotri fills the upper triangle (F order) = lower triangle (C order);
    # the other triangle keeps the zeros of L's upper triangle.
    lower = torch.from_numpy(inv.T)
    Kinv = lower + lower.T
    Kinv.diagonal().mul_(0.5)
    return Kinv
