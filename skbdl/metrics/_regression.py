"""Metrics for probabilistic regression: NLL, CRPS, intervals, calibration."""

import numpy as np
from scipy.stats import norm
from sklearn.utils import check_array

from ..utils._math import gaussian_nll as _gaussian_nll
from ..utils._sklearn import StrOptions, validate_params
from ._validation import check_positive, check_regression, row_weights

_GAUSSIAN_PARAMS = {
    "y_true": ["array-like"],
    "mean": ["array-like"],
    "std": ["array-like"],
    "sample_weight": ["array-like", None],
}


def _gaussian_inputs(y_true, mean, std, sample_weight):
    y_true, mean, std = check_regression(
        y_true, mean, std, names=("y_true", "mean", "std")
    )
    check_positive(std, "std")
    return y_true, mean, std, row_weights(sample_weight, y_true)


@validate_params(_GAUSSIAN_PARAMS, prefer_skip_nested_validation=True)
def gaussian_nll(y_true, mean, std, *, sample_weight=None):
    """Compute the mean negative log-likelihood under Gaussian predictions.

    The logarithmic score of a Gaussian predictive distribution; it rewards
    an accurate mean and a standard deviation of the right size.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mean : array-like of the shape of `y_true`
        Predictive means.
    std : array-like of the shape of `y_true`
        Predictive standard deviations (noise included), strictly positive.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights. Multiple outputs are averaged uniformly.

    Returns
    -------
    float
        Mean negative log-likelihood, in nats. Lower is better.

    See Also
    --------
    crps_gaussian : A proper score that is less sensitive to tiny std.

    Notes
    -----
    .. math::
        \\mathrm{NLL} = \\frac{1}{n} \\sum_i \\left[ \\tfrac12 \\log(2\\pi)
        + \\log \\sigma_i + \\frac{(y_i - \\mu_i)^2}{2 \\sigma_i^2} \\right].

    The value is in the units of ``y_true``: when a model was trained on
    standardised targets, transform ``mean`` and ``std`` back first (this adds
    :math:`\\log \\sigma_y`).

    Examples
    --------
    >>> from skbdl.metrics import gaussian_nll
    >>> round(gaussian_nll([0.0, 1.0], [0.0, 0.0], [1.0, 1.0]), 4)
    1.1689
    """
    y_true, mean, std, weight = _gaussian_inputs(y_true, mean, std, sample_weight)
    nll = _gaussian_nll(y_true, mean, log_var=2.0 * np.log(std))
    return float(np.average(nll, weights=weight))


@validate_params(_GAUSSIAN_PARAMS, prefer_skip_nested_validation=True)
def crps_gaussian(y_true, mean, std, *, sample_weight=None):
    """Compute the mean continuous ranked probability score of Gaussian predictions.

    The CRPS generalises the absolute error to a predictive distribution and
    is computed here in closed form.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mean : array-like of the shape of `y_true`
        Predictive means.
    std : array-like of the shape of `y_true`
        Predictive standard deviations (noise included), strictly positive.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights. Multiple outputs are averaged uniformly.

    Returns
    -------
    float
        Mean CRPS, in the units of ``y_true``. Lower is better.

    See Also
    --------
    crps_ensemble : The CRPS of a set of predictive draws.
    gaussian_nll : The logarithmic score.

    Notes
    -----
    The CRPS is :math:`\\int (F(x) - \\mathbb{1}[x \\geq y])^2 dx`; for
    :math:`F = N(\\mu, \\sigma^2)` and :math:`z = (y - \\mu) / \\sigma` it is

    .. math::
        \\mathrm{CRPS} = \\sigma \\left[ z (2 \\Phi(z) - 1) + 2 \\varphi(z)
        - \\frac{1}{\\sqrt{\\pi}} \\right],

    which is 0.2337 at :math:`z = 0, \\sigma = 1`.

    References
    ----------
    .. [1] T. Gneiting and A. E. Raftery, "Strictly Proper Scoring Rules,
       Prediction, and Estimation", JASA 102(477), 2007, eq. (21).

    Examples
    --------
    >>> from skbdl.metrics import crps_gaussian
    >>> round(crps_gaussian([0.0], [0.0], [1.0]), 4)
    0.2337
    """
    y_true, mean, std, weight = _gaussian_inputs(y_true, mean, std, sample_weight)
    z = (y_true - mean) / std
    crps = std * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))
    return float(np.average(crps, weights=weight))


@validate_params(
    {
        "y_true": ["array-like"],
        "y_samples": ["array-like"],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def crps_ensemble(y_true, y_samples, *, sample_weight=None):
    """Compute the mean CRPS of predictive draws (ensemble or Monte Carlo).

    Use it for ensembles and Monte-Carlo predictives whose distribution is
    only known through draws, such as the output of ``sample_y``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets.
    y_samples : array-like of shape (n_samples, n_draws)
        Draws from the predictive distribution of each sample, draws on the
        last axis (as returned by ``sample_y``).
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    float
        Mean CRPS of the empirical distribution of the draws. Lower is better.

    See Also
    --------
    crps_gaussian : Closed form for Gaussian predictions.

    Notes
    -----
    For draws :math:`x_1, \\dots, x_M` of one sample,

    .. math::
        \\mathrm{CRPS} = \\frac{1}{M} \\sum_j |x_j - y|
        - \\frac{1}{2 M^2} \\sum_{j, l} |x_j - x_l|,

    the exact CRPS of the empirical distribution (Gneiting & Raftery 2007,
    eq. 21). The double sum is computed in :math:`O(M \\log M)` from the
    sorted draws, :math:`\\sum_{j,l} |x_j - x_l| = 2 \\sum_j (2j - M - 1)
    x_{(j)}`.

    References
    ----------
    .. [1] T. Gneiting and A. E. Raftery, "Strictly Proper Scoring Rules,
       Prediction, and Estimation", JASA 102(477), 2007.

    Examples
    --------
    >>> from skbdl.metrics import crps_ensemble
    >>> crps_ensemble([0.0], [[-1.0, 1.0]])
    0.5
    """
    y_true = check_array(y_true, ensure_2d=False, dtype=np.float64, input_name="y_true")
    draws = check_array(y_samples, dtype=np.float64, input_name="y_samples")
    if y_true.ndim != 1 or draws.shape[0] != y_true.shape[0]:
        raise ValueError(
            "y_samples must have shape (n_samples, n_draws) for a 1-D y_true of "
            f"shape (n_samples,); got y_true {y_true.shape}, y_samples "
            f"{draws.shape}."
        )
    weight = row_weights(sample_weight, y_true)
    n_draws = draws.shape[1]
    spread = np.sort(draws, axis=1) @ (2 * np.arange(1, n_draws + 1) - n_draws - 1)
    crps = np.mean(np.abs(draws - y_true[:, None]), axis=1) - spread / n_draws**2
    return float(np.average(crps, weights=weight))


def _check_interval(y_true, lower, upper):
    arrays = check_regression(y_true, lower, upper, names=("y_true", "lower", "upper"))
    if np.any(arrays[1] > arrays[2]):
        raise ValueError("lower must not exceed upper; got lower > upper.")
    return arrays


@validate_params(
    {
        "y_true": ["array-like"],
        "lower": ["array-like"],
        "upper": ["array-like"],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def interval_coverage(y_true, lower, upper, *, sample_weight=None):
    """Compute the fraction of targets inside their prediction interval.

    A 95% interval of a calibrated model covers about 95% of the targets.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    lower : array-like of the shape of `y_true`
        Lower ends of the intervals.
    upper : array-like of the shape of `y_true`
        Upper ends of the intervals.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    float
        Observed coverage in [0, 1]; compare it with the nominal confidence
        of the intervals.

    See Also
    --------
    interval_width : The sharpness of the same intervals.

    Notes
    -----
    Intervals are closed: :math:`\\frac{1}{n} \\sum_i \\mathbb{1}[l_i \\leq
    y_i \\leq u_i]`.

    Examples
    --------
    >>> from skbdl.metrics import interval_coverage
    >>> interval_coverage([0.0, 1.0, 3.0, 2.0], [-1, 0, 0, 2], [1, 1, 2, 4])
    0.75
    """
    y_true, lower, upper = _check_interval(y_true, lower, upper)
    inside = (lower <= y_true) & (y_true <= upper)
    return float(np.average(inside, weights=row_weights(sample_weight, y_true)))


@validate_params(
    {
        "lower": ["array-like"],
        "upper": ["array-like"],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def interval_width(lower, upper, *, sample_weight=None):
    """Compute the mean width of prediction intervals.

    Report it beside :func:`interval_coverage`: narrow intervals are only
    useful when they still cover the targets.

    Parameters
    ----------
    lower : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Lower ends of the intervals.
    upper : array-like of the shape of `lower`
        Upper ends of the intervals.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    float
        Mean of ``upper - lower``, in the units of the target. Lower is
        sharper, but only meaningful at a fixed coverage.

    See Also
    --------
    interval_coverage : The coverage of the same intervals.

    Examples
    --------
    >>> from skbdl.metrics import interval_width
    >>> interval_width([-1.0, 0.0], [1.0, 3.0])
    2.5
    """
    lower, _, upper = _check_interval(lower, lower, upper)
    return float(np.average(upper - lower, weights=row_weights(sample_weight, lower)))


def _levels(levels):
    if levels is None:
        return np.arange(1, 20) / 20
    levels = check_array(levels, ensure_2d=False, dtype=np.float64, input_name="levels")
    if levels.ndim != 1 or np.any((levels <= 0) | (levels >= 1)):
        raise ValueError("levels must be a 1-D array of values in (0, 1).")
    return levels


_CURVE_PARAMS = dict(
    _GAUSSIAN_PARAMS,
    levels=["array-like", None],
    kind=[StrOptions({"quantile", "interval"})],
)


@validate_params(_CURVE_PARAMS, prefer_skip_nested_validation=True)
def regression_calibration_curve(
    y_true, mean, std, *, levels=None, kind="quantile", sample_weight=None
):
    """Compute expected versus observed frequencies of Gaussian predictions.

    This is the regression counterpart of a reliability curve: for each
    level the fraction of targets observed below a predicted quantile (or
    inside a central interval) is compared with the level itself.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mean : array-like of the shape of `y_true`
        Predictive means.
    std : array-like of the shape of `y_true`
        Predictive standard deviations (noise included), strictly positive.
    levels : array-like of shape (n_levels,), default=None
        Expected frequencies in (0, 1); None means 0.05, 0.10, ..., 0.95.
    kind : {"quantile", "interval"}, default="quantile"
        ``"quantile"``: fraction of targets below the predicted
        ``level``-quantile (Kuleshov et al.). ``"interval"``: fraction inside
        the central interval of probability ``level`` (coverage).
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    expected : ndarray of shape (n_levels,)
        The levels.
    observed : ndarray of shape (n_levels,)
        Observed frequencies; equal to ``expected`` for a calibrated model.

    See Also
    --------
    regression_calibration_error : Summary of this curve.
    skbdl.plotting.RegressionCalibrationDisplay : Plot of this curve.

    Notes
    -----
    With the probability integral transform :math:`u_i = \\Phi((y_i - \\mu_i)
    / \\sigma_i)`, ``"quantile"`` gives :math:`\\hat p_j = \\frac{1}{n}
    \\sum_i \\mathbb{1}[u_i \\leq p_j]` and ``"interval"`` gives
    :math:`\\frac{1}{n} \\sum_i \\mathbb{1}[|u_i - \\tfrac12| \\leq p_j / 2]`.

    References
    ----------
    .. [1] V. Kuleshov, N. Fenner and S. Ermon, "Accurate Uncertainties for
       Deep Learning Using Calibrated Regression", ICML 2018.

    Examples
    --------
    >>> from skbdl.metrics import regression_calibration_curve
    >>> expected, observed = regression_calibration_curve(
    ...     [0.0, 1.0, -2.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0],
    ...     levels=[0.25, 0.5, 0.75])
    >>> observed
    array([0.25, 0.5 , 0.5 ])
    """
    y_true, mean, std, weight = _gaussian_inputs(y_true, mean, std, sample_weight)
    levels = _levels(levels)
    pit = norm.cdf((y_true - mean) / std).ravel()
    if kind == "quantile":
        hits = pit[None, :] <= levels[:, None]
    else:
        hits = np.abs(pit[None, :] - 0.5) <= levels[:, None] / 2
    observed = hits.astype(np.float64) @ weight.ravel() / weight.sum()
    return levels, observed


@validate_params(
    dict(_GAUSSIAN_PARAMS, levels=["array-like", None]),
    prefer_skip_nested_validation=True,
)
def regression_calibration_error(y_true, mean, std, *, levels=None, sample_weight=None):
    """Compute the calibration error of Gaussian regression predictions.

    The mean squared gap between the expected and observed frequencies of
    :func:`regression_calibration_curve` with ``kind="quantile"``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mean : array-like of the shape of `y_true`
        Predictive means.
    std : array-like of the shape of `y_true`
        Predictive standard deviations (noise included), strictly positive.
    levels : array-like of shape (n_levels,), default=None
        Quantile levels :math:`p_j` in (0, 1); None means 0.05, ..., 0.95.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    float
        Mean squared gap between expected and observed frequencies, in
        [0, 1]. Lower is better.

    See Also
    --------
    regression_calibration_curve : The frequencies behind this error.

    Notes
    -----
    Kuleshov et al. (2018) call a forecaster calibrated when the fraction of
    targets below the predicted :math:`p`-quantile is :math:`p` for every
    :math:`p`. With :math:`\\hat p_j` the observed fraction at level
    :math:`p_j` (see :func:`regression_calibration_curve`, ``kind="quantile"``),

    .. math::
        \\mathrm{CE} = \\sum_{j=1}^m w_j (p_j - \\hat p_j)^2,
        \\quad w_j = 1 / m,

    so the value does not grow with the number of levels.

    References
    ----------
    .. [1] V. Kuleshov, N. Fenner and S. Ermon, "Accurate Uncertainties for
       Deep Learning Using Calibrated Regression", ICML 2018.

    Examples
    --------
    >>> from skbdl.metrics import regression_calibration_error
    >>> regression_calibration_error(
    ...     [0.0, 1.0, -2.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0],
    ...     levels=[0.25, 0.5, 0.75])
    0.020833333333333332
    """
    expected, observed = regression_calibration_curve(
        y_true, mean, std, levels=levels, sample_weight=sample_weight
    )
    return float(np.mean((expected - observed) ** 2))
