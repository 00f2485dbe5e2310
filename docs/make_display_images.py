"""Render one PNG per skbdl display into docs/images/.

Run from the repository root: ``python docs/make_display_images.py``.
Every image is computed from real fits on small data sets bundled with
scikit-learn or generated here, with fixed seeds.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.gaussian_process import GaussianProcessRegressor  # noqa: E402
from sklearn.gaussian_process.kernels import RBF, WhiteKernel  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402

from skbdl.plotting import (  # noqa: E402
    ActiveLearningCurveDisplay,
    PredictiveBandDisplay,
    PriorPredictiveDisplay,
    RegressionCalibrationDisplay,
    ReliabilityDisplay,
)

OUT = Path(__file__).parent / "images"


def _save(fig, name):
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=110)
    plt.close(fig)
    print("wrote", OUT / name)


def _sine(n, seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 3, n))
    return x[:, None], np.sin(2 * x) + 0.3 * x + rng.normal(0, 0.2, n)


def reliability():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, random_state=0)
    models = {"LogisticRegression": LogisticRegression(max_iter=2000),
              "GaussianNB": GaussianNB()}
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharey=True)
    for ax, (name, model) in zip(axes, models.items()):
        proba = model.fit(X_tr, y_tr).predict_proba(X_te)
        ReliabilityDisplay.from_predictions(y_te, proba, name=name, ax=ax)
    _save(fig, "reliability_display.png")


def regression_calibration():
    X, y = _sine(300, 0)
    X_te, y_te = _sine(300, 1)
    learned = GaussianProcessRegressor(RBF() + WhiteKernel(), random_state=0)
    # Same kernel shape, noise fixed far below the true 0.2**2: overconfident.
    fixed = GaussianProcessRegressor(RBF(0.7), alpha=1e-3, optimizer=None)
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    RegressionCalibrationDisplay.from_estimator(
        learned.fit(X, y), X_te, y_te, name="GP, learned noise", ax=ax)
    RegressionCalibrationDisplay.from_estimator(
        fixed.fit(X, y), X_te, y_te, name="GP, noise too low", ax=ax,
        ref_line=False)
    ax.set_title("Regression calibration, noisy sine")
    _save(fig, "regression_calibration_display.png")


def predictive_band():
    X, y = _sine(25, 2)
    keep = (X[:, 0] < -0.5) | (X[:, 0] > 1.0)   # a gap without data
    gp = GaussianProcessRegressor(RBF() + WhiteKernel(), random_state=0)
    gp.fit(X[keep], y[keep])
    fig, ax = plt.subplots(figsize=(6, 3.8))
    PredictiveBandDisplay.from_estimator(gp, X[keep], y[keep], n_draws=3,
                                         random_state=0, name="GP mean", ax=ax)
    ax.set_title("Predictive band (mean ± 1, 2 std) and 3 draws")
    _save(fig, "predictive_band_display.png")


def _active_learning_run(X_pool, y_pool, X_te, y_te, strategy, seed, rounds=10):
    rng = np.random.default_rng(seed)
    labelled = list(rng.choice(len(y_pool), 20, replace=False))
    n_labels, scores = [], []
    for _ in range(rounds):
        model = LogisticRegression(max_iter=500).fit(X_pool[labelled],
                                                     y_pool[labelled])
        n_labels.append(len(labelled))
        scores.append(model.score(X_te, y_te))
        rest = np.setdiff1d(np.arange(len(y_pool)), labelled)
        if strategy == "random":
            picked = rng.choice(rest, 20, replace=False)
        else:  # least confidence
            confidence = model.predict_proba(X_pool[rest]).max(axis=1)
            picked = rest[np.argsort(confidence)[:20]]
        labelled.extend(picked)
    return np.array(n_labels), np.array(scores)


def active_learning():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_pool, X_te, y_pool, y_te = train_test_split(X, y, test_size=0.4,
                                                  random_state=0)
    results = {}
    for strategy in ("random", "least_confidence"):
        runs = [_active_learning_run(X_pool, y_pool, X_te, y_te, strategy, seed)
                for seed in range(3)]
        results[strategy] = (runs[0][0], np.array([s for _, s in runs]))
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ActiveLearningCurveDisplay.from_results(results, score_name="Test accuracy",
                                            ax=ax)
    ax.set_title("Digits, logistic regression, 3 seeds")
    _save(fig, "active_learning_curve_display.png")


def prior_predictive():
    from skbdl import BayesianMLPRegressor

    X = np.linspace(-3, 3, 200)[:, None]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), sharey=True)
    for ax, activation in zip(axes, ("relu", "tanh")):
        net = BayesianMLPRegressor(hidden_layer_sizes=(50, 50), activation=activation,
                                   max_epochs=1, random_state=0)
        # The prior does not depend on training; one epoch on standard-normal
        # targets only fixes the input size and a unit target scale.
        net.fit(X, np.random.default_rng(0).standard_normal(200))
        PriorPredictiveDisplay.from_estimator(net, X, n_samples=8, random_state=0,
                                              name=f"MLP 50-50 {activation}", ax=ax)
    _save(fig, "prior_predictive_display.png")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for make in (reliability, regression_calibration, predictive_band,
                 active_learning, prior_predictive):
        make()
