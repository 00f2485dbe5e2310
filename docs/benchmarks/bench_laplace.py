"""Laplace benchmark: skbdl vs laplace-torch on digits, and the OOD task.

Run: ``python docs/benchmarks/bench_laplace.py`` (needs the ``bench`` extra for
laplace-torch; about 10 minutes on 2 cores). Prints a table and writes
``bench_laplace.json`` next to this file. ``python
docs/benchmarks/bench_laplace.py online`` runs only the MAP and the online
marginal-likelihood rows (``prior_precision="online"``, layerwise precisions
learned during training; Immer et al., 2021) and writes
``bench_laplace_online.json``.

Every row starts from the same MAP network (64-100-100-10 ReLU, 100 epochs,
Adam lr 1e-3, batch 64, skbdl's default prior = weight decay 1/N): skbdl's
Laplace with ``prior_precision="marglik"`` retrains exactly the MAP of the
``MAP`` row (same seed) and laplace-torch is fitted on that MAP module.
``"holdout"`` trains its MAP on 90 % of the rows (that is the method).
``zellner`` rows use ``prior_covariance="zellner"`` (Zellner's g-prior).

``python docs/benchmarks/bench_laplace.py frontier`` (about 1 minute) sweeps
the prior precision of four KFAC posteriors (last layer / all weights,
isotropic / Zellner prior) and a softmax temperature on the OOD task for
three seeds, and reports the largest drop of OOD confidence whose
in-distribution NLL stays within 1.5x MAP's, choosing the precision on the
test rows (an upper bound for any tuning rule); it writes
``bench_laplace_frontier.json``. ``python docs/benchmarks/bench_laplace.py
regression`` (about 3 minutes) compares the regressor's MAP and last-layer
Laplace on diabetes, Friedman #1 and a sinusoid with extrapolation (5 splits
each) and writes ``bench_laplace_regression.json``.
"""

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skbdl import BayesianMLPClassifier
from skbdl._nn import TrainingProblem
from skbdl.inference import MAP, Laplace
from skbdl.inference._laplace_online import OnlineMarglik
from skbdl.metrics import expected_calibration_error, negative_log_likelihood, ood_auroc

CONFIGS = [
    ("last_layer", "kron"),
    ("last_layer", "full"),
    ("all", "kron"),
    ("all", "diag"),
]
_TRAIN_TIME = []
_original_train = TrainingProblem.train


def _timed_train(self, module, **kwargs):
    start = time.perf_counter()
    out = _original_train(self, module, **kwargs)
    _TRAIN_TIME.append(time.perf_counter() - start)
    return out


TrainingProblem.train = _timed_train
_UPDATE_TIME = []
_original_update = OnlineMarglik.update


def _timed_update(self, module):
    start = time.perf_counter()
    _original_update(self, module)
    _UPDATE_TIME.append(time.perf_counter() - start)


OnlineMarglik.update = _timed_update


def data(ood):
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    if not ood:
        return Xtr, ytr, Xte, yte, None
    return Xtr[ytr < 5], ytr[ytr < 5], Xte[yte < 5], yte[yte < 5], Xte[yte >= 5]


def metrics(proba, y, proba_out=None):
    row = {
        "acc": float((proba.argmax(1) == y).mean()),
        "nll": float(
            negative_log_likelihood(y, proba, labels=np.arange(proba.shape[1]))
        ),
        "ece": float(
            expected_calibration_error(y, proba, labels=np.arange(proba.shape[1]))
        ),
    }
    if proba_out is not None:
        ent = lambda p: -(p * np.log(np.clip(p, 1e-12, None))).sum(1)  # noqa: E731
        row["ood_conf"] = float(proba_out.max(1).mean())
        row["auroc"] = float(ood_auroc(ent(proba), ent(proba_out)))
    return row


def estimator(method):
    return BayesianMLPClassifier(
        (100, 100),
        method=method,
        max_epochs=100,
        batch_size=64,
        lr=1e-3,
        random_state=0,
    )


def timed(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, float(np.median(times))


def run_skbdl(method, Xtr, ytr, Xte, yte, Xo):
    _TRAIN_TIME.clear()
    _UPDATE_TIME.clear()
    start = time.perf_counter()
    clf = estimator(method).fit(Xtr, ytr)
    total = time.perf_counter() - start
    proba, t_pred = timed(lambda: clf.predict_proba(Xte))
    row = metrics(proba, yte, None if Xo is None else clf.predict_proba(Xo))
    # map_fit_s includes the online hyper-parameter updates;
    # online_update_s is their share
    row.update(
        map_fit_s=_TRAIN_TIME[0],
        laplace_fit_s=total - _TRAIN_TIME[0],
        predict_s=t_pred,
        online_update_s=sum(_UPDATE_TIME),
        fit_s=total,
    )
    pp = getattr(clf.method_, "prior_precision_", None)
    row["prior_precision"] = None if pp is None else [float(v) for v in pp]
    return clf, row


def run_laplace_torch(module, subset, hessian, Xtr, ytr, Xte, yte, Xo):
    from laplace import Laplace as LT

    net = torch.nn.Sequential(
        *[x for layer in module.hidden for x in (layer, torch.nn.ReLU())], module.head
    )
    T = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(T(Xtr), torch.tensor(ytr)), batch_size=256
    )
    start = time.perf_counter()
    la = LT(net, "classification", subset_of_weights=subset, hessian_structure=hessian)
    la.fit(loader)
    la.optimize_prior_precision(method="marglik", pred_type="glm", link_approx="probit")
    fit_s = time.perf_counter() - start

    def pred(a):  # float32 output: renormalise in float64 for the metrics
        p = (
            la(T(a), pred_type="glm", link_approx="probit")
            .detach()
            .numpy()
            .astype(np.float64)
        )
        return p / p.sum(1, keepdims=True)

    proba, t_pred = timed(lambda: pred(Xte), repeats=1 if subset == "all" else 3)
    row = metrics(proba, yte, None if Xo is None else pred(Xo))
    row.update(
        laplace_fit_s=fit_s,
        predict_s=t_pred,
        prior_precision=[float(v) for v in la.prior_precision.reshape(-1)],
    )
    return row


ONLINE = [
    ("last_layer", "kron", "layerwise"),
    ("all", "kron", "layerwise"),
    ("all", "kron", "scalar"),
]


def online_rows(Xtr, ytr, Xte, yte, Xo):
    rows = {}
    for subset, hessian, structure in ONLINE:
        _, rows[f"skbdl {subset}/{hessian} online {structure}"] = run_skbdl(
            Laplace(
                subset, hessian, prior_precision="online", prior_structure=structure
            ),
            Xtr,
            ytr,
            Xte,
            yte,
            Xo,
        )
    return rows


def digits_section(ood, only_online=False):
    Xtr, ytr, Xte, yte, Xo = data(ood)
    rows = {}
    map_clf, rows["MAP"] = run_skbdl(MAP(), Xtr, ytr, Xte, yte, Xo)
    rows.update(online_rows(Xtr, ytr, Xte, yte, Xo))
    if only_online:
        return rows
    configs = CONFIGS if not ood else CONFIGS[:1] + CONFIGS[2:3]
    for subset, hessian in configs:
        for pp in ["marglik", "holdout"]:
            _, rows[f"skbdl {subset}/{hessian} {pp}"] = run_skbdl(
                Laplace(subset, hessian, prior_precision=pp), Xtr, ytr, Xte, yte, Xo
            )
            print(rows)
        try:
            rows[f"laplace-torch {subset}/{hessian} marglik"] = run_laplace_torch(
                map_clf.method_.module_, subset, hessian, Xtr, ytr, Xte, yte, Xo
            )
        except Exception as exc:  # report, don't hide, a peer failure
            rows[f"laplace-torch {subset}/{hessian} marglik"] = {"error": repr(exc)}
    for subset in ["last_layer", "all"]:
        for pp in ["marglik", "holdout"]:
            _, rows[f"skbdl {subset}/kron zellner {pp}"] = run_skbdl(
                Laplace(subset, "kron", prior_precision=pp, prior_covariance="zellner"),
                Xtr,
                ytr,
                Xte,
                yte,
                Xo,
            )
    return rows


def predict_speed():
    """Last-layer closed-form predictive vs one deterministic forward, 100k rows."""
    Xtr, ytr, Xte, _, _ = data(False)
    X = np.tile(Xte, (math.ceil(100_000 / len(Xte)), 1))[:100_000]
    clf = estimator(Laplace(prior_precision="marglik")).fit(Xtr, ytr)
    module, Xt = clf.method_.module_, torch.tensor(X, dtype=torch.float32)
    out = {}
    with torch.no_grad():
        _, out["forward_s"] = timed(lambda: torch.softmax(module(Xt), -1), repeats=5)
    _, out["laplace_ll_kron_predict_proba_s"] = timed(
        lambda: clf.predict_proba(X), repeats=5
    )
    clf_map = estimator(MAP()).fit(Xtr, ytr)
    _, out["map_predict_proba_s"] = timed(lambda: clf_map.predict_proba(X), repeats=5)
    out["ratio_laplace_vs_forward"] = (
        out["laplace_ll_kron_predict_proba_s"] / out["forward_s"]
    )
    out["ratio_laplace_vs_map_predict"] = (
        out["laplace_ll_kron_predict_proba_s"] / out["map_predict_proba_s"]
    )
    return out


FRONTIER_GRID = np.exp(np.linspace(0.0, math.log(3000.0), 25))
FRONTIER_POSTERIORS = [
    ("last_layer", "isotropic"),
    ("last_layer", "zellner"),
    ("all", "isotropic"),
    ("all", "zellner"),
]


def _best_within(points, base, budget=1.5):
    """Largest OOD-confidence drop (points) among rows with NLL <= budget x MAP."""
    ok = [p for p in points if p["nll"] <= budget * base["nll"]]
    if not ok:
        return None
    best = min(ok, key=lambda p: p["ood_conf"])
    return {
        "delta": best.get("delta"),
        "temperature": best.get("temperature"),
        "d_conf": 100 * (best["ood_conf"] - base["ood_conf"]),
        "nll_ratio": best["nll"] / base["nll"],
        "acc": best["acc"],
    }


def _feature_diagnostic(clf, Xtr, Xte, Xo):
    """Entropy-free OOD AUROC of the last-layer feature norm and leverage."""
    from sklearn.metrics import roc_auc_score

    module = clf.method_.module_
    with torch.no_grad():
        feats = [
            torch.nn.functional.pad(
                module.features(torch.tensor(X, dtype=torch.float32)), (0, 1), value=1.0
            ).double()
            for X in (Xtr, Xte, Xo)
        ]
    A = feats[0].T @ feats[0] / len(feats[0])
    A = A + 1e-3 * A.trace() / len(A) * torch.eye(len(A), dtype=A.dtype)
    inv = torch.linalg.inv(A)
    labels = np.r_[np.zeros(len(Xte)), np.ones(len(Xo))]
    norm = torch.cat([(f**2).sum(1) for f in feats[1:]]).numpy()
    lev = torch.cat([((f @ inv) * f).sum(1) for f in feats[1:]]).numpy()
    return {
        "auroc_sq_norm": float(roc_auc_score(labels, norm)),
        "auroc_leverage": float(roc_auc_score(labels, lev)),
    }


def frontier(seeds=(0, 1, 2)):
    """Best OOD-confidence drop at <= 1.5x MAP's NLL over a precision grid.

    The precision is chosen on the *test* rows, so each number bounds what any
    tuning rule could reach with that posterior on that network.
    """
    Xtr, ytr, Xte, yte, Xo = data(True)
    out = {}
    for seed in seeds:
        row = {}
        map_clf = BayesianMLPClassifier(
            (100, 100),
            method=MAP(),
            max_epochs=100,
            batch_size=64,
            lr=1e-3,
            random_state=seed,
        ).fit(Xtr, ytr)
        base = metrics(map_clf.predict_proba(Xte), yte, map_clf.predict_proba(Xo))
        row["MAP"] = base
        row["features"] = _feature_diagnostic(map_clf, Xtr, Xte, Xo)
        with torch.no_grad():
            logits = [
                map_clf.method_.module_(torch.tensor(X, dtype=torch.float32)).double()
                for X in (Xte, Xo)
            ]
        temps = []
        for t in np.exp(np.linspace(0.0, math.log(3.0), 25)):
            p_in, p_out = (torch.softmax(f / t, -1).numpy() for f in logits)
            temps.append({**metrics(p_in, yte, p_out), "temperature": float(t)})
        row["temperature scaling"] = _best_within(temps, base)
        for subset, cov in FRONTIER_POSTERIORS:
            clf = BayesianMLPClassifier(
                (100, 100),
                method=Laplace(
                    subset, "kron", prior_precision=1.0, prior_covariance=cov
                ),
                max_epochs=100,
                batch_size=64,
                lr=1e-3,
                random_state=seed,
            ).fit(Xtr, ytr)
            points = []
            for delta in FRONTIER_GRID:
                d = torch.full(
                    (len(clf.method_._theta),), float(delta), dtype=torch.float64
                )
                clf.method_._posterior.set(d, 1.0)
                points.append(
                    {
                        **metrics(clf.predict_proba(Xte), yte, clf.predict_proba(Xo)),
                        "delta": float(delta),
                    }
                )
            name = f"{subset}/kron {cov}"
            row[name] = _best_within(points, base)
            row[name + " auroc range"] = [
                min(p["auroc"] for p in points),
                max(p["auroc"] for p in points),
            ]
        print(seed, json.dumps(row, indent=1), flush=True)
        out[f"seed {seed}"] = row
    return out


def _regression_tasks():
    """(name, estimator kwargs, list of (Xtr, Xte, ytr, yte)) with standardised X."""
    from sklearn.datasets import load_diabetes, make_friedman1

    def scaled(Xtr, Xte, ytr, yte):
        scaler = StandardScaler().fit(Xtr)
        return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte

    X, y = load_diabetes(return_X_y=True)
    diabetes = [
        scaled(*train_test_split(X, y, test_size=0.3, random_state=s)) for s in range(5)
    ]
    X, y = make_friedman1(n_samples=500, noise=1.0, random_state=0)
    friedman = [
        scaled(*train_test_split(X, y, test_size=0.3, random_state=s)) for s in range(5)
    ]
    sinusoid = []
    for s in range(5):  # train on [0, 8], test on [-4, 12]: in-data and extrapolation
        rs = np.random.RandomState(s)
        Xtr, Xte = rs.uniform(0, 8, (150, 1)), np.linspace(-4, 12, 400)[:, None]
        sinusoid.append(
            (
                Xtr,
                Xte,
                np.sin(Xtr[:, 0]) + 0.3 * rs.randn(150),
                np.sin(Xte[:, 0]) + 0.3 * rs.randn(400),
            )
        )
    return [
        ("diabetes", {}, diabetes),
        ("friedman1", {}, friedman),
        ("sinusoid", dict(hidden_layer_sizes=(50,), activation="tanh"), sinusoid),
    ]


REGRESSION_METHODS = {
    "MAP": MAP,
    "last_layer/kron holdout": Laplace,
    "last_layer/kron marglik": lambda: Laplace(prior_precision="marglik"),
    "last_layer/kron zellner marglik": lambda: Laplace(
        prior_precision="marglik", prior_covariance="zellner"
    ),
}


def regression_section():
    """Regressor defaults (100 units, 200 epochs), mean over 5 splits each."""
    from skbdl import BayesianMLPRegressor
    from skbdl.metrics import gaussian_nll

    out = {}
    for task, kwargs, splits in _regression_tasks():
        for name, make in REGRESSION_METHODS.items():
            rows = []
            for i, (Xtr, Xte, ytr, yte) in enumerate(splits):
                start = time.perf_counter()
                reg = BayesianMLPRegressor(method=make(), random_state=i, **kwargs).fit(
                    Xtr, ytr
                )
                fit_s = time.perf_counter() - start
                mu, sd = reg.predict(Xte, return_std=True)
                rows.append(
                    {
                        "rmse": float(np.sqrt(np.mean((mu - yte) ** 2))),
                        "nll": float(gaussian_nll(yte, mu, sd)),
                        "coverage90": float(np.mean(np.abs(yte - mu) <= 1.6449 * sd)),
                        "fit_s": fit_s,
                    }
                )
            out[f"{task} {name}"] = {
                k: float(np.mean([r[k] for r in rows])) for k in rows[0]
            }
            print(task, name, out[f"{task} {name}"], flush=True)
    return out


def main(only_online=False):
    torch.set_num_threads(1)
    results = {
        "digits": digits_section(False, only_online),
        "ood": digits_section(True, only_online),
    }
    if not only_online:
        results["predict_100k"] = predict_speed()
    for section in ("digits", "ood"):
        print(f"\n## {section}")
        for name, row in results[section].items():
            print(
                f"{name:40s} "
                + " ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in row.items()
                )
            )
    if not only_online:
        print("\n## predict 100k", results["predict_100k"])
    name = "bench_laplace_online.json" if only_online else "bench_laplace.json"
    path = Path(__file__).with_name(name)
    path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    if sys.argv[1:] == ["regression"]:
        torch.set_num_threads(1)
        Path(__file__).with_name("bench_laplace_regression.json").write_text(
            json.dumps(regression_section(), indent=1)
        )
    elif sys.argv[1:] == ["frontier"]:
        torch.set_num_threads(1)
        Path(__file__).with_name("bench_laplace_frontier.json").write_text(
            json.dumps(frontier(), indent=1)
        )
    else:
        main(only_online=sys.argv[1:] == ["online"])
