"""Multiclass top-label reliability diagram."""

import numpy as np

from ..metrics import expected_calibration_error, reliability_curve
from ._base import axes_and_figure


class ReliabilityDisplay:
    """Top-label reliability diagram of a (multiclass) classifier.

    Accuracy per confidence bin is drawn as bars beside the diagonal of
    perfect calibration, with the gap to the mean confidence, the number of
    samples per bin and the expected calibration error (ECE) in the legend.
    scikit-learn's ``CalibrationDisplay`` is binary only; this display works
    for any number of classes. Create it with :meth:`from_estimator` or
    :meth:`from_predictions`.

    Parameters
    ----------
    accuracy : ndarray of shape (n_bins,)
        Accuracy in each bin, NaN for empty bins.
    confidence : ndarray of shape (n_bins,)
        Mean confidence in each bin, NaN for empty bins.
    counts : ndarray of shape (n_bins,)
        Number of samples (or total sample weight) in each bin.
    bin_edges : ndarray of shape (n_bins + 1,)
        Bin edges; bins are right-closed.
    ece : float, default=None
        Expected calibration error, shown in the legend.
    estimator_name : str, default=None
        Name shown in the title.

    Attributes
    ----------
    bars_ : matplotlib BarContainer
        Accuracy bars, one per non-empty bin.
    gap_bars_ : matplotlib BarContainer or None
        Bars from the accuracy to the mean confidence of each non-empty bin.
    count_texts_ : list of matplotlib Text
        Sample count of each non-empty bin, written at the foot of its bar.
    ref_line_ : matplotlib Line2D or None
        The diagonal of perfect calibration.
    ax_ : matplotlib Axes
        Axes of the diagram.
    figure_ : matplotlib Figure
        Figure of the diagram.

    See Also
    --------
    skbdl.metrics.reliability_curve : The data of the diagram.
    skbdl.metrics.expected_calibration_error : The ECE in the legend.
    sklearn.calibration.CalibrationDisplay : The binary version.

    Notes
    -----
    Several methods on one figure: draw one axes per method, e.g.
    ``fig, axes = plt.subplots(1, n, sharey=True)`` and call
    ``ReliabilityDisplay.from_predictions(y, p, name=name, ax=ax)`` for each
    pair of method and axes. Bars of several methods do not overlay legibly.

    Examples
    --------
    >>> from skbdl.plotting import ReliabilityDisplay
    >>> y_true = [0, 1, 2, 2]
    >>> y_prob = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6],
    ...           [0.5, 0.2, 0.3]]
    >>> disp = ReliabilityDisplay.from_predictions(y_true, y_prob, n_bins=5)
    >>> round(disp.ece, 3)
    0.125
    >>> [bar.get_height() for bar in disp.bars_]
    [np.float64(0.6666666666666666), np.float64(1.0)]
    """

    def __init__(self, accuracy, confidence, counts, bin_edges, *, ece=None,
                 estimator_name=None):
        self.accuracy = accuracy
        self.confidence = confidence
        self.counts = counts
        self.bin_edges = bin_edges
        self.ece = ece
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None, ref_line=True, show_gaps=True,
             show_counts=True):
        """Plot the reliability diagram.

        Use it to redraw the stored data, e.g. on other axes.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        name : str, default=None
            Name for the title; defaults to `estimator_name`.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.
        show_gaps : bool, default=True
            Draw hatched bars between accuracy and mean confidence.
        show_counts : bool, default=True
            Write the number of samples at the foot of each bar.

        Returns
        -------
        ReliabilityDisplay
            The display, with the artists stored in its attributes.

        See Also
        --------
        ReliabilityDisplay.from_predictions : Compute the data and plot it.

        Examples
        --------
        >>> from skbdl.plotting import ReliabilityDisplay
        >>> disp = ReliabilityDisplay([0.5, 1.0], [0.55, 0.9], [2, 3], [0, 0.6, 1],
        ...                           ece=0.05, estimator_name="model")
        >>> disp = disp.plot(show_counts=False)
        >>> disp.bars_[0].get_height()
        np.float64(0.5)
        """
        ax, fig = axes_and_figure(ax, "ReliabilityDisplay.plot")
        name = self.estimator_name if name is None else name
        full = np.asarray(self.counts) > 0
        left = np.asarray(self.bin_edges)[:-1][full]
        width = np.diff(self.bin_edges)[full]
        acc = np.asarray(self.accuracy)[full]
        conf = np.asarray(self.confidence)[full]
        # The name goes in the title, so the legend stays narrow.
        label = "Accuracy"
        if self.ece is not None:
            label = f"Accuracy (ECE = {self.ece:.3f})"
        self.bars_ = ax.bar(left, acc, width=width, align="edge", color="tab:blue",
                            edgecolor="black", linewidth=0.6, label=label)
        self.gap_bars_ = None
        if show_gaps:
            self.gap_bars_ = ax.bar(
                left, conf - acc, bottom=acc, width=width, align="edge",
                color="tab:red", alpha=0.3, edgecolor="tab:red", hatch="//",
                linewidth=0.6, label="Gap")
        self.count_texts_ = []
        if show_counts:
            for x, w, n in zip(left, width, np.asarray(self.counts)[full]):
                self.count_texts_.append(ax.text(
                    x + w / 2, 0.01, f"{n:g}", ha="center", va="bottom",
                    rotation=90, fontsize=7, color="white"))
        self.ref_line_ = None
        if ref_line:
            (self.ref_line_,) = ax.plot([0, 1], [0, 1], "k--", linewidth=1,
                                        label="Perfectly calibrated")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Confidence (max probability)",
               ylabel="Accuracy", title=name or "")
        ax.legend(loc="upper left", fontsize="x-small")
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_predictions(cls, y_true, y_prob, *, n_bins=15, strategy="uniform",
                         sample_weight=None, labels=None, name=None, ax=None,
                         ref_line=True, show_gaps=True, show_counts=True):
        """Plot a reliability diagram from labels and predicted probabilities.

        The diagram shows the accuracy and mean confidence of each confidence bin,
        computed by :func:`skbdl.metrics.reliability_curve`, and the ECE in the legend.
        Pass `ax` to draw several methods on one figure, one axes each.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True class labels.
        y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
            Predicted probabilities, as returned by ``predict_proba``.
        n_bins : int, default=15
            Number of bins.
        strategy : {"uniform", "quantile"}, default="uniform"
            Equal-width or equal-mass bins.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        labels : array-like of shape (n_classes,), default=None
            All class labels, needed when ``y_true`` misses some of them.
        name : str, default=None
            Name for the title (e.g. the method).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.
        show_gaps : bool, default=True
            Draw hatched bars between accuracy and mean confidence.
        show_counts : bool, default=True
            Write the number of samples at the foot of each bar.

        Returns
        -------
        ReliabilityDisplay
            The plotted display.

        See Also
        --------
        ReliabilityDisplay.from_estimator : Plot from a fitted classifier.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> from skbdl.plotting import ReliabilityDisplay
        >>> fig, axes = plt.subplots(1, 2, sharey=True)
        >>> y_true = [0, 1, 1, 2]
        >>> probas = {"a": [[.8, .1, .1], [.2, .7, .1], [.3, .4, .3], [.1, .1, .8]],
        ...           "b": [[.4, .3, .3], [.3, .4, .3], [.3, .4, .3], [.3, .3, .4]]}
        >>> for ax, (name, y_prob) in zip(axes, probas.items()):
        ...     disp = ReliabilityDisplay.from_predictions(y_true, y_prob, name=name,
        ...                                                ax=ax)
        >>> round(disp.ece, 3)
        0.6
        """
        kwargs = dict(n_bins=n_bins, strategy=strategy, sample_weight=sample_weight,
                      labels=labels)
        accuracy, confidence, counts, edges = reliability_curve(y_true, y_prob,
                                                                **kwargs)
        ece = expected_calibration_error(y_true, y_prob, **kwargs)
        display = cls(accuracy, confidence, counts, edges, ece=ece,
                      estimator_name=name)
        return display.plot(ax=ax, ref_line=ref_line, show_gaps=show_gaps,
                            show_counts=show_counts)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, n_bins=15, strategy="uniform",
                       sample_weight=None, name=None, ax=None, ref_line=True,
                       show_gaps=True, show_counts=True):
        """Plot a reliability diagram of a fitted classifier on data.

        The probabilities come from ``estimator.predict_proba(X)`` and the columns are
        labelled by ``estimator.classes_``.

        Parameters
        ----------
        estimator : estimator instance
            Fitted classifier with ``predict_proba`` and ``classes_``.
        X : array-like of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,)
            True class labels.
        n_bins : int, default=15
            Number of bins.
        strategy : {"uniform", "quantile"}, default="uniform"
            Equal-width or equal-mass bins.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        name : str, default=None
            Name for the title; defaults to the estimator's class.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.
        show_gaps : bool, default=True
            Draw hatched bars between accuracy and mean confidence.
        show_counts : bool, default=True
            Write the number of samples at the foot of each bar.

        Returns
        -------
        ReliabilityDisplay
            The plotted display.

        See Also
        --------
        ReliabilityDisplay.from_predictions : Plot from probabilities.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from skbdl.plotting import ReliabilityDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = LogisticRegression(max_iter=1000).fit(X, y)
        >>> disp = ReliabilityDisplay.from_estimator(clf, X, y, n_bins=10)
        >>> disp.ax_.get_title()
        'LogisticRegression'
        """
        return cls.from_predictions(
            y, estimator.predict_proba(X), n_bins=n_bins, strategy=strategy,
            sample_weight=sample_weight, labels=getattr(estimator, "classes_", None),
            name=type(estimator).__name__ if name is None else name, ax=ax,
            ref_line=ref_line, show_gaps=show_gaps, show_counts=show_counts)
