"""Formulas shared by the likelihoods, the Gaussian processes and the metrics.

Each works on numpy arrays and on torch tensors alike.
"""

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar

LOG_2PI = math.log(2.0 * math.pi)


def _log(x):
    return torch.log(x) if isinstance(x, torch.Tensor) else np.log(x)


def _exp(x):
    return torch.exp(x) if isinstance(x, torch.Tensor) else np.exp(x)


def gaussian_nll(y, mean, var=None, *, log_var=None):
    """Elementwise ``-log N(y; mean, var)``.

    Give either ``var`` or ``log_var``; the log-variance form never divides
    by a variance that has underflowed to zero.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.utils._math import gaussian_nll
    >>> float(np.round(gaussian_nll(np.array(1.0), 0.0, 1.0), 4))
    1.4189
    """
    if log_var is not None:
        return 0.5 * (log_var + (y - mean) ** 2 * _exp(-log_var) + LOG_2PI)
    return 0.5 * (_log(2.0 * math.pi * var) + (y - mean) ** 2 / var)


def probit_scale(mean, var):
    """``mean / sqrt(1 + pi var / 8)``: the probit approximation's scaling.

    ``softmax(probit_scale(m, v))`` approximates ``E[softmax(f)]`` for
    ``f ~ N(m, diag(v))`` (MacKay, 1992).
    """
    root = torch.sqrt if isinstance(var, torch.Tensor) else np.sqrt
    return mean / root(1.0 + math.pi / 8.0 * var)


def entropy(p, axis=-1):
    """Shannon entropy in nats of the probabilities ``p`` along ``axis``.

    ``0 log 0`` counts as 0 (numpy arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.utils._math import entropy
    >>> float(np.round(entropy(np.array([0.5, 0.5, 0.0])), 4))
    0.6931
    """
    p = np.asarray(p)
    return 0.0 - (p * np.log(np.clip(p, 1e-300, None))).sum(axis=axis)


def heldout_noise_var(y, mean, epistemic_var, weights=None, floor=1e-4):
    """The noise variance that maximises the held-out Gaussian likelihood.

    Maximises ``sum_i w_i log N(y_i; mean_i, epistemic_var_i + s)`` over
    ``s >= floor``: the closed form ``mean((y - mean)^2)`` when the
    epistemic variance is zero, else a bounded 1-D search on ``log s``.
    The neural regressors pass their noise floor (``MIN_NOISE_VAR``);
    ``DeepKernelRegressor`` uses it for the noise its GP leaves unexplained.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.utils._math import heldout_noise_var
    >>> float(heldout_noise_var(np.array([1.0, -1.0]), np.zeros(2), np.zeros(2)))
    1.0
    """
    w = np.ones_like(y) if weights is None else np.asarray(weights, float)
    sq = (y - mean) ** 2
    if not np.any(epistemic_var > 0):
        return max(float(np.average(sq, weights=w)), floor)

    def objective(log_s):
        total = epistemic_var + np.exp(log_s)
        return float(np.average(np.log(total) + sq / total, weights=w))

    top = np.log(max(float(np.average(sq, weights=w)), floor)) + 1.0
    best = minimize_scalar(objective, bounds=(np.log(floor), top),
                           method="bounded", options={"xatol": 1e-6})
    return float(np.exp(best.x))
