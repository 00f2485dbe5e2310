"""Defaults a scikit-learn user gets: interval coverage and NLL on small regression.

Command::

    python docs/benchmarks/bench_defaults.py            # every section
    python docs/benchmarks/bench_defaults.py classification   # one section
    SPLITS=3 python docs/benchmarks/bench_defaults.py regression   # quicker

``regression`` (10 splits, ~12 min):
The regression table of the issue on defaults: diabetes, Friedman #1
(``make_friedman1``, n = 300, noise 1.0, a new draw per split) and a 1-D
sinusoid in two clusters with a gap (n = 100, noise 0.1, test rows on
[-2, 2], the gap included). Each split is a 70/30 ``train_test_split``
with ``random_state=split``; a ``StandardScaler`` is fitted on the training
rows of X, y is passed as it is, as a user would. Rows: every registered
method of ``BayesianMLPRegressor(method=m, random_state=0)`` at its
defaults; MAP, Ensemble, MC dropout and VI again with
``early_stopping=True``; every method but Laplace (which tunes its noise on
held-out rows already) again with ``noise_estimate="train"``, the noise
from the training residuals (the default before ``"holdout"``);
``GPRegressor`` with an ARD RBF + White kernel (``normalize_y=True``);
``DeepKernelRegressor(random_state=0)``; and scikit-learn's
``MLPRegressor(random_state=0)`` (R^2 only: it has no predictive
distribution). Columns, averaged over the splits: test R^2, the
Gaussian test NLL of ``predict(X, return_std=True)``, and the coverage of
the 95 % interval ``mean +- 1.96 std``. Single-threaded; writes
``bench_defaults.json``.

Goals (the issue): coverage in [0.90, 0.98], NLL within 0.15 nats of the
ARD GP's, R^2 not below the MAP's at the defaults.

``classification`` (~3 min): breast_cancer, wine, iris and digits, one
stratified 70/30 split (``random_state=0``), StandardScaler on X, every
method of ``BayesianMLPClassifier(method=m, random_state=0)`` at its
defaults and scikit-learn's ``MLPClassifier(random_state=0)`` at its own.
Columns: accuracy, NLL, 15-bin ECE, fit seconds. Goals: ECE and NLL <= MAP's,
accuracy within 1 point of ``MLPClassifier()``'s.

``speed`` (~3 min): the training-speed table of the issue. digits, the
stratified 70/30 split above (1,257 training rows), 200 epochs and batches
of 64 for everything, one thread: scikit-learn's
``MLPClassifier(solver="adam", batch_size=64, max_iter=200,
n_iter_no_change=201)`` (so it runs all 200 epochs), ``MLPClassifier()`` at
its defaults (it stops on its ``tol``), every registered method of
``BayesianMLPClassifier(method=m, max_epochs=200, batch_size=64,
random_state=0)``, and MAP once more through the generic autograd/skorch
engine (``skbdl._nn._problem.FUSED = False``) to show what the fused path
buys. ``ROUNDS`` (default 5) rounds, every fit once per round in turn;
the table gives the median, the first round (a fresh process: imports and
first-call costs) and test accuracy. Goals: MAP <= 1.0x scikit-learn's
MLP at the same epochs and batch size; a 5-member ensemble <= 2x MAP.

``crossfit`` (~2 min): a remedy measured and not adopted. On the sinusoid
with a gap (10 splits; its 100 training rows give 10 held-out rows, below the
20-row minimum, so the defaults keep the training residuals' noise), every method
at its defaults against the same fitted model with a cross-fitted noise:
5 folds, each fold model (``noise_estimate="train"``) predicts its
held-out rows; the noise is the maximiser of their likelihood given the
fold models' epistemic variances (``"crossfit"``) or their plain mean
squared residual (``"crossfit plain"``). Columns as ``regression``.

``dropout`` (~2 min): ``MCDropout(p)`` for p in 0.1 (the default), 0.2,
0.3 and 0.5 on the three regression data sets (10 splits each), the
regression table's columns.

Sections are merged into ``bench_defaults.json``.
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
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_friedman1,
)
from sklearn.gaussian_process.kernels import RBF, WhiteKernel  # noqa: E402
from sklearn.gaussian_process.kernels import ConstantKernel as C  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skbdl import (  # noqa: E402
    BayesianMLPClassifier,
    BayesianMLPRegressor,
    DeepKernelRegressor,
    GPRegressor,
)
from skbdl.inference import METHODS  # noqa: E402
from skbdl.metrics import (  # noqa: E402
    expected_calibration_error,
    negative_log_likelihood,
)

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "bench_defaults.json"
SPLITS = int(os.environ.get("SPLITS", "10"))
EARLY_STOPPING = ["map", "ensemble", "mc_dropout", "vi"]
HOLDOUT_NOISE = [m for m in METHODS if m != "laplace"]


def sinusoid_gap(seed, n=100):
    rng = np.random.RandomState(seed)
    x = np.concatenate([rng.uniform(-2, -1, n // 2), rng.uniform(1, 2, n - n // 2)])
    x_test = rng.uniform(-2, 2, 60)
    return (x[:, None], np.sin(1.5 * x) + 0.1 * rng.randn(n),
            x_test[:, None], np.sin(1.5 * x_test) + 0.1 * rng.randn(60))


def data(name, split):
    if name == "sinusoid_gap":
        return sinusoid_gap(split)
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = make_friedman1(300, noise=1.0, random_state=split)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=split)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


def models(n_features):
    out = {m: BayesianMLPRegressor(method=m, random_state=0) for m in METHODS}
    for m in EARLY_STOPPING:
        out[f"{m} + early_stopping"] = BayesianMLPRegressor(
            method=m, early_stopping=True, random_state=0)
    for m in HOLDOUT_NOISE:  # the default before noise_estimate="holdout"
        out[f"{m} + noise_estimate='train'"] = BayesianMLPRegressor(
            method=m, noise_estimate="train", random_state=0)
    kernel = C(1.0) * RBF([1.0] * n_features) + WhiteKernel(0.1)
    out["GPRegressor (ARD)"] = GPRegressor(kernel, normalize_y=True, random_state=0)
    out["DeepKernelRegressor"] = DeepKernelRegressor(random_state=0)
    out["sklearn MLPRegressor"] = MLPRegressor(random_state=0)
    return out


def scores(model, X_te, y_te):
    if isinstance(model, MLPRegressor):
        mean, std = model.predict(X_te), None
    else:
        mean, std = model.predict(X_te, return_std=True)
    r2 = 1 - ((y_te - mean) ** 2).sum() / ((y_te - y_te.mean()) ** 2).sum()
    row = {"r2": float(r2), "nll": float("nan"), "coverage": float("nan")}
    if std is not None:
        row["nll"] = float(np.mean(0.5 * np.log(2 * np.pi * std**2)
                                   + 0.5 * ((y_te - mean) / std) ** 2))
        row["coverage"] = float(np.mean(np.abs(y_te - mean) <= 1.96 * std))
    return row


#: ``MODELS="DeepKernelRegressor;GPRegressor (ARD)"`` reruns only those rows
#: of the regression table (merged into the JSON's other rows).
ONLY = [m for m in os.environ.get("MODELS", "").split(";") if m]


def regression():
    result = {}
    for name in ("diabetes", "friedman1", "sinusoid_gap"):
        per_model = {}
        for split in range(SPLITS):
            X_tr, y_tr, X_te, y_te = data(name, split)
            for label, model in models(X_tr.shape[1]).items():
                if ONLY and label not in ONLY:
                    continue
                row = scores(model.fit(X_tr, y_tr), X_te, y_te)
                per_model.setdefault(label, []).append(row)
        result[name] = {
            label: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            for label, rows in per_model.items()}
        for label, r in result[name].items():
            print(f"| {name} | {label} | {r['r2']:.3f} | {r['nll']:.3f} | "
                  f"{r['coverage']:.3f} |", flush=True)
    result["splits"] = SPLITS
    return result


CLASSIFICATION = {"breast_cancer": load_breast_cancer, "wine": load_wine,
                  "iris": load_iris, "digits": load_digits}


def classification():
    result = {}
    for name, loader in CLASSIFICATION.items():
        X, y = loader(return_X_y=True)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                                  random_state=0)
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        labels = np.unique(y)
        estimators = {m: BayesianMLPClassifier(method=m, random_state=0)
                      for m in METHODS}
        estimators["sklearn MLPClassifier"] = MLPClassifier(random_state=0)
        result[name] = {}
        for label, est in estimators.items():
            start = time.perf_counter()
            est.fit(X_tr, y_tr)
            fit_s = time.perf_counter() - start
            proba = est.predict_proba(X_te)
            r = result[name][label] = {
                "accuracy": float((labels[proba.argmax(1)] == y_te).mean()),
                "nll": float(negative_log_likelihood(y_te, proba, labels=labels)),
                "ece": float(expected_calibration_error(y_te, proba, labels=labels)),
                "fit_s": fit_s}
            print(f"| {name} | {label} | {r['accuracy']:.4f} | {r['nll']:.4f} | "
                  f"{r['ece']:.4f} | {fit_s:.2f} |", flush=True)
    return result


ROUNDS = int(os.environ.get("ROUNDS", "5"))


def speed():
    from skbdl._nn import _problem

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=0)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    same = dict(max_epochs=200, batch_size=64, random_state=0)
    fits = {"sklearn MLPClassifier(adam, batch 64, 200 epochs)": lambda: MLPClassifier(
                solver="adam", batch_size=64, max_iter=200, n_iter_no_change=201,
                random_state=0),
            "sklearn MLPClassifier() defaults": lambda: MLPClassifier(random_state=0)}
    for m in METHODS:
        fits[m] = lambda m=m: BayesianMLPClassifier(method=m, **same)
    from skbdl.inference import IVON, SGLD

    fits["sgld, 4 chains (one stack)"] = lambda: BayesianMLPClassifier(
        method=SGLD(n_chains=4), **same)
    fits["ivon, mc_samples=4 (one stack)"] = lambda: BayesianMLPClassifier(
        method=IVON(mc_samples=4), **same)
    fits["map, generic engine (FUSED=False)"] = lambda: BayesianMLPClassifier(
        method="map", **same)
    times = {label: [] for label in fits}
    accuracy, epochs = {}, {}
    for _ in range(ROUNDS):
        for label, make in fits.items():
            est = make()
            _problem.FUSED = "generic engine" not in label
            start = time.perf_counter()
            est.fit(X_tr, y_tr)
            times[label].append(time.perf_counter() - start)
            _problem.FUSED = True
            accuracy[label] = float(est.score(X_te, y_te))
            epochs[label] = int(getattr(est, "n_iter_", 200))
    base = float(np.median(times["sklearn MLPClassifier(adam, batch 64, 200 epochs)"]))
    map_s = float(np.median(times["map"]))
    result = {}
    for label, ts in times.items():
        med = float(np.median(ts))
        result[label] = {"median_s": med, "first_s": ts[0], "rounds": ts,
                         "vs_sklearn_same_epochs": med / base, "vs_map": med / map_s,
                         "accuracy": accuracy[label], "epochs": epochs[label]}
        print(f"| {label} | {epochs[label]} | {med:.2f} | {ts[0]:.2f} | "
              f"{med / base:.2f} | {med / map_s:.2f} | {accuracy[label]:.4f} |",
              flush=True)
    return result


def crossfit():
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from skbdl.utils._math import heldout_noise_var

    result = {}
    for m in METHODS:
        rows = {"default": [], "crossfit": [], "crossfit plain": []}
        for split in range(SPLITS):
            X, y, X_te, y_te = data("sinusoid_gap", split)
            est = BayesianMLPRegressor(method=m, random_state=0).fit(X, y)
            rows["default"].append(scores(est, X_te, y_te))
            residuals, epistemic = [], []
            folds = KFold(5, shuffle=True, random_state=0).split(X)
            for train, held in folds:
                fold = clone(est).set_params(noise_estimate="train")
                v = fold.fit(X[train], y[train])._variances(X[held])
                residuals.append(y[held] - (v[:, 0] * fold._y_std + fold._y_mean))
                epistemic.append(v[:, 1] * fold._y_std**2)
            residuals, epistemic = np.concatenate(residuals), np.concatenate(epistemic)
            v = est._variances(X_te)
            mean = v[:, 0] * est._y_std + est._y_mean
            for label, noise in (
                ("crossfit", heldout_noise_var(residuals, 0 * residuals, epistemic)),
                ("crossfit plain", float(np.mean(residuals**2))),
            ):
                std = np.sqrt(v[:, 1] * est._y_std**2 + noise)
                rows[label].append({
                    "r2": rows["default"][-1]["r2"],
                    "nll": float(np.mean(0.5 * np.log(2 * np.pi * std**2)
                                         + 0.5 * ((y_te - mean) / std) ** 2)),
                    "coverage": float(np.mean(np.abs(y_te - mean) <= 1.96 * std))})
        result[m] = {label: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
                     for label, rs in rows.items()}
        for label, r in result[m].items():
            print(f"| sinusoid_gap | {m} | {label} | {r['r2']:.3f} | {r['nll']:.3f} | "
                  f"{r['coverage']:.3f} |", flush=True)
    return result


def dropout():
    from skbdl.inference import MCDropout

    result = {}
    for p in (0.1, 0.2, 0.3, 0.5):
        result[str(p)] = {}
        for name in ("diabetes", "friedman1", "sinusoid_gap"):
            rows = []
            for split in range(SPLITS):
                X_tr, y_tr, X_te, y_te = data(name, split)
                est = BayesianMLPRegressor(method=MCDropout(p=p), random_state=0)
                rows.append(scores(est.fit(X_tr, y_tr), X_te, y_te))
            r = {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}
            result[str(p)][name] = r
            print(f"| {name} | MCDropout(p={p}) | {r['r2']:.3f} | {r['nll']:.3f} | "
                  f"{r['coverage']:.3f} |", flush=True)
    return result


SECTIONS = {"regression": regression, "classification": classification,
            "speed": speed, "crossfit": crossfit, "dropout": dropout}


def main(names):
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    result = json.loads(OUT.read_text()) if OUT.exists() else {}
    if "diabetes" in result:  # the layout before the sections
        result = {"regression": {k: v for k, v in result.items() if k != "meta"},
                  "meta": result.get("meta", {})}
        result["regression"]["splits"] = result["meta"].pop("splits", SPLITS)
    for name in names:
        new = SECTIONS[name]()
        if name == "regression" and ONLY and name in result:  # merge the rows
            for data_name, rows in new.items():
                if isinstance(rows, dict):
                    result[name].setdefault(data_name, {}).update(rows)
        else:
            result[name] = new
        result["meta"] = {"python": platform.python_version(),
                          "torch": torch.__version__,
                          "sklearn": sklearn.__version__, "threads": 1,
                          "machine": platform.machine()}
        OUT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:] or list(SECTIONS))
