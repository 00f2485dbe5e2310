"""Numerically careful linear algebra shared by the GP estimators."""

import warnings

import torch

_MAX_TRIES = 6


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
    """Set negative predictive variances to 0, warning as scikit-learn does."""
    negative = var < 0
    if bool(negative.any()):
        if warn:
            warnings.warn(
                "Predicted variances smaller than 0. Setting those variances to 0.",
                RuntimeWarning,
                stacklevel=3,
            )
        var = torch.where(negative, torch.zeros_like(var), var)
    return var
