"""Active learning on digits: learning curves, Repeated digits and pool memory.

Commands::

    python docs/benchmarks/bench_active_learning.py                 # everything
    python docs/benchmarks/bench_active_learning.py --sections curves
    python docs/benchmarks/bench_active_learning.py --quick         # smoke run

Sections (each merged into ``docs/benchmarks/bench_active_learning.json``):

- ``curves``: digits, StandardScaler fit on the pool, stratified 70 % pool /
  30 % test (random_state=0); 20 balanced starting labels (2 per class, drawn
  with ``np.random.default_rng(seed)``), 10 labels per round up to 300, the
  model refit from scratch each round; test accuracy after every round;
  seeds 0-4. Rows: scikit-learn's ``MLPClassifier((100, 100), max_iter=300)``
  with random and margin sampling (the peer measured in
  research/baseline.md §4, with modAL's strategy functions there), skbdl MAP
  with random and margin, and BALD / BatchBALD / power-BALD on skbdl
  posteriors. Also the cost of one round at 200 labels (refit + query).
- ``repeated``: the BatchBALD paper's stress test: every pool row three
  times, each copy with N(0, 0.1^2) noise added (standardised features);
  top-10 BALD against BatchBALD on the same MC-dropout model, up to 200
  labels, with 32 posterior draws (MC dropout's default) and with 100 (the
  BatchBALD paper's).
- ``memory``: peak extra resident memory of ``ActiveLearner.query`` on pools
  of 100k and 1M rows x 64 features (float32) in a fresh subprocess (peak
  RSS ``VmHWM`` reset before the call; Linux only), minus the score vector.
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skbdl import ActiveLearner, BayesianMLPClassifier
from skbdl.inference import SGLD, Ensemble, Laplace, MCDropout
from skbdl.priors import GaussianPrior

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "bench_active_learning.json"


def data():
    X, y = load_digits(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_pool)
    return scaler.transform(X_pool), y_pool, scaler.transform(X_test), y_test


def seed_rows(y_pool, seed, per_class=2):
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [rng.choice(np.flatnonzero(y_pool == c), per_class, replace=False)
         for c in np.unique(y_pool)]
    )  # fmt: skip


def sk_mlp(seed):
    return MLPClassifier((100, 100), max_iter=300, random_state=seed)


def skbdl(method, seed, prior=None):
    kwargs = {} if prior is None else {"prior": prior}
    return BayesianMLPClassifier(method=method, random_state=seed, **kwargs)


ROWS = {
    # name: (estimator factory, strategy, extra ActiveLearner parameters)
    "sklearn MLP, random": (sk_mlp, "random", {}),
    "sklearn MLP, margin": (sk_mlp, "margin", {}),
    "skbdl MAP, random": (lambda s: skbdl("map", s), "random", {}),
    "skbdl MAP, margin": (lambda s: skbdl("map", s), "margin", {}),
    "skbdl MC dropout, BALD": (lambda s: skbdl(MCDropout(), s), "bald", {}),
    "skbdl MC dropout, BatchBALD": (
        lambda s: skbdl(MCDropout(), s), "batch_bald", {}),
    "skbdl MC dropout, power-BALD": (
        lambda s: skbdl(MCDropout(), s), "power_bald", {}),
    "skbdl Laplace (last layer), BALD": (
        lambda s: skbdl(Laplace(), s), "bald", {}),
    "skbdl Ensemble(3), BALD": (
        lambda s: skbdl(Ensemble(n_members=3), s), "bald", {}),
    "skbdl Ensemble(3), BatchBALD": (
        lambda s: skbdl(Ensemble(n_members=3), s), "batch_bald", {}),
    "skbdl Ensemble(5), BALD": (
        lambda s: skbdl(Ensemble(n_members=5), s), "bald", {}),
    "skbdl Ensemble(5), random": (
        lambda s: skbdl(Ensemble(n_members=5), s), "random", {}),
    # a weaker prior than the default N(0, 1): it matters most at 20-100 rows
    "skbdl Ensemble(5) N(0, 3^2) prior, random": (
        lambda s: skbdl(Ensemble(n_members=5), s, GaussianPrior(3.0)), "random", {}),
    "skbdl Ensemble(5) N(0, 3^2) prior, BALD": (
        lambda s: skbdl(Ensemble(n_members=5), s, GaussianPrior(3.0)), "bald", {}),
    "skbdl Ensemble(10), BALD": (
        lambda s: skbdl(Ensemble(n_members=10), s), "bald", {}),
    "skbdl Ensemble(5), power-BALD": (
        lambda s: skbdl(Ensemble(n_members=5), s), "power_bald", {}),
    "skbdl Ensemble(5), BatchBALD": (
        lambda s: skbdl(Ensemble(n_members=5), s), "batch_bald", {}),
    "skbdl SGLD, BALD": (lambda s: skbdl(SGLD(), s), "bald", {}),
    "skbdl SGLD (4 chains), BALD": (
        lambda s: skbdl(SGLD(n_chains=4), s), "bald", {}),
}  # fmt: skip


def run_curve(make, strategy, extra, X_pool, y_pool, X_test, y_test, seed,
              max_labels, batch=10, timing_at=200):  # fmt: skip
    seed_idx = seed_rows(y_pool, seed)
    learner = ActiveLearner(make(seed), strategy, batch_size=batch,
                            random_state=seed, **extra)  # fmt: skip
    learner.fit(X_pool[seed_idx], y_pool[seed_idx])
    remaining = np.setdiff1d(np.arange(len(X_pool)), seed_idx)
    n_labels, acc, round_seconds = (
        [len(seed_idx)],
        [learner.score(X_test, y_test)],
        None,
    )
    while n_labels[-1] < max_labels:
        start = time.perf_counter()
        picked = learner.query(X_pool[remaining])
        query_s = time.perf_counter() - start
        rows = remaining[picked]
        start = time.perf_counter()
        learner.teach(X_pool[rows], y_pool[rows])
        fit_s = time.perf_counter() - start
        remaining = np.delete(remaining, picked)
        n_labels.append(len(learner.y_training_))
        acc.append(learner.score(X_test, y_test))
        if n_labels[-1] == timing_at:
            round_seconds = dict(refit=fit_s, query=query_s)
    return np.array(n_labels), np.array(acc), round_seconds


def labels_to_reach(n_labels, acc, target=0.90):
    hit = np.flatnonzero(acc >= target)
    return int(n_labels[hit[0]]) if len(hit) else None


def summarise(n_labels, accs, timings):
    accs = np.array(accs)
    at = {int(n): i for i, n in enumerate(n_labels)}
    row = dict(
        n_labels=n_labels.tolist(),
        acc_mean=accs.mean(0).tolist(),
        acc_std=accs.std(0).tolist(),
        labels_to_90=[labels_to_reach(n_labels, a) for a in accs],
    )
    for n in (50, 100, 200, 300):
        if n in at:
            row[f"acc@{n}"] = [float(accs.mean(0)[at[n]]), float(accs.std(0)[at[n]])]
    if timings and all(timings):
        row["round_s_at_200"] = {
            k: statistics.median(t[k] for t in timings) for k in timings[0]
        }
    return row


def section_curves(args, rows=None):
    X_pool, y_pool, X_test, y_test = data()
    out = {}
    for name in rows or ROWS:
        make, strategy, extra = ROWS[name]
        accs, timings = [], []
        for seed in args.seeds:
            n_labels, acc, t = run_curve(
                make,
                strategy,
                extra,
                X_pool,
                y_pool,
                X_test,
                y_test,
                seed,
                args.max_labels,
            )
            accs.append(acc)
            timings.append(t)
        out[name] = summarise(n_labels, accs, timings)
        r = out[name]
        print(f"{name:36s} acc@200 {r.get('acc@200', [np.nan])[0]:.4f} "
              f"acc@{args.max_labels} {r['acc_mean'][-1]:.4f} "
              f"labels->90% {r['labels_to_90']} round {r.get('round_s_at_200')}",
              flush=True)  # fmt: skip
        merge({"curves": {name: r}})
    return out


def section_repeated(args):
    X_pool, y_pool, X_test, y_test = data()
    rng = np.random.default_rng(0)
    X_rep = np.repeat(X_pool, 3, axis=0)
    X_rep = X_rep + 0.1 * rng.standard_normal(X_rep.shape)
    y_rep = np.repeat(y_pool, 3)
    # BatchBALD's discount of near-copies is a small difference of small
    # mutual informations here, which 32 draws (MC dropout's default) do
    # not resolve; the BatchBALD paper used 100.
    for n_draws in (32, 100):
        for label, strategy in [("top-10 BALD", "bald"),
                                ("BatchBALD", "batch_bald")]:  # fmt: skip
            name = f"MC dropout ({n_draws} draws), {label}"
            accs = []
            for seed in args.seeds:
                n_labels, acc, _ = run_curve(
                    lambda s: skbdl(MCDropout(), s), strategy,
                    {"n_samples": n_draws}, X_rep, y_rep, X_test, y_test, seed,
                    min(args.max_labels, 200),
                )  # fmt: skip
                accs.append(acc)
            r = summarise(n_labels, accs, None)
            print(f"Repeated digits {name:36s} acc@200 {r['acc_mean'][-1]:.4f}",
                  flush=True)  # fmt: skip
            merge({"repeated": {name: r}})


_MEMORY_CHILD = r"""
import time, numpy as np
from skbdl import ActiveLearner, BayesianMLPClassifier
from skbdl.inference import MCDropout
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) / 2**10
rng = np.random.RandomState(0)
X = rng.randn(2000, 64).astype(np.float32)
y = (X[:, :10] @ rng.randn(10, 10)).argmax(1)
method = "map" if STRATEGY == "margin" else MCDropout()
learner = ActiveLearner(BayesianMLPClassifier((100,), method=method, max_epochs=2,
                        random_state=0), STRATEGY, batch_size=10, random_state=0)
learner.fit(X, y)
pool = np.empty((N, 64), dtype=np.float32)
for start in range(0, N, 100_000):
    pool[start:start + 100_000] = rng.randn(min(100_000, N - start), 64)
learner.query(pool[:100])
import gc; gc.collect()
open('/proc/self/clear_refs', 'w').write('5')
rss = status('VmRSS')
start = time.perf_counter()
learner.query(pool)
print(status('VmHWM') - rss, N * 8 / 2**20, time.perf_counter() - start)
"""


def section_memory(args):
    sizes = (100_000,) if args.quick else (100_000, 1_000_000)
    out = {}
    for strategy in ("margin", "bald", "batch_bald"):
        for n in sizes:
            code = _MEMORY_CHILD.replace("STRATEGY", repr(strategy)).replace(
                "N", str(n)
            )
            res = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                 text=True, check=True)  # fmt: skip
            peak, scores_mb, seconds = map(float, res.stdout.split()[-3:])
            out[f"{strategy}, n={n}"] = dict(
                peak_extra_mb=peak, scores_mb=scores_mb,
                working_mb=peak - scores_mb, seconds=seconds,
            )  # fmt: skip
            print(
                f"memory {strategy:10s} n={n:>9,d} peak extra {peak:7.1f} MB "
                f"(scores {scores_mb:.1f} MB) {seconds:.1f} s",
                flush=True,
            )
    merge({"memory": out})


def merge(update):
    current = json.loads(OUT.read_text()) if OUT.exists() else {}
    for key, value in update.items():
        current.setdefault(key, {}).update(value)
    OUT.write_text(json.dumps(current, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="curves,repeated,memory")
    parser.add_argument("--rows", default=None,
                        help="row names separated by ';' (names contain commas)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    args.seeds = [0] if args.quick else [0, 1, 2, 3, 4]
    args.max_labels = 40 if args.quick else 300
    if args.quick:
        global OUT
        OUT = HERE / "bench_active_learning_quick.json"
    warnings.simplefilter("ignore", ConvergenceWarning)
    sections = args.sections.split(",")
    if "curves" in sections:
        section_curves(args, args.rows.split(";") if args.rows else None)
    if "repeated" in sections:
        section_repeated(args)
    if "memory" in sections:
        section_memory(args)


if __name__ == "__main__":
    main()
