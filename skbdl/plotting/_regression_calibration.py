"""Calibration curve of a probabilistic regressor."""

from ..metrics import regression_calibration_curve, regression_calibration_error
from ._base import axes_and_figure


class RegressionCalibrationDisplay:
    """Expected versus observed frequencies of a probabilistic regressor.

    For each level p, the fraction of targets below the predicted
    p-quantile (``kind="quantile"``, Kuleshov et al. 2018) or inside the
    central p-interval (``kind="interval"``, i.e. coverage) is plotted against
    p. A calibrated model follows the diagonal; a curve below it in
    ``"interval"`` mode means intervals that are too narrow. Create it with
    :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    expected : ndarray of shape (n_levels,)
        Levels (expected frequencies).
    observed : ndarray of shape (n_levels,)
        Observed frequencies.
    kind : {"quantile", "interval"}, default="quantile"
        What the frequencies count, used for the axis labels.
    calibration_error : float, default=None
        Shown in the legend.
    estimator_name : str, default=None
        Name shown in the legend.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The calibration curve.
    ref_line_ : matplotlib Line2D or None
        The diagonal of perfect calibration.
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.

    See Also
    --------
    skbdl.metrics.regression_calibration_curve : The data of the plot.
    skbdl.metrics.regression_calibration_error : The error in the legend.

    Examples
    --------
    >>> from skbdl.plotting import RegressionCalibrationDisplay
    >>> disp = RegressionCalibrationDisplay.from_predictions(
    ...     [0.0, 1.0, -2.0, 2.0], [0.0] * 4, [1.0] * 4, levels=[0.25, 0.5, 0.75])
    >>> disp.line_.get_ydata()
    array([0.25, 0.5 , 0.5 ])
    """

    def __init__(self, expected, observed, *, kind="quantile",
                 calibration_error=None, estimator_name=None):
        self.expected = expected
        self.observed = observed
        self.kind = kind
        self.calibration_error = calibration_error
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None, ref_line=True):
        """Plot observed against expected frequencies.

        Use it to redraw the stored data, e.g. on other axes.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        name : str, default=None
            Name for the legend; defaults to `estimator_name`.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.

        Returns
        -------
        RegressionCalibrationDisplay
            The display, with the artists stored in its attributes.

        See Also
        --------
        RegressionCalibrationDisplay.from_predictions : Compute and plot.

        Examples
        --------
        >>> from skbdl.plotting import RegressionCalibrationDisplay
        >>> disp = RegressionCalibrationDisplay([0.25, 0.5, 0.75], [0.2, 0.5, 0.9])
        >>> disp = disp.plot()
        >>> disp.line_.get_xdata()
        array([0.25, 0.5 , 0.75])
        """
        ax, fig = axes_and_figure(ax, "RegressionCalibrationDisplay.plot")
        name = self.estimator_name if name is None else name
        label = name or "Model"
        if self.calibration_error is not None:
            label = f"{label} (CE = {self.calibration_error:.4f})"
        (self.line_,) = ax.plot(self.expected, self.observed, "o-", markersize=4,
                                label=label)
        self.ref_line_ = None
        if ref_line:
            (self.ref_line_,) = ax.plot([0, 1], [0, 1], "k--", linewidth=1,
                                        label="Perfectly calibrated")
        if self.kind == "interval":
            labels = ("Expected coverage of central interval", "Observed coverage")
        else:
            labels = ("Expected quantile level", "Observed fraction below quantile")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=labels[0], ylabel=labels[1])
        ax.legend(loc="upper left", fontsize="small")
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_predictions(cls, y_true, mean, std, *, levels=None, kind="quantile",
                         sample_weight=None, name=None, ax=None, ref_line=True):
        """Plot the calibration curve of Gaussian predictions.

        The frequencies come from :func:`skbdl.metrics.regression_calibration_curve`;
        with ``kind='quantile'`` the legend also shows the calibration error.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Observed targets.
        mean : array-like of shape (n_samples,)
            Predictive means.
        std : array-like of shape (n_samples,)
            Predictive standard deviations (noise included).
        levels : array-like of shape (n_levels,), default=None
            Levels in (0, 1); None means 0.05, ..., 0.95.
        kind : {"quantile", "interval"}, default="quantile"
            One-sided quantiles (Kuleshov et al.) or central intervals.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        name : str, default=None
            Name for the legend.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.

        Returns
        -------
        RegressionCalibrationDisplay
            The plotted display.

        See Also
        --------
        RegressionCalibrationDisplay.from_estimator : Plot from a regressor.

        Examples
        --------
        >>> import numpy as np
        >>> from skbdl.plotting import RegressionCalibrationDisplay
        >>> y = np.random.default_rng(0).normal(size=500)
        >>> disp = RegressionCalibrationDisplay.from_predictions(
        ...     y, np.zeros(500), np.full(500, 0.5), kind="interval")
        >>> bool(np.all(disp.observed < disp.expected))
        True
        """
        expected, observed = regression_calibration_curve(
            y_true, mean, std, levels=levels, kind=kind, sample_weight=sample_weight)
        error = None
        if kind == "quantile":
            error = regression_calibration_error(
                y_true, mean, std, levels=levels, sample_weight=sample_weight)
        display = cls(expected, observed, kind=kind, calibration_error=error,
                      estimator_name=name)
        return display.plot(ax=ax, ref_line=ref_line)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, levels=None, kind="quantile",
                       sample_weight=None, name=None, ax=None, ref_line=True):
        """Plot the calibration curve of a fitted regressor on data.

        The mean and standard deviation come from ``estimator.predict(X,
        return_std=True)``.

        Parameters
        ----------
        estimator : estimator instance
            Fitted regressor whose ``predict(X, return_std=True)`` returns the
            predictive mean and standard deviation.
        X : array-like of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,)
            Observed targets.
        levels : array-like of shape (n_levels,), default=None
            Levels in (0, 1); None means 0.05, ..., 0.95.
        kind : {"quantile", "interval"}, default="quantile"
            One-sided quantiles (Kuleshov et al.) or central intervals.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        name : str, default=None
            Name for the legend; defaults to the estimator's class.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.

        Returns
        -------
        RegressionCalibrationDisplay
            The plotted display.

        See Also
        --------
        RegressionCalibrationDisplay.from_predictions : Plot from predictions.

        Examples
        --------
        >>> from sklearn.datasets import make_regression
        >>> from sklearn.linear_model import BayesianRidge
        >>> from skbdl.plotting import RegressionCalibrationDisplay
        >>> X, y = make_regression(n_samples=100, n_features=2, noise=5.0,
        ...                        random_state=0)
        >>> reg = BayesianRidge().fit(X, y)
        >>> disp = RegressionCalibrationDisplay.from_estimator(reg, X, y)
        >>> disp.expected.shape
        (19,)
        """
        mean, std = estimator.predict(X, return_std=True)
        return cls.from_predictions(
            y, mean, std, levels=levels, kind=kind, sample_weight=sample_weight,
            name=type(estimator).__name__ if name is None else name, ax=ax,
            ref_line=ref_line)
