"""Formulas shared by the likelihoods, the Gaussian processes and the metrics.

Each works on numpy arrays and on torch tensors alike.
"""

import math

import numpy as np
import torch

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
