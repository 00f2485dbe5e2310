"""``python -m skbdl``: fit every registered method on digits and compare them.

Two tasks on the digits data bundled with scikit-learn (standardised,
stratified 70/30 split, ``random_state=0``):

* all ten classes: accuracy, NLL, ECE (15 bins), Brier score, fit seconds;
* out-of-distribution: train on digits 0-4, score test digits 0-9 by
  predictive entropy; report the AUROC for telling 5-9 (OOD) from 0-4 and the
  mean top-class confidence on 5-9 (lower is better).

``--plot PATH`` saves a reliability diagram of each method (needs matplotlib).
"""

import argparse
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from . import BayesianMLPClassifier
from .inference import METHODS
from .metrics import (
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
    ood_auroc,
)

COLUMNS = ("method", "acc", "NLL", "ECE", "Brier", "OOD AUROC", "OOD conf", "fit s")


def load_split():
    """Standardised digits, stratified 70/30 split (random_state=0)."""
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def _entropy(proba):
    return -(proba * np.log(np.clip(proba, 1e-12, None))).sum(axis=1)


def _positive_int(text):
    """argparse type: an integer >= 1, or a usage error naming the value."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def evaluate(name, data, epochs):
    """Fit one method on both tasks; return its table row and test probabilities."""
    X_tr, X_te, y_tr, y_te = data
    make = lambda: BayesianMLPClassifier(  # noqa: E731 - same settings for both tasks
        (100, 100), method=name, max_epochs=epochs, random_state=0
    )
    start = time.perf_counter()
    clf = make().fit(X_tr, y_tr)
    fit_s = time.perf_counter() - start
    proba = clf.predict_proba(X_te)

    known = y_tr < 5
    ood_clf = make().fit(X_tr[known], y_tr[known])
    p_in = ood_clf.predict_proba(X_te[y_te < 5])
    p_out = ood_clf.predict_proba(X_te[y_te >= 5])
    row = {
        "method": name,
        "acc": float(np.mean(clf.classes_[proba.argmax(1)] == y_te)),
        "NLL": negative_log_likelihood(y_te, proba),
        "ECE": expected_calibration_error(y_te, proba, n_bins=15),
        "Brier": brier_score(y_te, proba),
        "OOD AUROC": ood_auroc(_entropy(p_in), _entropy(p_out)),
        "OOD conf": float(p_out.max(axis=1).mean()),
        "fit s": fit_s,
    }
    return row, proba


def format_table(rows):
    """Fixed-width text table of the rows."""
    lines = ["{:<11}".format(COLUMNS[0]) + "".join(f"{c:>11}" for c in COLUMNS[1:])]
    for row in rows:
        cells = "".join(
            f"{row[c]:>11.2f}" if c == "fit s" else f"{row[c]:>11.4f}"
            for c in COLUMNS[1:]
        )
        lines.append(f"{row['method']:<11}" + cells)
    return "\n".join(lines)


def save_reliability(path, y_true, probas):
    """One reliability diagram per method, side by side, in one image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import ReliabilityDisplay

    fig, axes = plt.subplots(
        1, len(probas), figsize=(3.2 * len(probas), 3.4), squeeze=False, sharey=True
    )
    for ax, (name, proba) in zip(axes[0], probas.items()):
        ReliabilityDisplay.from_predictions(y_true, proba, n_bins=15, name=name, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m skbdl",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated method names (default: all registered)",
    )
    parser.add_argument("--epochs", type=_positive_int, default=100,
                        help="training epochs (a positive integer)")
    parser.add_argument("--plot", metavar="PATH", help="save reliability diagrams here")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {sorted(METHODS)}")

    data = load_split()
    print(
        f"digits: {len(data[2])} train / {len(data[3])} test rows; MLP 64-100-100-10, "
        f"{args.epochs} epochs; OOD = train on 0-4, score 5-9\n",
        flush=True,
    )
    rows, probas = [], {}
    for name in names:
        row, probas[name] = evaluate(name, data, args.epochs)
        rows.append(row)
    print(format_table(rows))
    if args.plot:
        save_reliability(args.plot, data[3], probas)
        print(f"\nreliability diagrams saved to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
