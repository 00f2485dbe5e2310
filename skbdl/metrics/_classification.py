"""Proper scoring rules and accuracy-type metrics for classifiers, OOD AUROC."""

from numbers import Integral

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.utils import check_array

from ..utils._sklearn import Interval, StrOptions, validate_params
from ._validation import check_proba, check_sample_weight


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "sample_weight": ["array-like", None],
        "labels": ["array-like", None],
        "scale_by_half": ["boolean", StrOptions({"auto"})],
    },
    prefer_skip_nested_validation=True,
)
def brier_score(
    y_true, y_prob, *, sample_weight=None, labels=None, scale_by_half="auto"
):
    """Compute the (multiclass) Brier score.

    The Brier score is the mean squared distance between the predicted
    probability vector and the one-hot encoded label. It equals
    :func:`sklearn.metrics.brier_score_loss`, halving convention included.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities. Columns follow the sorted labels; a 1-D array
        is the probability of the greater of two labels.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All class labels, needed when ``y_true`` misses some of them.
    scale_by_half : bool or "auto", default="auto"
        Halve the score. ``"auto"`` halves for two classes (range [0, 1], the
        customary binary score) and not for three or more (range [0, 2]), as
        scikit-learn does.

    Returns
    -------
    float
        Brier score. Lower is better.

    See Also
    --------
    sklearn.metrics.brier_score_loss : The same score.
    negative_log_likelihood : The logarithmic scoring rule.

    Notes
    -----
    .. math::
        \\mathrm{BS} = \\frac{1}{n} \\sum_{i=1}^n \\sum_{k=1}^K
        (p_{ik} - \\mathbb{1}[y_i = k])^2,

    multiplied by 1/2 when ``scale_by_half`` is True, or when it is ``"auto"``
    and :math:`K = 2`. With two classes the halved score equals
    :math:`\\frac{1}{n} \\sum_i (p_i - y_i)^2` for the positive-class
    probability :math:`p_i`.

    References
    ----------
    .. [1] G. W. Brier, "Verification of forecasts expressed in terms of
       probability", Monthly Weather Review 78(1), 1950.

    Examples
    --------
    >>> from skbdl.metrics import brier_score
    >>> round(brier_score([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3]), 4)
    0.0375
    >>> round(brier_score(["a", "b", "c"],
    ...                   [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.2, 0.2, 0.6]]), 4)
    0.1467
    """
    y_index, proba, _ = check_proba(y_true, y_prob, labels)
    weight = check_sample_weight(sample_weight, proba.shape[0])
    onehot = np.eye(proba.shape[1])[y_index]
    score = np.average(np.sum((onehot - proba) ** 2, axis=1), weights=weight)
    if scale_by_half == "auto":
        scale_by_half = proba.shape[1] == 2
    return float(0.5 * score if scale_by_half else score)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "sample_weight": ["array-like", None],
        "labels": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def negative_log_likelihood(y_true, y_prob, *, sample_weight=None, labels=None):
    """Compute the mean negative log-likelihood of the true classes.

    This is the cross-entropy or log loss; it equals
    :func:`sklearn.metrics.log_loss`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities. Columns follow the sorted labels; a 1-D array
        is the probability of the greater of two labels.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All class labels, needed when ``y_true`` misses some of them.

    Returns
    -------
    float
        Mean negative log-likelihood, in nats. Lower is better.

    See Also
    --------
    sklearn.metrics.log_loss : The same metric.
    brier_score : The quadratic scoring rule.

    Notes
    -----
    :math:`\\mathrm{NLL} = -\\frac{1}{n} \\sum_i \\log p_{i, y_i}`, with the
    probabilities clipped to :math:`[\\epsilon, 1 - \\epsilon]` where
    :math:`\\epsilon` is the machine epsilon of the input dtype (scikit-learn's
    convention), so a zero probability gives a large but finite loss.

    Examples
    --------
    >>> from skbdl.metrics import negative_log_likelihood
    >>> round(negative_log_likelihood(["a", "b"], [[0.9, 0.1], [0.2, 0.8]]), 4)
    0.1643
    """
    y_index, proba, eps = check_proba(y_true, y_prob, labels)
    weight = check_sample_weight(sample_weight, proba.shape[0])
    p_true = np.clip(proba, eps, 1 - eps)[np.arange(proba.shape[0]), y_index]
    return float(np.average(-np.log(p_true), weights=weight))


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "k": [Interval(Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
        "labels": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def top_k_accuracy(y_true, y_prob, *, k=2, sample_weight=None, labels=None):
    """Compute the fraction of samples whose true class is among the k most likely.

    With ``k=1`` this is the usual accuracy of ``predict``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities. Columns follow the sorted labels; a 1-D array
        is the probability of the greater of two labels.
    k : int, default=2
        Number of most likely classes considered. ``k >= n_classes`` gives 1.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All class labels, needed when ``y_true`` misses some of them.

    Returns
    -------
    float
        Top-k accuracy, in [0, 1]. Higher is better.

    See Also
    --------
    sklearn.metrics.top_k_accuracy_score : The same metric.

    Notes
    -----
    Ties follow :func:`sklearn.metrics.top_k_accuracy_score`: among equal
    probabilities the class with the larger column index ranks first, except
    for a 1-D binary ``y_prob`` with ``k=1``, which predicts the greater label
    when :math:`p > 0.5`.

    Examples
    --------
    >>> from skbdl.metrics import top_k_accuracy
    >>> y_prob = [[0.5, 0.2, 0.3], [0.3, 0.4, 0.3], [0.2, 0.4, 0.4]]
    >>> top_k_accuracy([0, 2, 0], y_prob, k=2, labels=[0, 1, 2])
    0.6666666666666666
    """
    binary_1d = np.ndim(y_prob) == 1
    y_index, proba, _ = check_proba(y_true, y_prob, labels)
    weight = check_sample_weight(sample_weight, proba.shape[0])
    if binary_1d and k == 1:
        hits = (proba[:, 1] > 0.5).astype(np.intp) == y_index
    else:
        ranked = np.argsort(proba, axis=1, kind="mergesort")[:, ::-1]
        hits = np.any(ranked[:, :k] == y_index[:, None], axis=1)
    return float(np.average(hits, weights=weight))


@validate_params(
    {"scores_in": ["array-like"], "scores_out": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def ood_auroc(scores_in, scores_out):
    """Compute the AUROC of separating out-of-distribution from in-distribution inputs.

    A threshold-free measure of how well an uncertainty score flags inputs
    that come from outside the training distribution.

    Parameters
    ----------
    scores_in : array-like of shape (n_in,)
        Uncertainty scores of in-distribution inputs.
    scores_out : array-like of shape (n_out,)
        Uncertainty scores of out-of-distribution (OOD) inputs.

    Returns
    -------
    float
        Probability that a random OOD input scores higher than a random
        in-distribution input (ties count one half). 1 is perfect separation,
        0.5 is chance. Higher is better.

    See Also
    --------
    sklearn.metrics.roc_auc_score : The underlying computation.

    Notes
    -----
    The convention is "higher score = more OOD". Use the predictive entropy,
    the mutual information (BALD), or ``1 - max_k p_k``; pass the negative of
    a score where higher means more in-distribution (such as the maximum
    probability itself).

    .. math::
        \\mathrm{AUROC} = \\frac{1}{n_{in} n_{out}} \\sum_{i, j}
        \\left(\\mathbb{1}[s^{out}_j > s^{in}_i]
        + \\tfrac12 \\mathbb{1}[s^{out}_j = s^{in}_i]\\right).

    References
    ----------
    .. [1] D. Hendrycks and K. Gimpel, "A Baseline for Detecting Misclassified
       and Out-of-Distribution Examples in Neural Networks", ICLR 2017.

    Examples
    --------
    >>> from skbdl.metrics import ood_auroc
    >>> ood_auroc([0.1, 0.2, 0.5], [0.4, 0.9])
    0.8333333333333334
    """
    scores = []
    for value, name in ((scores_in, "scores_in"), (scores_out, "scores_out")):
        arr = check_array(value, ensure_2d=False, dtype=np.float64, input_name=name)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}.")
        scores.append(arr)
    is_out = np.r_[np.zeros(scores[0].shape[0]), np.ones(scores[1].shape[0])]
    return float(roc_auc_score(is_out, np.concatenate(scores)))
