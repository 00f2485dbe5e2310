"""The one place where skbdl imports scikit-learn's private API.

scikit-learn's parameter-validation helpers (``_fit_context``, ``Interval``,
``StrOptions``, ...) are private. Importing them only here keeps the blast
radius of a scikit-learn refactoring to a single file (the discipline of
imbalanced-learn's ``_sklearn_compat.py``).
"""

import inspect

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_params,
)
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = [
    "_check_partial_fit_first_call",
    "check_kernel_bounds",
    "check_sample_weight",
    "_fit_context",
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "validate_data",
    "validate_params",
]


# scikit-learn >= 1.7 can leave the all-zero check to the caller
_ALLOW_ZERO = "allow_all_zero_weights" in inspect.signature(
    _check_sample_weight
).parameters


def check_sample_weight(sample_weight, X, owner):
    """``sample_weight`` validated as float64 of shape (n_samples,), or None.

    scikit-learn's ``_check_sample_weight`` rejects a wrong shape, NaN,
    infinite and negative values, each with a message naming
    ``sample_weight``; weights that are all zero raise a ``ValueError``
    naming ``owner`` (the estimator's class name).
    """
    if sample_weight is None:
        return None
    kwargs = {"allow_all_zero_weights": True} if _ALLOW_ZERO else {}
    try:
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True, **kwargs
        )
    except ValueError as exc:
        if "non-zero" not in str(exc):
            raise
        sample_weight = np.zeros(0)
    if not np.any(sample_weight > 0):
        raise ValueError(
            f"{owner}.fit got a sample_weight whose entries are all zero: the "
            f"likelihood would have no data. Give at least one row a positive "
            f"weight, or pass sample_weight=None."
        )
    return sample_weight


def check_kernel_bounds(kernel):
    """Warn (ConvergenceWarning) when fitted kernel hyper-parameters sit at
    their bounds, as scikit-learn's GaussianProcessRegressor does (private
    ``Kernel._check_bounds_params``)."""
    check = getattr(kernel, "_check_bounds_params", None)
    if check is not None:
        check()
