"""The variational methods beside MAP on three small scikit-learn data sets.

Command::

    python docs/benchmarks/bench_variational.py

For digits, breast_cancer and wine: a stratified 70/30 split
(``random_state=0``), a ``StandardScaler`` fitted on the training rows, and
``BayesianMLPClassifier(method=m, random_state=0)`` with every other setting
at its default, for ``m`` in map, vi and ivon. Test accuracy, test NLL
(``sklearn.metrics.log_loss`` of ``predict_proba``) and the fit time in
seconds, single-threaded (``SKBDL_NUM_THREADS=1``). Prints a markdown table
and writes ``docs/benchmarks/bench_variational.json``.
"""

import json
import os
import pathlib
import platform
import time

# one thread, set before torch is imported (hence the E402 imports below)
os.environ["SKBDL_NUM_THREADS"] = "1"

import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_wine  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skbdl import BayesianMLPClassifier  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "bench_variational.json"
DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer,
            "wine": load_wine}
METHODS = ["map", "vi", "ivon"]


def split(loader):
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y,
                                              random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


def measure(method, X_tr, y_tr, X_te, y_te):
    clf = BayesianMLPClassifier(method=method, random_state=0)
    start = time.perf_counter()
    clf.fit(X_tr, y_tr)
    fit_s = time.perf_counter() - start
    proba = clf.predict_proba(X_te)
    return {"accuracy": float(accuracy_score(y_te, clf.classes_[proba.argmax(1)])),
            "nll": float(log_loss(y_te, proba, labels=clf.classes_)),
            "fit_s": fit_s}


def main():
    torch.set_num_threads(1)
    rows = []
    for name, loader in DATASETS.items():
        data = split(loader)
        for method in METHODS:
            rows.append({"dataset": name, "method": method, **measure(method, *data)})
            r = rows[-1]
            print(f"{name} {method}: acc {r['accuracy']:.4f} nll {r['nll']:.4f} "
                  f"fit {r['fit_s']:.2f}s", flush=True)
    print("\n| data set | method | accuracy | NLL | fit (s) | fit / MAP |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        base = next(b for b in rows if b["dataset"] == r["dataset"]
                    and b["method"] == "map")
        print(f"| {r['dataset']} | {r['method']} | {r['accuracy']:.4f} | "
              f"{r['nll']:.4f} | {r['fit_s']:.2f} | "
              f"{r['fit_s'] / base['fit_s']:.2f} |")
    meta = {"python": platform.python_version(), "torch": torch.__version__,
            "sklearn": sklearn.__version__, "threads": 1,
            "machine": platform.machine()}
    OUT.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
