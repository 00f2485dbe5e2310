"""PredictiveBand, PriorPredictive and ActiveLearningCurve displays: plotted data."""

import matplotlib
import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import BayesianRidge

from skbdl.plotting import (
    ActiveLearningCurveDisplay,
    PredictiveBandDisplay,
    PriorPredictiveDisplay,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

X_1D = np.array([0.0, 1.0, 2.0, 3.0, 5.0])[:, None]
Y_1D = np.sin(X_1D[:, 0])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _has_vertices(collection, x, y):
    verts = collection.get_paths()[0].vertices
    return all(np.any(np.all(np.isclose(verts, [a, b]), axis=1))
               for a, b in zip(x, y))


def test_predictive_band_sorts_inputs_and_draws_bands():
    x = np.array([2.0, 0.0, 1.0])
    mean, std = np.array([4.0, 0.0, 2.0]), np.array([0.5, 0.1, 0.2])
    draws = np.column_stack([mean + 1, mean - 1])
    disp = PredictiveBandDisplay.from_predictions(
        x, mean, std, x_data=[0.5], y_data=[1.0], draws=draws, name="toy",
        n_std=(2, 1))
    np.testing.assert_array_equal(disp.mean_line_.get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(disp.mean_line_.get_ydata(), [0, 2, 4])
    xs, ms, ss = np.array([0, 1, 2.0]), np.array([0, 2, 4.0]), np.array([.1, .2, .5])
    for band, k in zip(disp.bands_, (1, 2)):    # narrowest first
        assert _has_vertices(band, xs, ms - k * ss)
        assert _has_vertices(band, xs, ms + k * ss)
        assert band.get_label() == f"mean ± {k} std"
    np.testing.assert_array_equal(disp.draw_lines_[1].get_ydata(), [-1, 1, 3])
    np.testing.assert_array_equal(disp.data_points_.get_offsets(), [[0.5, 1.0]])
    assert disp.mean_line_.get_label() == "toy"


def test_predictive_band_from_gp_with_draws():
    gp = GaussianProcessRegressor(alpha=1e-2, optimizer=None).fit(X_1D, Y_1D)
    disp = PredictiveBandDisplay.from_estimator(gp, X_1D, Y_1D, n_draws=3,
                                                random_state=0)
    grid = disp.mean_line_.get_xdata()
    assert grid.shape == (200,)
    assert grid[0] == pytest.approx(-0.5) and grid[-1] == pytest.approx(5.5)
    mean, std = gp.predict(grid[:, None], return_std=True)
    np.testing.assert_allclose(disp.mean_line_.get_ydata(), mean)
    assert _has_vertices(disp.bands_[1], grid[::20], (mean + 2 * std)[::20])
    draws = gp.sample_y(grid[:, None], 3, random_state=0)
    for j, line in enumerate(disp.draw_lines_):
        np.testing.assert_allclose(line.get_ydata(), draws[:, j])
    np.testing.assert_array_equal(disp.data_points_.get_offsets(),
                                  np.column_stack([X_1D[:, 0], Y_1D]))


def test_predictive_band_explicit_grid_no_data_no_sample_y():
    reg = BayesianRidge().fit(X_1D, Y_1D)
    grid = np.linspace(-1, 1, 7)[:, None]
    disp = PredictiveBandDisplay.from_estimator(reg, X_1D, X_grid=grid)
    np.testing.assert_array_equal(disp.mean_line_.get_xdata(), grid[:, 0])
    assert disp.data_points_ is None and disp.draw_lines_ == []


def test_predictive_band_input_errors():
    with pytest.raises(ValueError, match="single feature"):
        PredictiveBandDisplay.from_predictions(np.zeros((3, 2)), [0, 0, 0],
                                               [1, 1, 1])
    with pytest.raises(ValueError, match=r"shape \(n_rows, n_draws\)"):
        PredictiveBandDisplay.from_predictions([0, 1, 2], [0, 0, 0], [1, 1, 1],
                                               draws=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="both x_data and y_data"):
        PredictiveBandDisplay.from_predictions([0, 1], [0, 0], [1, 1], x_data=[0])


class _FakePriorModel:
    """Prior draws f_j(x) = j * x, recording how it was called."""

    def sample_prior_predictive(self, X, n_samples=10, random_state=None):
        self.call_ = (X.shape, n_samples, random_state)
        return X @ np.arange(1, n_samples + 1)[None, :].astype(float)


def test_prior_predictive_from_estimator_plots_each_draw():
    model = _FakePriorModel()
    X = np.array([[1.0], [-1.0], [0.0]])
    disp = PriorPredictiveDisplay.from_estimator(model, X, n_samples=4,
                                                 random_state=7)
    assert model.call_ == ((3, 1), 4, 7)
    assert len(disp.draw_lines_) == 4
    for j, line in enumerate(disp.draw_lines_, start=1):
        np.testing.assert_array_equal(line.get_xdata(), [-1, 0, 1])
        np.testing.assert_array_equal(line.get_ydata(), [-j, 0, j])
    assert disp.ax_.get_title() == "Prior draws: _FakePriorModel"


def test_active_learning_curves_mean_band_and_legend():
    results = {"random": ([10, 20, 30], [[0.5, 0.6, 0.7], [0.7, 0.8, 0.7]]),
               "bald": (np.array([10, 20, 30]), np.array([0.6, 0.8, 0.9]))}
    disp = ActiveLearningCurveDisplay.from_results(results, score_name="Accuracy")
    np.testing.assert_allclose(disp.lines_["random"].get_ydata(), [0.6, 0.7, 0.7])
    np.testing.assert_array_equal(disp.lines_["bald"].get_xdata(), [10, 20, 30])
    np.testing.assert_allclose(disp.lines_["bald"].get_ydata(), [0.6, 0.8, 0.9])
    assert list(disp.bands_) == ["random"]
    assert _has_vertices(disp.bands_["random"], [10, 20, 30], [0.5, 0.6, 0.7])
    assert _has_vertices(disp.bands_["random"], [10, 20, 30], [0.7, 0.8, 0.7])
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend == ["random (n=2)", "bald"]
    assert disp.ax_.get_ylabel() == "Accuracy"


def test_active_learning_curves_validate_shapes():
    with pytest.raises(ValueError, match="Strategy 'bald'"):
        ActiveLearningCurveDisplay.from_results({"bald": ([10, 20], [0.5, 0.6, 0.7])})
    with pytest.raises(ValueError, match="at least one strategy"):
        ActiveLearningCurveDisplay.from_results({})
