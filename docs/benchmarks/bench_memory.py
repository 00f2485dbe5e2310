"""Peak memory of prediction: ``predict_proba`` on up to 1M rows per method.

Each (method, n) runs in a fresh subprocess: fit on 2,000 rows of 64
features (10 classes, hidden (100,)), build the n-row input, record the
resident set size (RSS), call ``predict_proba`` and read the peak RSS
(``VmHWM``, reset just before the call through ``/proc/self/clear_refs``;
Linux only). The extra peak minus the output array (n x 10 float64) is
the working memory of prediction; bounded chunking keeps it flat in n.

    python docs/benchmarks/bench_memory.py            # table + bench_memory.json
"""

import json
import pathlib
import subprocess
import sys

METHODS = {
    "map": "MAP()",
    "ensemble": "Ensemble(n_members=5)",
    "mc_dropout": "MCDropout()",
    "laplace (last_layer, kron)": "Laplace()",
    "laplace (all, kron)": "Laplace('all', 'kron', prior_precision=1.0)",
    "laplace (all, diag, mc)": "Laplace('all', 'diag', prior_precision=1.0, link='mc')",
}
SIZES = (100_000, 300_000, 1_000_000)

_CHILD = r"""
import sys, time
import numpy as np
from skbdl import BayesianMLPClassifier
from skbdl.inference import *
rng = np.random.RandomState(0)
X = rng.randn(2000, 64).astype(np.float32)
y = (X[:, :10] @ rng.randn(10, 10)).argmax(1)
clf = BayesianMLPClassifier((100,), method=METHOD, max_epochs=2, random_state=0)
clf.fit(X, y)
n = N
X_big = np.random.RandomState(1).randn(n, 64).astype(np.float32)
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) / 2**10
clf.predict_proba(X_big[:10])
import gc; gc.collect()
open('/proc/self/clear_refs', 'w').write('5')
rss = status('VmRSS')
start = time.perf_counter()
proba = clf.predict_proba(X_big)
seconds = time.perf_counter() - start
print(status('VmHWM') - rss, proba.nbytes / 2**20, seconds)
"""


def measure(method, n):
    code = (
        _CHILD.replace("METHOD", method)
        .replace("N", str(n), 1)
        .replace("n = N", f"n = {n}")
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    extra, output, seconds = map(float, out)
    return {
        "extra_peak_mb": extra,
        "output_mb": output,
        "working_mb": extra - output,
        "seconds": seconds,
    }


def main():
    results = {}
    print(
        f"{'method':28s} {'n':>9s} {'extra peak MB':>14s} {'output MB':>10s} "
        f"{'working MB':>11s} {'s':>6s}"
    )
    for name, method in METHODS.items():
        for n in SIZES:
            r = measure(method, n)
            results[f"{name} n={n}"] = r
            print(
                f"{name:28s} {n:9d} {r['extra_peak_mb']:14.1f} {r['output_mb']:10.1f} "
                f"{r['working_mb']:11.1f} {r['seconds']:6.1f}",
                flush=True,
            )
    path = pathlib.Path(__file__).with_suffix(".json")
    path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
