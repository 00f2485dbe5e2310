"""Displays of predictive functions over a 1-D input: posterior band, prior draws."""

import numpy as np
from sklearn.utils import check_array

from ._base import axes_and_figure, column_input, draws_matrix, regular_grid


def _vector(value, n_rows, name):
    arr = check_array(value, ensure_2d=False, dtype=np.float64, input_name=name)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise ValueError(f"{name} must have shape ({n_rows},), got {arr.shape}.")
    return arr


class PredictiveBandDisplay:
    """Predictive mean and standard-deviation bands of a regressor on a 1-D input.

    Shows the training data, the predictive mean, shaded bands of
    ``mean +/- k * std`` for each ``k`` in ``n_std`` and, optionally, a few
    posterior predictive draws. Create it with :meth:`from_estimator` or
    :meth:`from_predictions`.

    Parameters
    ----------
    x : ndarray of shape (n_points,)
        Sorted input locations.
    mean : ndarray of shape (n_points,)
        Predictive mean at `x`.
    std : ndarray of shape (n_points,)
        Predictive standard deviation at `x`.
    x_data : ndarray of shape (n_samples,), default=None
        Inputs of the observed data, drawn as points.
    y_data : ndarray of shape (n_samples,), default=None
        Targets of the observed data.
    draws : ndarray of shape (n_points, n_draws), default=None
        Predictive draws at `x`, draws on the last axis.
    estimator_name : str, default=None
        Name shown in the legend.

    Attributes
    ----------
    mean_line_ : matplotlib Line2D
        The predictive mean.
    bands_ : list of matplotlib PolyCollection
        One band per entry of ``n_std``, narrowest first.
    draw_lines_ : list of matplotlib Line2D
        One line per draw.
    data_points_ : matplotlib PathCollection or None
        The observed data.
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.

    See Also
    --------
    PriorPredictiveDisplay : Functions drawn from the prior.
    RegressionCalibrationDisplay : Whether the bands have the right width.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.plotting import PredictiveBandDisplay
    >>> x = np.linspace(0, 1, 5)
    >>> disp = PredictiveBandDisplay.from_predictions(x, np.sin(x),
    ...                                               np.full(5, 0.1))
    >>> len(disp.bands_)
    2
    """

    def __init__(self, x, mean, std, *, x_data=None, y_data=None, draws=None,
                 estimator_name=None):
        self.x = x
        self.mean = mean
        self.std = std
        self.x_data = x_data
        self.y_data = y_data
        self.draws = draws
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None, n_std=(1, 2)):
        """Plot the data, the predictive mean, the bands and the draws.

        Use it to redraw the stored data with other bands.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        name : str, default=None
            Name for the legend; defaults to `estimator_name`.
        n_std : tuple of float, default=(1, 2)
            Half-widths of the bands, in standard deviations.

        Returns
        -------
        PredictiveBandDisplay
            The display, with the artists stored in its attributes.

        See Also
        --------
        PredictiveBandDisplay.from_predictions : Validate data and plot.

        Examples
        --------
        >>> import numpy as np
        >>> from skbdl.plotting import PredictiveBandDisplay
        >>> x = np.linspace(0, 1, 5)
        >>> disp = PredictiveBandDisplay(x, x, np.full(5, 0.1)).plot(n_std=(3,))
        >>> len(disp.bands_)
        1
        """
        ax, fig = axes_and_figure(ax, "PredictiveBandDisplay.plot")
        name = self.estimator_name if name is None else name
        self.bands_ = []
        for k in sorted(n_std, reverse=True):
            self.bands_.append(ax.fill_between(
                self.x, self.mean - k * self.std, self.mean + k * self.std,
                color="tab:blue", alpha=0.15 + 0.1 / k, linewidth=0,
                label=f"mean ± {k:g} std"))
        self.bands_.reverse()
        self.draw_lines_ = []
        if self.draws is not None:
            for j in range(self.draws.shape[1]):
                self.draw_lines_.extend(ax.plot(
                    self.x, self.draws[:, j], color="tab:purple", alpha=0.5,
                    linewidth=0.8, label="Predictive draws" if j == 0 else None))
        (self.mean_line_,) = ax.plot(self.x, self.mean, color="tab:blue",
                                     linewidth=2, label=name or "Predictive mean")
        self.data_points_ = None
        if self.x_data is not None:
            self.data_points_ = ax.scatter(self.x_data, self.y_data, s=12,
                                           color="black", zorder=3,
                                           label="Observations")
        ax.set(xlabel="x", ylabel="y")
        ax.legend(loc="best", fontsize="small")
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_predictions(cls, x, mean, std, *, x_data=None, y_data=None, draws=None,
                         name=None, ax=None, n_std=(1, 2)):
        """Plot predictive bands from precomputed predictions.

        The inputs are sorted, so the predictions may come in any row order.

        Parameters
        ----------
        x : array-like of shape (n_points,) or (n_points, 1)
            Input locations; sorted before plotting.
        mean : array-like of shape (n_points,)
            Predictive mean at `x`.
        std : array-like of shape (n_points,)
            Predictive standard deviation at `x`.
        x_data : array-like of shape (n_samples,) or (n_samples, 1), default=None
            Inputs of the observed data.
        y_data : array-like of shape (n_samples,), default=None
            Targets of the observed data; required with `x_data`.
        draws : array-like of shape (n_points, n_draws), default=None
            Predictive draws at `x`.
        name : str, default=None
            Name for the legend.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        n_std : tuple of float, default=(1, 2)
            Half-widths of the bands, in standard deviations.

        Returns
        -------
        PredictiveBandDisplay
            The plotted display.

        See Also
        --------
        PredictiveBandDisplay.from_estimator : Plot from a regressor.

        Examples
        --------
        >>> import numpy as np
        >>> from skbdl.plotting import PredictiveBandDisplay
        >>> x = np.array([1.0, 0.0, 0.5])
        >>> disp = PredictiveBandDisplay.from_predictions(x, 2 * x, np.ones(3))
        >>> disp.mean_line_.get_ydata()
        array([0., 1., 2.])
        """
        _, x = column_input(x, "x")
        order = np.argsort(x, kind="stable")
        mean = _vector(mean, x.shape[0], "mean")[order]
        std = _vector(std, x.shape[0], "std")[order]
        if np.any(std < 0):
            raise ValueError("std must be non-negative.")
        if draws is not None:
            draws = draws_matrix(draws, x.shape[0])[order]
        if (x_data is None) != (y_data is None):
            raise ValueError("Pass both x_data and y_data, or neither.")
        if x_data is not None:
            _, x_data = column_input(x_data, "x_data")
            y_data = _vector(y_data, x_data.shape[0], "y_data")
        display = cls(x[order], mean, std, x_data=x_data, y_data=y_data,
                      draws=draws, estimator_name=name)
        return display.plot(ax=ax, n_std=n_std)

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, X_grid=None, n_draws=0,
                       random_state=None, name=None, ax=None, n_std=(1, 2)):
        """Plot the predictive bands of a fitted regressor with one input feature.

        The predictive comes from ``estimator.predict(X_grid, return_std=True)`` and the
        draws from ``estimator.sample_y``.

        Parameters
        ----------
        estimator : estimator instance
            Fitted regressor with ``predict(X, return_std=True)``, and
            ``sample_y(X, n_samples, random_state)`` when ``n_draws > 0``.
        X : array-like of shape (n_samples, 1)
            Observed inputs, drawn as points and used to choose the grid.
        y : array-like of shape (n_samples,), default=None
            Observed targets; the points are drawn only when given.
        X_grid : array-like of shape (n_points, 1), default=None
            Where to evaluate the predictive; None means 200 points spanning
            the range of `X` widened by 10% on each side.
        n_draws : int, default=0
            Number of predictive draws to plot.
        random_state : int, RandomState instance or None, default=None
            Seed passed to ``sample_y``.
        name : str, default=None
            Name for the legend; defaults to the estimator's class.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        n_std : tuple of float, default=(1, 2)
            Half-widths of the bands, in standard deviations.

        Returns
        -------
        PredictiveBandDisplay
            The plotted display.

        See Also
        --------
        PredictiveBandDisplay.from_predictions : Plot from predictions.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.gaussian_process import GaussianProcessRegressor
        >>> from skbdl.plotting import PredictiveBandDisplay
        >>> X = np.linspace(0, 5, 8)[:, None]
        >>> gp = GaussianProcessRegressor(alpha=1e-2).fit(X, np.sin(X[:, 0]))
        >>> disp = PredictiveBandDisplay.from_estimator(gp, X, np.sin(X[:, 0]),
        ...                                             n_draws=3, random_state=0)
        >>> len(disp.draw_lines_)
        3
        """
        _, x_data = column_input(X, "X")
        grid = regular_grid(x_data) if X_grid is None else column_input(X_grid,
                                                                        "X_grid")[1]
        mean, std = estimator.predict(grid[:, None], return_std=True)
        draws = None
        if n_draws > 0:
            draws = estimator.sample_y(grid[:, None], n_draws,
                                       random_state=random_state)
        return cls.from_predictions(
            grid, mean, std, x_data=None if y is None else x_data, y_data=y,
            draws=draws, name=type(estimator).__name__ if name is None else name,
            ax=ax, n_std=n_std)


class PriorPredictiveDisplay:
    """Functions drawn from the prior of a model, over a 1-D input.

    Plotting prior draws before fitting shows what the prior (weight scale,
    activation, depth) says about functions: their amplitude, smoothness and
    how they behave away from the data. Create it with :meth:`from_estimator`
    or :meth:`from_predictions`.

    Parameters
    ----------
    x : ndarray of shape (n_points,)
        Sorted input locations.
    draws : ndarray of shape (n_points, n_draws)
        Prior function draws at `x`, draws on the last axis.
    estimator_name : str, default=None
        Name shown in the title.

    Attributes
    ----------
    draw_lines_ : list of matplotlib Line2D
        One line per draw.
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.

    See Also
    --------
    PredictiveBandDisplay : The posterior predictive after fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.plotting import PriorPredictiveDisplay
    >>> x = np.linspace(-1, 1, 4)
    >>> draws = np.column_stack([x, -x, x ** 2])
    >>> disp = PriorPredictiveDisplay.from_predictions(x, draws)
    >>> len(disp.draw_lines_)
    3
    """

    def __init__(self, x, draws, *, estimator_name=None):
        self.x = x
        self.draws = draws
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None):
        """Plot the prior draws.

        Use it to redraw the stored draws, e.g. on other axes.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        name : str, default=None
            Name for the title; defaults to `estimator_name`.

        Returns
        -------
        PriorPredictiveDisplay
            The display, with the artists stored in its attributes.

        See Also
        --------
        PriorPredictiveDisplay.from_predictions : Validate draws and plot.

        Examples
        --------
        >>> import numpy as np
        >>> from skbdl.plotting import PriorPredictiveDisplay
        >>> x = np.linspace(0, 1, 3)
        >>> disp = PriorPredictiveDisplay(x, np.column_stack([x, 1 - x])).plot()
        >>> len(disp.draw_lines_)
        2
        """
        ax, fig = axes_and_figure(ax, "PriorPredictiveDisplay.plot")
        name = self.estimator_name if name is None else name
        self.draw_lines_ = ax.plot(self.x, self.draws, linewidth=1, alpha=0.8)
        title = "Prior draws" if name is None else f"Prior draws: {name}"
        ax.set(xlabel="x", ylabel="f(x)", title=title)
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_predictions(cls, x, draws, *, name=None, ax=None):
        """Plot precomputed prior draws.

        The inputs are sorted, so the draws may come in any row order.

        Parameters
        ----------
        x : array-like of shape (n_points,) or (n_points, 1)
            Input locations; sorted before plotting.
        draws : array-like of shape (n_points, n_draws)
            Prior function draws at `x`.
        name : str, default=None
            Name for the title.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        PriorPredictiveDisplay
            The plotted display.

        See Also
        --------
        PriorPredictiveDisplay.from_estimator : Draw from an estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from skbdl.plotting import PriorPredictiveDisplay
        >>> x = np.array([1.0, 0.0])
        >>> disp = PriorPredictiveDisplay.from_predictions(x, [[1.0], [0.0]])
        >>> disp.draw_lines_[0].get_ydata()
        array([0., 1.])
        """
        _, x = column_input(x, "x")
        order = np.argsort(x, kind="stable")
        draws = draws_matrix(draws, x.shape[0])[order]
        return cls(x[order], draws, estimator_name=name).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, X, *, n_samples=10, random_state=None,
                       name=None, ax=None):
        """Plot functions drawn from the prior of an estimator.

        Any object with a ``sample_prior_predictive`` method works, fitted or not if the
        estimator allows it.

        Parameters
        ----------
        estimator : estimator instance
            Estimator with ``sample_prior_predictive(X, n_samples=...,
            random_state=...)`` returning latent draws of shape
            (n_points, n_samples), such as ``skbdl.BayesianMLPRegressor``.
        X : array-like of shape (n_points, 1)
            Input locations, e.g. ``np.linspace(-3, 3, 200)[:, None]``.
        n_samples : int, default=10
            Number of prior draws.
        random_state : int, RandomState instance or None, default=None
            Seed passed to ``sample_prior_predictive``.
        name : str, default=None
            Name for the title; defaults to the estimator's class.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        PriorPredictiveDisplay
            The plotted display.

        See Also
        --------
        PriorPredictiveDisplay.from_predictions : Plot precomputed draws.

        Examples
        --------
        >>> import numpy as np
        >>> from skbdl.plotting import PriorPredictiveDisplay
        >>> class LinearPrior:
        ...     def sample_prior_predictive(self, X, n_samples=10, random_state=None):
        ...         rng = np.random.default_rng(random_state)
        ...         return X @ rng.normal(size=(1, n_samples))
        >>> X = np.linspace(-1, 1, 20)[:, None]
        >>> disp = PriorPredictiveDisplay.from_estimator(LinearPrior(), X, n_samples=5,
        ...                                              random_state=0)
        >>> len(disp.draw_lines_)
        5
        """
        X, _ = column_input(X, "X")
        draws = estimator.sample_prior_predictive(X, n_samples=n_samples,
                                                  random_state=random_state)
        return cls.from_predictions(
            X, draws, name=type(estimator).__name__ if name is None else name, ax=ax)
