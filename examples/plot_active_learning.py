"""
Which digits should be labelled next?
=====================================

Pool-based active learning on digits: start from 20 labels (two per class),
then label 10 more per round, chosen by a query strategy, and refit. Random
labelling is the baseline; margin sampling asks for the rows whose two most
likely classes are closest; BALD asks for the rows where the posterior draws
disagree most (mutual information between label and weights); BatchBALD
picks the 10 rows of a round jointly, so they do not all say the same thing.
``skbdl.active_learning.simulate`` runs the loop and
``ActiveLearningCurveDisplay`` draws the curves, with a band over seeds.

This short version runs 2 seeds up to 100 labels with few epochs (about a
minute); ``docs/benchmarks/bench_active_learning.py`` runs the full protocol.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skbdl import ActiveLearner, BayesianMLPClassifier
from skbdl.active_learning import simulate
from skbdl.plotting import ActiveLearningCurveDisplay

X, y = load_digits(return_X_y=True)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_pool)
X_pool, X_test = scaler.transform(X_pool), scaler.transform(X_test)

results = {}
for strategy in ["random", "margin", "bald", "batch_bald"]:
    curves = []
    for seed in range(2):
        rng = np.random.default_rng(seed)
        start = np.concatenate(
            [
                rng.choice(np.flatnonzero(y_pool == c), 2, replace=False)
                for c in range(10)
            ]
        )
        rest = np.setdiff1d(np.arange(len(X_pool)), start)
        model = BayesianMLPClassifier(
            method="mc_dropout", max_epochs=60, random_state=seed
        )
        learner = ActiveLearner(model, strategy, batch_size=10, random_state=seed)
        learner.fit(X_pool[start], y_pool[start])
        curve = simulate(
            learner, X_pool[rest], y_pool[rest], X_test, y_test, n_queries=8
        )
        curves.append(curve.scores)
    results[strategy] = (curve.n_labels, np.array(curves))
    print(
        f"{strategy:10s} accuracy at {curve.n_labels[-1]} labels: "
        f"{np.mean(curves, axis=0)[-1]:.3f}"
    )

ActiveLearningCurveDisplay.from_results(results, score_name="Test accuracy")
plt.show()
