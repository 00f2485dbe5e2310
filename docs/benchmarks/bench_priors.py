"""Priors (issue 12 §6): feature selection, accuracy and NLL, fit-time overhead.

Command::

    python docs/benchmarks/bench_priors.py               # both sections
    python docs/benchmarks/bench_priors.py selection     # any subset
    python docs/benchmarks/bench_priors.py --quick       # smoke run, 5 epochs

``selection``: three data sets with known irrelevant columns.
``synthetic_regression``: 300 rows, 20 standard-normal features, ``y = 2 x0
- x1 + 1.5 x2 + N(0, 0.5^2)``. ``synthetic_classification``: 400 rows, the
same features, ``y ~ Bernoulli(sigmoid(2 x0 - x1 + 1.5 x2))``.
``breast_cancer_noise``: breast_cancer's 30 columns plus 20 standard-normal
noise columns; its "relevant" set is the 30 real columns (many of them
redundant, so recall is not expected to be 1). A 70/30 split
(stratified for classification, ``random_state=0``) and a
``StandardScaler`` fitted on the training rows. Rows: ``SpikeAndSlabPrior()``
(rho 0.5, slab N(0, 1), spike N(0, 0.01^2); the other weights N(0, 1))
under MAP, Ensemble (5 members), MC dropout (p 0.1) and SGLD (cyclical
default), on a linear network (``hidden_layer_sizes=()``) and a
one-hidden-layer MLP (50 ReLU units), ``lr=0.01`` and every other setting
at its default (200 epochs, ``batch_size="auto"``, ``random_state=0``).
The selected set is ``feature_inclusion_ > 0.5``. Peers: ``LassoCV``
(regression; the NLL is Gaussian with the training residual standard
deviation) and ``SelectFromModel(LogisticRegressionCV(l1))`` (classification;
liblinear, ``l1_ratios=(1,)``, log-loss scoring, the selected set is the
non-zero coefficients, the NLL that of the fitted model). Columns:
precision and recall of the selected set, its size, test NLL, fit seconds.

``accuracy``: digits (classification, stratified) and diabetes (regression)
with the same split and scaling, ``method="map"``, the default MLP (100,),
200 epochs, ``random_state=0``, under the default prior
(``GaussianPrior(1.0)``), a per-feature Gaussian on the input layer
(``{"input": GaussianPrior(scale=np.ones(d))}``: the same density through
the per-feature code path), ``LaplacePrior(1.0)`` and ``SpikeAndSlabPrior()``.
Columns: accuracy (digits) or RMSE (diabetes), test NLL, the median fit
seconds of 9 fits, and the median over those 9 repeats of the fit time /
the default prior's fit time in the same repeat (goal <= 1.2; the repeats
interleave the priors, so a drift of the machine's speed cancels).

Single-threaded (``SKBDL_NUM_THREADS=1``). Writes
``docs/benchmarks/bench_priors.json`` and prints the Markdown tables.
"""

import json
import os
import pathlib
import platform
import sys
import time
import warnings

# one thread, set before torch is imported (hence the E402 imports below)
os.environ["SKBDL_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits  # noqa: E402
from sklearn.feature_selection import SelectFromModel  # noqa: E402
from sklearn.linear_model import LassoCV, LogisticRegressionCV  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor  # noqa: E402
from skbdl.metrics import gaussian_nll, negative_log_likelihood  # noqa: E402
from skbdl.priors import GaussianPrior, LaplacePrior, SpikeAndSlabPrior  # noqa: E402
from skbdl.utils._torch import get_num_threads  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "bench_priors.json"
SEL_METHODS = ("map", "ensemble", "mc_dropout", "sgld")
NETWORKS = {"linear": (), "mlp 50": (50,)}
QUICK = "--quick" in sys.argv
EPOCHS = 5 if QUICK else 200
N_TIMES = 1 if QUICK else 9


def _split(X, y, classification):
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y if classification else None)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def _synthetic(classification):
    rng = np.random.RandomState(0)
    n = 400 if classification else 300
    X = rng.randn(n, 20)
    signal = 2 * X[:, 0] - X[:, 1] + 1.5 * X[:, 2]
    if classification:
        y = (rng.rand(n) < 1 / (1 + np.exp(-signal))).astype(int)
    else:
        y = signal + 0.5 * rng.randn(n)
    return X, y, np.arange(3)


def _breast_cancer_noise():
    X, y = load_breast_cancer(return_X_y=True)
    noise = np.random.RandomState(0).randn(len(X), 20)
    return np.hstack([X, noise]), y, np.arange(X.shape[1])


SELECTION_DATA = {
    "synthetic_regression": (lambda: _synthetic(False), False),
    "synthetic_classification": (lambda: _synthetic(True), True),
    "breast_cancer_noise": (_breast_cancer_noise, True),
}


def _nll(est, X, y, classification):
    if classification:
        return negative_log_likelihood(y, est.predict_proba(X))
    mean, std = est.predict(X, return_std=True)
    return gaussian_nll(y, mean, std)


def _precision_recall(selected, relevant):
    selected, relevant = set(map(int, selected)), set(map(int, relevant))
    hits = len(selected & relevant)
    precision = hits / len(selected) if selected else float("nan")
    return precision, hits / len(relevant), len(selected)


def _timed_fit(est, X, y):
    start = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - start


def _peer(X_tr, X_te, y_tr, y_te, classification):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if classification:
            model = LogisticRegressionCV(l1_ratios=(1.0,), solver="liblinear",
                                         scoring="neg_log_loss", max_iter=5000)
            seconds = _timed_fit(model, X_tr, y_tr)
            support = SelectFromModel(model, prefit=True).get_support()
            nll = negative_log_likelihood(y_te, model.predict_proba(X_te))
            return "LogisticRegressionCV(l1)", np.flatnonzero(support), nll, seconds
        model = LassoCV(random_state=0)
        seconds = _timed_fit(model, X_tr, y_tr)
        noise = np.std(y_tr - model.predict(X_tr))
        nll = gaussian_nll(y_te, model.predict(X_te), np.full(len(y_te), noise))
        return "LassoCV", np.flatnonzero(model.coef_ != 0), nll, seconds


def selection():
    rows = []
    for data, (load, classification) in SELECTION_DATA.items():
        X, y, relevant = load()
        X_tr, X_te, y_tr, y_te = _split(X, y, classification)
        cls = BayesianMLPClassifier if classification else BayesianMLPRegressor
        for net, hidden in NETWORKS.items():
            for method in SEL_METHODS:
                est = cls(hidden, method=method, prior=SpikeAndSlabPrior(), lr=0.01,
                          max_epochs=EPOCHS, random_state=0)
                seconds = _timed_fit(est, X_tr, y_tr)
                selected = np.flatnonzero(est.feature_inclusion_ > 0.5)
                rows.append(_selection_row(data, f"{method}, {net}", selected, relevant,
                                           _nll(est, X_te, y_te, classification),
                                           seconds))
                print(rows[-1], flush=True)
        name, selected, nll, seconds = _peer(X_tr, X_te, y_tr, y_te, classification)
        rows.append(_selection_row(data, name, selected, relevant, nll, seconds))
        print(rows[-1], flush=True)
    return rows


def _selection_row(data, model, selected, relevant, nll, seconds):
    precision, recall, size = _precision_recall(selected, relevant)
    return {"data": data, "model": model, "precision": precision, "recall": recall,
            "n_selected": size, "n_relevant": len(relevant), "nll": float(nll),
            "fit_s": seconds}


def _priors(n_features):
    return {
        "default (Gaussian 1.0)": None,
        "Gaussian, per-feature input": {
            "input": GaussianPrior(scale=np.ones(n_features))},
        "Laplace 1.0": LaplacePrior(1.0),
        "spike-and-slab": SpikeAndSlabPrior(),
    }


def accuracy():
    rows = []
    for data, load, classification in (("digits", load_digits, True),
                                       ("diabetes", load_diabetes, False)):
        X, y = load(return_X_y=True)
        X_tr, X_te, y_tr, y_te = _split(X, y, classification)
        cls = BayesianMLPClassifier if classification else BayesianMLPRegressor
        priors = _priors(X.shape[1])
        # interleaved: each repeat fits every prior once, and each ratio is
        # taken against the default's fit of the same repeat (the machine's
        # speed drifts by 10-15 % between repeats)
        times = {name: [] for name in priors}
        for _ in range(N_TIMES):
            for name, prior in priors.items():
                est = cls(method="map", prior=prior, max_epochs=EPOCHS, random_state=0)
                times[name].append(_timed_fit(est, X_tr, y_tr))
        default = np.array(times[next(iter(priors))])
        for name, prior in priors.items():
            est = cls(method="map", prior=prior, max_epochs=EPOCHS, random_state=0)
            est.fit(X_tr, y_tr)
            if classification:
                score = float(np.mean(est.predict(X_te) == y_te))
            else:
                score = float(np.sqrt(np.mean((est.predict(X_te) - y_te) ** 2)))
            rows.append({"data": data, "prior": name,
                         "accuracy" if classification else "rmse": score,
                         "nll": float(_nll(est, X_te, y_te, classification)),
                         "fit_s": float(np.median(times[name])),
                         "fit_ratio": float(np.median(np.array(times[name]) / default)),
                         "fit_all_s": times[name]})
            print(rows[-1], flush=True)
    return rows


def _fmt(value, digits=4):
    return "n/a" if value != value else f"{value:.{digits}f}"


def markdown(results):
    lines = []
    if "selection" in results:
        lines += ["| data | model | precision | recall | selected / relevant | NLL | "
                  "fit (s) |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['data']} | {r['model']} | {_fmt(r['precision'], 3)} | "
                  f"{_fmt(r['recall'], 3)} | {r['n_selected']} / {r['n_relevant']} | "
                  f"{_fmt(r['nll'])} | {r['fit_s']:.2f} |"
                  for r in results["selection"]]
        lines.append("")
    if "accuracy" in results:
        lines += ["| data | prior (MAP) | accuracy / RMSE | NLL | fit (s) | "
                  "fit / default |", "|---|---|---|---|---|---|"]
        for r in results["accuracy"]:
            score = r.get("accuracy", r.get("rmse"))
            lines.append(f"| {r['data']} | {r['prior']} | {_fmt(score)} | "
                         f"{_fmt(r['nll'])} | {r['fit_s']:.2f} | "
                         f"{r['fit_ratio']:.2f} |")
    return "\n".join(lines)


SECTIONS = {"selection": selection, "accuracy": accuracy}


def main():
    wanted = [a for a in sys.argv[1:] if not a.startswith("--")] or list(SECTIONS)
    results = json.loads(OUT.read_text()) if OUT.exists() and not QUICK else {}
    results["env"] = {"python": platform.python_version(), "torch": torch.__version__,
                      "sklearn": sklearn.__version__, "machine": platform.machine(),
                      "skbdl_threads": get_num_threads(),
                      "torch_global_threads": torch.get_num_threads(), "epochs": EPOCHS}
    start = time.perf_counter()
    for name in wanted:
        results[name] = SECTIONS[name]()
    results["env"]["total_s"] = time.perf_counter() - start
    if not QUICK:
        OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(results))
    print(f"total {results['env']['total_s']:.0f} s")


if __name__ == "__main__":
    main()
