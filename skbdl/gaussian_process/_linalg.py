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


def cholesky(K, what="the kernel matrix", param="alpha", warn=True):
    """Lower Cholesky factor of ``K`` with growing-jitter retries.

    Tries ``K`` as is, then adds ``jitter * mean(diag(K))`` to the diagonal
    with jitter = 1e-10, 1e-9, ... (at most ``_MAX_TRIES`` retries), warning
    when jitter was needed. Raises ``ValueError`` naming ``param`` when every
    try fails.
    """
    L, info = torch.linalg.cholesky_ex(K)
    if int(info) == 0:
        return L
    scale = float(torch.diagonal(K).abs().mean()) or 1.0
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    for i in range(_MAX_TRIES):
        jitter = scale * 10.0 ** (-10 + i)
        L, info = torch.linalg.cholesky_ex(K + jitter * eye)
        if int(info) == 0:
            if warn:
                warnings.warn(
                    f"Cholesky of {what} failed; succeeded after adding "
                    f"{jitter:.3g} to its diagonal. Consider increasing the "
                    f"'{param}' parameter.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return L
    raise ValueError(
        f"The kernel is not returning a positive definite {what}, even with "
        f"{jitter:.3g} added to its diagonal. Try gradually increasing the "
        f"'{param}' parameter of the estimator (e.g. alpha=1e-6 or more), or "
        "add a WhiteKernel to the kernel."
    )


def clip_variance(var, warn=True):
    """Set negative predictive variances to 0, warning as scikit-learn does
    (a ``UserWarning`` with its message)."""
    negative = var < 0
    if bool(negative.any()):
        if warn:
            warnings.warn(
                "Predicted variances smaller than 0. Setting those variances to 0.",
                UserWarning,
                stacklevel=3,
            )
        var = torch.where(negative, torch.zeros_like(var), var)
    return var


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
