"""Learning curves of active-learning strategies."""

import numpy as np
from sklearn.utils import check_array

from ._base import axes_and_figure


def _check_curve(strategy, n_labels, scores):
    n_labels = check_array(n_labels, ensure_2d=False, dtype=np.float64,
                           input_name="n_labels")
    scores = check_array(scores, ensure_2d=False, dtype=np.float64,
                         input_name="scores")
    if scores.ndim == 1:
        scores = scores[None, :]
    if n_labels.ndim != 1 or scores.ndim != 2 or scores.shape[1] != n_labels.size:
        raise ValueError(
            f"Strategy {strategy!r}: expected n_labels of shape (n_rounds,) and "
            "scores of shape (n_rounds,) or (n_repeats, n_rounds); got "
            f"{n_labels.shape} and {scores.shape}."
        )
    return n_labels, scores


class ActiveLearningCurveDisplay:
    """Score against the number of labels for several query strategies.

    Each strategy is drawn as the mean score over repeats, with a band of one
    standard deviation across repeats when there are several. Create it with
    :meth:`from_results`.

    Parameters
    ----------
    n_labels : dict of str to ndarray of shape (n_rounds,)
        Number of labelled samples after each round, per strategy.
    scores : dict of str to ndarray of shape (n_repeats, n_rounds)
        Test score after each round and repeat, per strategy.
    score_name : str, default="Score"
        Label of the y axis.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        Mean score of each strategy.
    bands_ : dict of str to matplotlib PolyCollection
        Mean +/- one standard deviation, for strategies with several repeats.
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.

    See Also
    --------
    skbdl.ActiveLearner : Runs the query rounds.

    Examples
    --------
    >>> from skbdl.plotting import ActiveLearningCurveDisplay
    >>> results = {
    ...     "random": ([10, 20, 30], [[0.60, 0.70, 0.75], [0.62, 0.68, 0.77]]),
    ...     "bald": ([10, 20, 30], [0.61, 0.78, 0.85]),
    ... }
    >>> disp = ActiveLearningCurveDisplay.from_results(results,
    ...                                                score_name="Accuracy")
    >>> disp.lines_["random"].get_ydata()
    array([0.61, 0.69, 0.76])
    >>> sorted(disp.bands_)
    ['random']
    """

    def __init__(self, n_labels, scores, *, score_name="Score"):
        self.n_labels = n_labels
        self.scores = scores
        self.score_name = score_name

    def plot(self, ax=None, *, show_std=True):
        """Plot one curve per strategy.

        Use it to redraw the stored curves, e.g. on other axes.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        show_std : bool, default=True
            Shade mean +/- one standard deviation over repeats.

        Returns
        -------
        ActiveLearningCurveDisplay
            The display, with the artists stored in its attributes.

        See Also
        --------
        ActiveLearningCurveDisplay.from_results : Validate results and plot.

        Examples
        --------
        >>> import numpy as np
        >>> from skbdl.plotting import ActiveLearningCurveDisplay
        >>> disp = ActiveLearningCurveDisplay({"random": np.array([5, 10])},
        ...                                   {"random": np.array([[0.5, 0.7]])})
        >>> disp = disp.plot()
        >>> list(disp.lines_)
        ['random']
        """
        ax, fig = axes_and_figure(ax, "ActiveLearningCurveDisplay.plot")
        self.lines_, self.bands_ = {}, {}
        for strategy, scores in self.scores.items():
            x = self.n_labels[strategy]
            mean = scores.mean(axis=0)
            n_repeats = scores.shape[0]
            label = strategy if n_repeats == 1 else f"{strategy} (n={n_repeats})"
            (line,) = ax.plot(x, mean, "o-", markersize=3, label=label)
            self.lines_[strategy] = line
            if show_std and n_repeats > 1:
                std = scores.std(axis=0)
                self.bands_[strategy] = ax.fill_between(
                    x, mean - std, mean + std, color=line.get_color(), alpha=0.2,
                    linewidth=0)
        ax.set(xlabel="Number of labelled samples", ylabel=self.score_name)
        ax.legend(loc="best", fontsize="small")
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_results(cls, results, *, score_name="Score", ax=None, show_std=True):
        """Plot learning curves from a dict of per-strategy results.

        Pass the scores of several repeats (seeds) as a 2-D array to get a band of one
        standard deviation around the mean.

        Parameters
        ----------
        results : dict of str to tuple (n_labels, scores)
            For each strategy, ``n_labels`` of shape (n_rounds,) and ``scores``
            of shape (n_rounds,) or (n_repeats, n_rounds).
        score_name : str, default="Score"
            Label of the y axis.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        show_std : bool, default=True
            Shade mean +/- one standard deviation over repeats.

        Returns
        -------
        ActiveLearningCurveDisplay
            The plotted display.

        See Also
        --------
        ActiveLearningCurveDisplay.plot : Redraw the curves.

        Examples
        --------
        >>> from skbdl.plotting import ActiveLearningCurveDisplay
        >>> disp = ActiveLearningCurveDisplay.from_results(
        ...     {"bald": ([10, 20], [[0.6, 0.8], [0.7, 0.8]])})
        >>> disp.lines_["bald"].get_ydata()
        array([0.65, 0.8 ])
        """
        if not results:
            raise ValueError("results must hold at least one strategy.")
        n_labels, scores = {}, {}
        for strategy, curve in results.items():
            if len(curve) != 2:
                raise ValueError(
                    f"results[{strategy!r}] must be a pair (n_labels, scores).")
            n_labels[strategy], scores[strategy] = _check_curve(strategy, *curve)
        display = cls(n_labels, scores, score_name=score_name)
        return display.plot(ax=ax, show_std=show_std)
