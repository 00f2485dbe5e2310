"""Input validation shared by the metric functions.

Labels are encoded the way scikit-learn's ``log_loss`` does it: the columns of
``y_prob`` follow the sorted unique values of ``labels`` (or of ``y_true`` when
``labels`` is None), and a 1-D ``y_prob`` is the probability of the greater of
two labels.
"""

import numpy as np
from sklearn.utils import check_array, check_consistent_length, column_or_1d


def check_sample_weight(sample_weight, n_samples):
    """Return float64 weights of shape (n_samples,), ones when None."""
    if sample_weight is None:
        return np.ones(n_samples)
    weight = check_array(
        sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight"
    )
    if weight.ndim != 1 or weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), got {weight.shape}."
        )
    if np.any(weight < 0) or weight.sum() <= 0:
        raise ValueError(
            "sample_weight must be non-negative with a positive sum."
        )
    return weight


def _classes(y_true, labels, n_columns):
    """Sorted class labels, checked against y_true and the number of columns."""
    if labels is None:
        classes = np.unique(y_true)
        if n_columns == 2 and classes.shape[0] == 1:
            raise ValueError(
                f"y_true contains a single class ({classes[0]!r}); pass the two "
                "class labels through the `labels` parameter."
            )
    else:
        classes = np.unique(column_or_1d(labels))
        if classes.shape[0] < 2:
            raise ValueError("labels must contain at least two distinct labels.")
        unknown = np.setdiff1d(y_true, classes)
        if unknown.size:
            raise ValueError(
                f"y_true contains labels not in `labels`: {unknown.tolist()}."
            )
    if classes.shape[0] != n_columns:
        where = "labels" if labels is not None else "y_true"
        raise ValueError(
            f"y_prob has {n_columns} columns but {where} has {classes.shape[0]} "
            f"classes ({classes.tolist()}). Pass every class label through the "
            "`labels` parameter, in the order of the columns of y_prob."
        )
    return classes


def check_proba(y_true, y_prob, labels=None):
    """Validate class labels and probabilities.

    Returns
    -------
    y_index : ndarray of shape (n_samples,)
        Column of ``y_prob`` that holds the true class.
    proba : ndarray of shape (n_samples, n_classes), float64
        Probabilities; a 1-D input becomes ``[1 - p, p]``.
    eps : float
        Machine epsilon of the input dtype (``log_loss`` clips with it).
    """
    y_true = column_or_1d(check_array(y_true, ensure_2d=False, dtype=None,
                                      input_name="y_true"))
    prob = check_array(y_prob, ensure_2d=False, dtype=(np.float64, np.float32),
                       input_name="y_prob")
    eps = float(np.finfo(prob.dtype).eps)
    tol = np.sqrt(eps)
    prob = prob.astype(np.float64)
    if prob.ndim == 2 and prob.shape[1] == 1:
        prob = prob[:, 0]
    if prob.ndim == 1:
        prob = np.column_stack([1.0 - prob, prob])
    elif prob.ndim != 2:
        raise ValueError(f"y_prob must be 1-D or 2-D, got shape {prob.shape}.")
    check_consistent_length(y_true, prob)
    if prob.min() < 0 or prob.max() > 1:
        raise ValueError(
            "y_prob must contain probabilities in [0, 1]; got values in "
            f"[{prob.min():g}, {prob.max():g}]."
        )
    sums = prob.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > tol):
        worst = sums[np.argmax(np.abs(sums - 1.0))]
        raise ValueError(
            "The rows of y_prob must sum to 1 (one probability per class); a row "
            f"sums to {worst:.6g}. Pass predict_proba output, not scores."
        )
    classes = _classes(y_true, labels, prob.shape[1])
    y_index = np.searchsorted(classes, y_true)
    return y_index, prob, eps


def check_regression(y_true, *arrays, names):
    """Validate y_true and arrays of the same shape; return float64 copies.

    Each array must be 1-D (n_samples,) or 2-D (n_samples, n_outputs) and have
    the shape of ``y_true``.
    """
    out = []
    for value, name in zip((y_true,) + arrays, names):
        arr = check_array(value, ensure_2d=False, dtype=np.float64, input_name=name)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D, got shape {arr.shape}.")
        if out and arr.shape != out[0].shape:
            raise ValueError(
                f"{name} must have the shape of {names[0]} {out[0].shape}, got "
                f"{arr.shape}."
            )
        out.append(arr)
    return out


def check_positive(value, name):
    """Raise when any entry of ``value`` is not strictly positive."""
    if np.any(value <= 0):
        raise ValueError(
            f"{name} must be strictly positive; got a minimum of {value.min():g}."
        )


def row_weights(sample_weight, y_true):
    """Weights broadcast to the shape of y_true (one weight per row)."""
    weight = check_sample_weight(sample_weight, y_true.shape[0])
    if y_true.ndim == 2:
        weight = np.repeat(weight[:, None], y_true.shape[1], axis=1)
    return weight
