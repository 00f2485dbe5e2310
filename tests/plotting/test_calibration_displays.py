"""ReliabilityDisplay and RegressionCalibrationDisplay: the plotted data."""

import sys

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import BayesianRidge, LogisticRegression

from skbdl.metrics import (
    expected_calibration_error,
    regression_calibration_curve,
    reliability_curve,
)
from skbdl.plotting import RegressionCalibrationDisplay, ReliabilityDisplay

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Confidences 0.6 (correct), 0.8 (wrong), 1.0 (correct), 0.7 (correct),
# 0.5 (wrong) in five bins: bins 2, 3, 4 hold 2, 2, 1 samples.
Y_EDGE = np.array([1, 0, 1, 0, 1])
P_EDGE = np.array([[0.4, 0.6], [0.2, 0.8], [0.0, 1.0], [0.7, 0.3], [0.5, 0.5]])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _bar_data(container):
    return np.array([[b.get_x(), b.get_y(), b.get_width(), b.get_height()]
                     for b in container])


def test_reliability_bars_counts_gaps_and_legend():
    disp = ReliabilityDisplay.from_predictions(Y_EDGE, P_EDGE, n_bins=5,
                                               name="toy")
    bars = _bar_data(disp.bars_)
    np.testing.assert_allclose(bars[:, 0], [0.4, 0.6, 0.8])   # empty bins skipped
    np.testing.assert_allclose(bars[:, 1], 0.0)
    np.testing.assert_allclose(bars[:, 2], 0.2)
    np.testing.assert_allclose(bars[:, 3], [0.5, 0.5, 1.0])
    gaps = _bar_data(disp.gap_bars_)
    np.testing.assert_allclose(gaps[:, 1], [0.5, 0.5, 1.0])   # start at accuracy
    np.testing.assert_allclose(gaps[:, 3], [0.05, 0.25, 0.0], atol=1e-15)
    assert [t.get_text() for t in disp.count_texts_] == ["2", "2", "1"]
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend == ["Perfectly calibrated", "Accuracy (ECE = 0.120)", "Gap"]
    np.testing.assert_array_equal(disp.ref_line_.get_xydata(), [[0, 0], [1, 1]])
    assert disp.ax_.get_title() == "toy"
    assert disp.figure_ is disp.ax_.figure
    assert disp.ece == pytest.approx(0.12)


def test_reliability_optional_artists_off():
    disp = ReliabilityDisplay.from_predictions(
        Y_EDGE, P_EDGE, n_bins=5, ref_line=False, show_gaps=False,
        show_counts=False)
    assert disp.gap_bars_ is None and disp.ref_line_ is None
    assert disp.count_texts_ == [] and len(disp.ax_.texts) == 0
    assert len(disp.ax_.patches) == 3


def test_reliability_from_estimator_multiclass_matches_curve():
    X, y = load_iris(return_X_y=True)
    clf = LogisticRegression(C=0.05, max_iter=1000).fit(X, y)
    disp = ReliabilityDisplay.from_estimator(clf, X, y, n_bins=10)
    acc, conf, counts, edges = reliability_curve(y, clf.predict_proba(X), n_bins=10)
    full = counts > 0
    np.testing.assert_allclose(_bar_data(disp.bars_)[:, 3], acc[full])
    np.testing.assert_allclose(_bar_data(disp.bars_)[:, 0], edges[:-1][full])
    assert [float(t.get_text()) for t in disp.count_texts_] == list(counts[full])
    assert disp.ece == expected_calibration_error(y, clf.predict_proba(X), n_bins=10)
    assert disp.ax_.get_title() == "LogisticRegression"


def test_reliability_several_methods_one_axes_each():
    fig, axes = plt.subplots(1, 2)
    probas = {"sharp": P_EDGE, "flat": np.full((5, 2), 0.5)}
    displays = [ReliabilityDisplay.from_predictions(Y_EDGE, p, name=n, ax=ax,
                                                    n_bins=5)
                for ax, (n, p) in zip(axes, probas.items())]
    assert [d.ax_ for d in displays] == list(axes)
    assert all(d.figure_ is fig for d in displays)
    assert [ax.get_title() for ax in axes] == ["sharp", "flat"]
    # The flat model predicts class 0 with confidence 0.5: accuracy 2/5.
    np.testing.assert_allclose(_bar_data(displays[1].bars_)[:, 3], [0.4])


def test_plot_without_matplotlib_raises_actionable_error(monkeypatch):
    disp = ReliabilityDisplay([0.5], [0.6], [1], [0.0, 1.0])
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skbdl\[plot\]"):
        disp.plot()
    band = RegressionCalibrationDisplay([0.5], [0.5])
    with pytest.raises(ImportError, match="RegressionCalibrationDisplay.plot "
                                          "requires matplotlib"):
        band.plot()


def test_regression_calibration_from_predictions_plots_curve():
    y, mu, sd = [0.0, 1.0, -2.0, 2.0], [0.0] * 4, [1.0] * 4
    disp = RegressionCalibrationDisplay.from_predictions(
        y, mu, sd, levels=[0.25, 0.5, 0.75], name="toy")
    np.testing.assert_array_equal(disp.line_.get_xdata(), [0.25, 0.5, 0.75])
    np.testing.assert_array_equal(disp.line_.get_ydata(), [0.25, 0.5, 0.5])
    assert disp.line_.get_label() == f"toy (CE = {0.25 ** 2 / 3:.4f})"
    assert disp.ax_.get_ylabel() == "Observed fraction below quantile"
    cov = RegressionCalibrationDisplay.from_predictions(
        y, mu, sd, levels=[0.5, 0.7, 0.99], kind="interval", ref_line=False)
    np.testing.assert_array_equal(cov.line_.get_ydata(), [0.25, 0.5, 1.0])
    assert cov.ax_.get_xlabel().startswith("Expected coverage")
    assert cov.ref_line_ is None and cov.calibration_error is None


@pytest.mark.parametrize("estimator", [BayesianRidge(),
                                       GaussianProcessRegressor(alpha=1.0)])
def test_regression_calibration_from_estimator(estimator):
    X, y = make_regression(n_samples=60, n_features=2, noise=3.0, random_state=0)
    estimator.fit(X, y / 50)
    disp = RegressionCalibrationDisplay.from_estimator(estimator, X, y / 50)
    mean, std = estimator.predict(X, return_std=True)
    expected, observed = regression_calibration_curve(y / 50, mean, std)
    np.testing.assert_array_equal(disp.line_.get_xdata(), expected)
    np.testing.assert_array_equal(disp.line_.get_ydata(), observed)
    assert disp.line_.get_label().startswith(type(estimator).__name__)
