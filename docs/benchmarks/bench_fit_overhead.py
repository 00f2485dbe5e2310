"""Fit and prediction overhead of skbdl against hand-written torch code.

One command::

    python docs/benchmarks/bench_fit_overhead.py            # full run (~5 min)
    python docs/benchmarks/bench_fit_overhead.py --quick    # smoke run

Prints a table and writes ``docs/benchmarks/bench_fit_overhead.json``.

Protocol (as research/baseline.md §1.1 and §5): digits, StandardScaler fit on
the train split, stratified 70/30 split (random_state=0), MLP 64-100-100-10
ReLU, Adam lr 1e-3, batch 64, 100 epochs. The raw loop minimises the same
energy as skbdl's MAP (mean cross-entropy + ||w||^2 / (2 N scale^2), scale 1)
with tensor index batches from a local generator. The 100k prediction rows
are train rows resampled with replacement plus N(0, 0.1^2) noise (float32).
Every comparison is timed interleaved (one repeat of each variant per round)
and reported as the median over rounds; both sides run at the same torch
thread count, and every row is measured at 1 and at 2 threads.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import skbdl
from skbdl import BayesianMLPClassifier
from skbdl.inference import Ensemble, MCDropout

HERE = Path(__file__).resolve().parent
N_PREDICT = 100_000
N_DRAWS = 64
RAW_BATCH = 4096


# --------------------------------------------------------------------- data
def load_data():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    rng = np.random.RandomState(0)
    idx = rng.randint(0, len(X_tr), N_PREDICT)
    X_big = X_tr[idx] + 0.1 * rng.standard_normal((N_PREDICT, X_tr.shape[1]))
    return X_tr, y_tr, X_te, y_te, X_big.astype(np.float32)


def set_threads(n):
    os.environ["SKBDL_NUM_THREADS"] = str(n)  # read by skbdl on every fit/predict
    torch.set_num_threads(n)  # what the raw code runs with


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


# ------------------------------------------------------------- raw torch code
def raw_net(n_in, n_out, seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, 100),
        torch.nn.ReLU(),
        torch.nn.Linear(100, 100),
        torch.nn.ReLU(),
        torch.nn.Linear(100, n_out),
    )


def raw_fit(X, y, epochs, seed=0, batch_size=64, lr=1e-3, scale=1.0):
    """The hand-written loop: index batches, same energy as skbdl's MAP."""
    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.long)
    n = len(X)
    net = raw_net(X.shape[1], int(y.max()) + 1, seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    params = list(net.parameters())
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        Xs, ys = X[order], y[order]
        for i in range(0, n, batch_size):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                net(Xs[i : i + batch_size]), ys[i : i + batch_size]
            )
            prior = sum(p.pow(2).sum() for p in params) / (2 * scale**2)
            (loss + prior / n).backward()
            opt.step()
    return net


def raw_proba(net, X):
    """One batched deterministic forward pass + softmax."""
    with torch.no_grad():
        return torch.softmax(net(X), -1)


def raw_mc_dropout(layers, X, p, n_draws, seed, batch=RAW_BATCH):
    """``n_draws`` forward passes by hand, one unit mask per draw (as skbdl)."""
    keep = 1.0 - p
    gen = torch.Generator().manual_seed(seed)
    out = torch.zeros(len(X), layers[-1][0].shape[0])
    with torch.no_grad():
        for _ in range(n_draws):
            masks = [
                torch.bernoulli(torch.full((w.shape[0],), keep), generator=gen) / keep
                for w, _ in layers[:-1]
            ]
            for i in range(0, len(X), batch):
                h = X[i : i + batch]
                for (w, b), m in zip(layers[:-1], masks):
                    h = torch.relu(torch.nn.functional.linear(h, w, b)) * m
                w, b = layers[-1]
                out[i : i + batch] += torch.softmax(
                    torch.nn.functional.linear(h, w, b), -1
                )
    return out / n_draws


# ------------------------------------------------------------------ helpers
def interleave(variants, repeats):
    """Run each variant once per round; return {name: [wall seconds, ...]}.

    Process CPU seconds go to ``CPU[name]``: on a shared machine they are less
    disturbed by other jobs than wall-clock time (for 1-thread runs).
    """
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            wall, cpu, _ = timed(fn)
            times[name].append(wall)
            CPU.setdefault(name, []).append(cpu)
    return times


CPU = {}


def med(ts):
    return statistics.median(ts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="short smoke run (few epochs, 2 repeats)"
    )
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--threads",
        default="1,2",
        help="comma-separated torch thread counts to measure",
    )
    parser.add_argument("--out", default=str(HERE / "bench_fit_overhead.json"))
    args = parser.parse_args(argv)
    epochs = 5 if args.quick else 100
    repeats = args.repeats or (2 if args.quick else 5)
    n_draws = 8 if args.quick else N_DRAWS
    X_tr, y_tr, X_te, y_te, X_big_np = load_data()
    if args.quick:
        X_big_np = X_big_np[:20_000]
    X_big = torch.from_numpy(X_big_np)
    threads = tuple(int(t) for t in args.threads.split(","))
    results = {"rows": [], "checks": {}}
    rows = results["rows"]

    def row(name, threads_, skbdl_s, raw_s, goal, extra=None):
        cs, cr = CPU.pop(f"skbdl{threads_}"), CPU.pop(f"raw{threads_}")
        r = {
            "name": name,
            "threads": threads_,
            "skbdl_s": med(skbdl_s),
            "raw_s": med(raw_s),
            "ratio": med(skbdl_s) / med(raw_s),
            "goal": goal,
            "cpu_ratio": med(cs) / med(cr),
            "skbdl_all_s": skbdl_s,
            "raw_all_s": raw_s,
            "skbdl_cpu_all_s": cs,
            "raw_cpu_all_s": cr,
        }
        r.update(extra or {})
        rows.append(r)
        print(
            f"  {name:<44} {threads_}t  skbdl {r['skbdl_s']:8.3f}s  "
            f"reference {r['raw_s']:8.3f}s  ratio {r['ratio']:6.2f}"
            + f"  cpu ratio {r['cpu_ratio']:5.2f}"
            + (f"  (goal <= {goal})" if goal else ""),
            flush=True,
        )

    def make_clf(method="map", **kw):
        return BayesianMLPClassifier(
            hidden_layer_sizes=(100, 100),
            max_epochs=epochs,
            batch_size=64,
            lr=1e-3,
            method=method,
            random_state=0,
            **kw,
        )

    # 1. MAP fit vs raw loop --------------------------------------------------
    print(
        f"MAP fit, digits ({len(X_tr)} rows), {epochs} epochs, {repeats} rounds",
        flush=True,
    )
    variants = {}
    for t in threads:
        variants[f"raw{t}"] = lambda t=t: (set_threads(t), raw_fit(X_tr, y_tr, epochs))
        variants[f"skbdl{t}"] = lambda t=t: (set_threads(t), make_clf().fit(X_tr, y_tr))
    for name in variants:  # warm-up (imports, allocator)
        variants[name]()
    CPU.clear()
    times = interleave(variants, repeats)
    for t in threads:
        row("MAP fit (digits)", t, times[f"skbdl{t}"], times[f"raw{t}"], 1.3)

    # accuracy check so the comparison is of equal work
    set_threads(1)
    clf = make_clf().fit(X_tr, y_tr)
    net = raw_fit(X_tr, y_tr, epochs)
    X_te_t = torch.as_tensor(X_te, dtype=torch.float32)
    results["checks"]["map_test_accuracy_skbdl"] = float(clf.score(X_te, y_te))
    results["checks"]["map_test_accuracy_raw"] = float(
        (raw_proba(net, X_te_t).argmax(1).numpy() == y_te).mean()
    )

    # 2. deterministic predict_proba on 100k rows --------------------------------
    print(
        f"MAP predict_proba on {len(X_big_np)} rows, {repeats * 2} rounds", flush=True
    )
    variants = {}
    for t in threads:
        variants[f"raw{t}"] = lambda t=t: (set_threads(t), raw_proba(net, X_big))
        variants[f"skbdl{t}"] = lambda t=t: (
            set_threads(t),
            clf.predict_proba(X_big_np),
        )
    for name in variants:
        variants[name]()
    CPU.clear()
    times = interleave(variants, repeats * 2)
    for t in threads:
        row(
            f"MAP predict_proba ({len(X_big_np) // 1000}k rows)",
            t,
            times[f"skbdl{t}"],
            times[f"raw{t}"],
            1.5,
        )

    # 3. MC dropout: 64-draw predict_proba vs 64 hand-batched passes ------------
    print(
        f"MC dropout {n_draws}-draw predict_proba on {len(X_big_np)} rows", flush=True
    )
    set_threads(1)
    mcd = make_clf(MCDropout(p=0.1), n_samples=n_draws).fit(X_tr, y_tr)
    mlayers = [(w.detach(), b.detach()) for w, b in mcd.method_.module_.layers()]
    variants = {}
    for t in threads:
        variants[f"raw{t}"] = lambda t=t: (
            set_threads(t),
            raw_mc_dropout(mlayers, X_big, 0.1, n_draws, 0),
        )
        variants[f"skbdl{t}"] = lambda t=t: (
            set_threads(t),
            mcd.predict_proba(X_big_np),
        )
    for name in variants:
        variants[name]()
    CPU.clear()
    times = interleave(variants, max(3, repeats - 2) if not args.quick else 1)
    for t in threads:
        row(
            f"MC dropout {n_draws}-draw predict_proba ({len(X_big_np) // 1000}k)",
            t,
            times[f"skbdl{t}"],
            times[f"raw{t}"],
            1.5,
        )
    sub = X_big_np[:1000]
    p_sub = mcd.predict_proba(sub)
    p_chunked = np.concatenate(
        [mcd.predict_proba(sub[i : i + 7]) for i in range(0, 1000, 7)]
    )
    results["checks"]["mc_dropout_batch_independent_max_abs_diff"] = float(
        np.abs(p_sub - p_chunked).max()
    )

    # 4. Ensemble(5) n_jobs=2 vs n_jobs=1 ---------------------------------------
    print("Ensemble(n_members=5) fit, n_jobs=1 vs n_jobs=2", flush=True)
    set_threads(1)
    ens = {
        j: (lambda j=j: make_clf(Ensemble(n_members=5, n_jobs=j)).fit(X_tr, y_tr))
        for j in (1, 2)
    }
    ens[2]()  # warm up the worker pool
    CPU.clear()
    times = interleave({f"jobs{j}": ens[j] for j in (1, 2)}, 3 if not args.quick else 1)
    e1, e2 = med(times["jobs1"]), med(times["jobs2"])
    rows.append(
        {
            "name": "Ensemble(5) fit n_jobs=2 vs n_jobs=1",
            "threads": 1,
            "skbdl_s": e2,
            "raw_s": e1,
            "ratio": e2 / e1,
            "speedup": e1 / e2,
            "goal": None,
            "skbdl_all_s": times["jobs2"],
            "raw_all_s": times["jobs1"],
        }
    )
    print(
        f"  n_jobs=1 {e1:.3f}s  n_jobs=2 {e2:.3f}s  speedup {e1 / e2:.2f}x", flush=True
    )
    p1 = ens[1]().predict_proba(X_te)
    p2 = ens[2]().predict_proba(X_te)
    results["checks"]["ensemble_njobs_identical"] = bool(np.array_equal(p1, p2))

    # summary --------------------------------------------------------------------
    results["machine"] = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "skbdl": getattr(skbdl, "__version__", "dev"),
        "loadavg_at_end": os.getloadavg(),
        "threads": threads,
    }
    results["protocol"] = {
        "epochs": epochs,
        "repeats": repeats,
        "quick": args.quick,
        "n_predict": len(X_big_np),
        "n_draws": n_draws,
        "raw_batch": RAW_BATCH,
    }
    print(
        "\n| measurement | threads | skbdl s | reference s | ratio "
        "| CPU-time ratio | goal |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        goal = f"<= {r['goal']}" if r["goal"] else "speedup"
        ratio = f"{r['ratio']:.2f}" if r["goal"] else f"{r['speedup']:.2f}x"
        cpu = f"{r['cpu_ratio']:.2f}" if "cpu_ratio" in r else "-"
        print(
            f"| {r['name']} | {r['threads']} | {r['skbdl_s']:.3f} | {r['raw_s']:.3f} | "
            f"{ratio} | {cpu} | {goal} |"
        )
    print("checks:", json.dumps(results["checks"]))
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
