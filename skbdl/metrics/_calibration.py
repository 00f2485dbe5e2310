"""Binned calibration metrics for classifiers: ECE, MCE and class-wise ECE."""

from numbers import Integral

import numpy as np

from ..utils._sklearn import Interval, StrOptions, validate_params
from ._binning import bin_edges, bin_statistics, binned_gaps
from ._validation import check_proba, check_sample_weight

_BINNED_PARAMS = {
    "y_true": ["array-like"],
    "y_prob": ["array-like"],
    "n_bins": [Interval(Integral, 1, None, closed="left")],
    "strategy": [StrOptions({"uniform", "quantile"})],
    "sample_weight": ["array-like", None],
    "labels": ["array-like", None],
}


def _top_label(y_true, y_prob, sample_weight, labels):
    """Top-label confidence, 0/1 correctness and weights."""
    y_index, proba, _ = check_proba(y_true, y_prob, labels)
    weight = check_sample_weight(sample_weight, proba.shape[0])
    # argmax breaks ties towards the first column, as ``classes_[argmax]`` does
    # in scikit-learn's ``predict``.
    correct = (np.argmax(proba, axis=1) == y_index).astype(np.float64)
    return proba.max(axis=1), correct, weight


@validate_params(_BINNED_PARAMS, prefer_skip_nested_validation=True)
def reliability_curve(
    y_true, y_prob, *, n_bins=15, strategy="uniform", sample_weight=None, labels=None
):
    """Compute the top-label reliability curve of a multiclass classifier.

    Each sample is placed in a bin by its confidence (the largest predicted
    probability); in each bin the accuracy is compared with the mean confidence.
    This is the data behind a reliability diagram and the expected calibration
    error.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as returned by ``predict_proba``. Columns
        follow the sorted labels; a 1-D array is the probability of the greater
        of two labels.
    n_bins : int, default=15
        Number of bins.
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: equal-width bins on [0, 1]. ``"quantile"``: equal-mass
        bins whose inner edges are quantiles of the confidences.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All class labels, needed when ``y_true`` misses some of them.

    Returns
    -------
    accuracy : ndarray of shape (n_bins,)
        Fraction of correct predictions in each bin (NaN for empty bins).
    confidence : ndarray of shape (n_bins,)
        Mean confidence in each bin (NaN for empty bins).
    counts : ndarray of shape (n_bins,)
        Number of samples in each bin, or their total weight when
        ``sample_weight`` is given.
    bin_edges : ndarray of shape (n_bins + 1,)
        Bin edges; bins are right-closed, ``[e_0, e_1], (e_1, e_2], ...``.

    See Also
    --------
    expected_calibration_error : Weighted mean gap of this curve.
    skbdl.plotting.ReliabilityDisplay : Plot of this curve.
    sklearn.calibration.calibration_curve : The binary, positive-class version.

    Notes
    -----
    Bins are right-closed: a confidence equal to an inner edge falls in the
    lower bin, and a confidence of 1.0 falls in the last bin. Uniform edges are
    ``b / n_bins``. Top-label confidences are at least ``1 / n_classes``, so the
    lowest bins of a multiclass problem are empty.

    Examples
    --------
    >>> from skbdl.metrics import reliability_curve
    >>> y_true = [0, 1, 1, 0]
    >>> y_prob = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> accuracy, confidence, counts, edges = reliability_curve(
    ...     y_true, y_prob, n_bins=2)
    >>> accuracy
    array([ nan, 0.75])
    >>> counts
    array([0., 4.])
    """
    confidence, correct, weight = _top_label(y_true, y_prob, sample_weight, labels)
    edges = bin_edges(confidence, n_bins, strategy)
    accuracy, mean_conf, mass, count = bin_statistics(
        confidence, correct, weight, edges
    )
    counts = count.astype(np.float64) if sample_weight is None else mass
    return accuracy, mean_conf, counts, edges


@validate_params(_BINNED_PARAMS, prefer_skip_nested_validation=True)
def expected_calibration_error(
    y_true, y_prob, *, n_bins=15, strategy="uniform", sample_weight=None, labels=None
):
    """Compute the top-label expected calibration error (ECE).

    The ECE is the mean absolute gap between accuracy and confidence over
    confidence bins, each bin weighted by its share of the samples.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as returned by ``predict_proba``. Columns
        follow the sorted labels; a 1-D array is the probability of the greater
        of two labels.
    n_bins : int, default=15
        Number of bins (15 as in Guo et al. 2017).
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: equal-width bins on [0, 1], the ECE of Guo et al.
        ``"quantile"``: equal-mass bins (quantiles of the confidences), the
        top-label adaptive ECE.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All class labels, needed when ``y_true`` misses some of them.

    Returns
    -------
    float
        Expected calibration error, in [0, 1]. Lower is better.

    See Also
    --------
    maximum_calibration_error : Largest gap over the bins.
    classwise_calibration_error : Calibration of every class probability.
    reliability_curve : The per-bin accuracy and confidence.

    Notes
    -----
    With confidence :math:`c_i = \\max_k p_{ik}`, prediction
    :math:`\\hat y_i = \\arg\\max_k p_{ik}` and bins :math:`B_b`,

    .. math::
        \\mathrm{ECE} = \\sum_b \\frac{|B_b|}{n}
        \\left| \\mathrm{acc}(B_b) - \\mathrm{conf}(B_b) \\right|,

    where :math:`|B_b|` counts (or sums the weights of) the samples in bin
    :math:`b`. Bins are right-closed, ``[e_0, e_1], (e_1, e_2], ...``: a
    confidence on an inner edge belongs to the lower bin and a confidence of
    1.0 to the last bin. Uniform edges are ``b / n_bins``. Empty bins add
    nothing. Ties in ``argmax`` go to the first class.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017.
    .. [2] M. P. Naeini, G. Cooper and M. Hauskrecht, "Obtaining Well
       Calibrated Probabilities Using Bayesian Binning", AAAI 2015.

    Examples
    --------
    >>> from skbdl.metrics import expected_calibration_error
    >>> y_true = [0, 1, 2, 2]
    >>> y_prob = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6],
    ...           [0.5, 0.2, 0.3]]
    >>> round(expected_calibration_error(y_true, y_prob, n_bins=5), 4)
    0.125
    """
    confidence, correct, weight = _top_label(y_true, y_prob, sample_weight, labels)
    bin_weight, gaps = binned_gaps(confidence, correct, weight, n_bins, strategy)
    return float(np.sum(bin_weight * gaps))


@validate_params(_BINNED_PARAMS, prefer_skip_nested_validation=True)
def maximum_calibration_error(
    y_true, y_prob, *, n_bins=15, strategy="uniform", sample_weight=None, labels=None
):
    """Compute the top-label maximum calibration error (MCE).

    The MCE is the largest absolute gap between accuracy and confidence over
    the non-empty confidence bins.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as returned by ``predict_proba``.
    n_bins : int, default=15
        Number of bins.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width (``"uniform"``) or equal-mass (``"quantile"``) bins.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (they change the per-bin means, not which bins count).
    labels : array-like of shape (n_classes,), default=None
        All class labels, needed when ``y_true`` misses some of them.

    Returns
    -------
    float
        Maximum calibration error, in [0, 1]. Lower is better.

    See Also
    --------
    expected_calibration_error : The bin-weighted mean gap.

    Notes
    -----
    :math:`\\mathrm{MCE} = \\max_{b: |B_b| > 0}
    |\\mathrm{acc}(B_b) - \\mathrm{conf}(B_b)|`, with the bins and the
    right-closed edge convention of :func:`expected_calibration_error`. A bin
    holding a single sample counts as much as a full one, so the MCE is noisy
    on small test sets.

    References
    ----------
    .. [1] M. P. Naeini, G. Cooper and M. Hauskrecht, "Obtaining Well
       Calibrated Probabilities Using Bayesian Binning", AAAI 2015.

    Examples
    --------
    >>> from skbdl.metrics import maximum_calibration_error
    >>> y_true = [0, 1, 2, 2]
    >>> y_prob = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6],
    ...           [0.5, 0.2, 0.3]]
    >>> round(maximum_calibration_error(y_true, y_prob, n_bins=5), 4)
    0.2
    """
    confidence, correct, weight = _top_label(y_true, y_prob, sample_weight, labels)
    _, gaps = binned_gaps(confidence, correct, weight, n_bins, strategy)
    return float(gaps.max())


@validate_params(_BINNED_PARAMS, prefer_skip_nested_validation=True)
def classwise_calibration_error(
    y_true, y_prob, *, n_bins=15, strategy="uniform", sample_weight=None, labels=None
):
    """Compute the class-wise expected calibration error.

    Every class probability is binned on its own and compared with the
    frequency of that class; the per-class errors are averaged over classes.
    Unlike the top-label ECE, this also checks the probabilities given to the
    classes that were not predicted.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as returned by ``predict_proba``. A 1-D array
        is the probability of the greater of two labels and counts as two
        classes.
    n_bins : int, default=15
        Number of bins per class.
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: equal-width bins, the static calibration error (SCE) of
        Nixon et al. ``"quantile"``: equal-mass bins computed per class, a
        class-wise adaptive calibration error.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All class labels, needed when ``y_true`` misses some of them.

    Returns
    -------
    float
        Class-wise calibration error, in [0, 1]. Lower is better.

    See Also
    --------
    expected_calibration_error : The top-label version.

    Notes
    -----
    For class :math:`k`, bin the samples by :math:`p_{ik}` into
    :math:`B_{kb}` and compare the class frequency with the mean probability:

    .. math::
        \\mathrm{cwECE} = \\frac{1}{K} \\sum_{k=1}^K \\sum_b
        \\frac{|B_{kb}|}{n} \\left| \\frac{1}{|B_{kb}|}
        \\sum_{i \\in B_{kb}} (\\mathbb{1}[y_i = k] - p_{ik}) \\right|.

    Bins are right-closed with probability 0 in the first bin and 1.0 in the
    last one, as in :func:`expected_calibration_error`.

    References
    ----------
    .. [1] M. Kull, M. Perello-Nieto, M. Kängsepp, T. Silva Filho, H. Song
       and P. Flach, "Beyond temperature scaling: Obtaining well-calibrated
       multiclass probabilities with Dirichlet calibration", NeurIPS 2019.
    .. [2] J. Nixon, M. Dusenberry, L. Zhang, G. Jerfel and D. Tran,
       "Measuring Calibration in Deep Learning", CVPR Workshops 2019.

    Examples
    --------
    >>> from skbdl.metrics import classwise_calibration_error
    >>> y_true = [0, 1, 1, 0]
    >>> y_prob = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    >>> round(classwise_calibration_error(y_true, y_prob, n_bins=2), 4)
    0.0875
    """
    y_index, proba, _ = check_proba(y_true, y_prob, labels)
    weight = check_sample_weight(sample_weight, proba.shape[0])
    errors = []
    for k in range(proba.shape[1]):
        outcome = (y_index == k).astype(np.float64)
        bin_weight, gaps = binned_gaps(proba[:, k], outcome, weight, n_bins, strategy)
        errors.append(np.sum(bin_weight * gaps))
    return float(np.mean(errors))
