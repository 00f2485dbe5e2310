"""
Reliability diagrams for multiclass classifiers
===============================================

A reliability diagram bins test predictions by confidence (the largest
predicted probability) and compares each bin's accuracy with its mean
confidence. scikit-learn's ``CalibrationDisplay`` is binary only;
``skbdl.plotting.ReliabilityDisplay`` works for any number of classes and
puts the expected calibration error (ECE) in the legend. Several methods are
drawn side by side, one axes each.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

from skbdl.metrics import brier_score, expected_calibration_error
from skbdl.plotting import ReliabilityDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5,
                                                    random_state=0)
models = {"LogisticRegression": LogisticRegression(max_iter=2000),
          "GaussianNB": GaussianNB()}

fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 4), sharey=True)
for ax, (name, model) in zip(axes, models.items()):
    proba = model.fit(X_train, y_train).predict_proba(X_test)
    ReliabilityDisplay.from_predictions(y_test, proba, name=name, ax=ax)
    print(f"{name:>20}: ECE {expected_calibration_error(y_test, proba):.3f}, "
          f"Brier {brier_score(y_test, proba):.3f}")
fig.tight_layout()
plt.show()
