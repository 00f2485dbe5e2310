"""The one place where skbdl imports scikit-learn's private API.

scikit-learn's parameter-validation helpers (``_fit_context``, ``Interval``,
``StrOptions``, ...) are private. Importing them only here keeps the blast
radius of a scikit-learn refactoring to a single file (the discipline of
imbalanced-learn's ``_sklearn_compat.py``).
"""

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
from sklearn.utils.validation import validate_data

__all__ = [
    "check_kernel_bounds",
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


def check_kernel_bounds(kernel):
    """Warn (ConvergenceWarning) when fitted kernel hyper-parameters sit at
    their bounds, as scikit-learn's GaussianProcessRegressor does (private
    ``Kernel._check_bounds_params``)."""
    check = getattr(kernel, "_check_bounds_params", None)
    if check is not None:
        check()
