"""Benchmark skbdl's GPs against scikit-learn.

    python docs/benchmarks/bench_gp.py            # full run (~20-30 min)
    python docs/benchmarks/bench_gp.py --quick    # smoke run (~1 min)
    python docs/benchmarks/bench_gp.py --sections dkl   # rerun one section,
                                                   # merged into the JSON

1. Exact GP, synthetic 8-D data (research/baseline.md §3): X ~ N(0, I_8),
   y = sin(X w) + 0.1 eps, 1000 test points; ConstantKernel * ARD RBF +
   WhiteKernel, normalize_y=True, one L-BFGS-B run from the same start for
   both libraries. Timings are fit + predict(return_std) of 1000 points.
   scikit-learn is timed once per n up to n = 2000 (n = 4000 takes ~3 min).
2. SGPR with the defaults (n_inducing="auto": 2000 k-means inducing points at
   n = 100 000; hyper-parameters from the exact LML of a 2 000-row subset;
   posterior on all rows) at n = 50 000 and 100 000 vs the exact GP on the
   first 4 000 points.
3. Deep kernel learning on digits pixels (64-D) -> the digit value (0-9) as a
   continuous target: DeepKernelRegressor vs GPRegressor on raw pixels vs a
   plain MLPRegressor (its NLL uses a constant std = validation RMSE).

Prints a table and writes bench_gp.json next to this file.
"""

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, WhiteKernel
from sklearn.gaussian_process.kernels import ConstantKernel as C
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor

from skbdl import DeepKernelRegressor, GPRegressor


def synthetic(n, seed):
    w = 0.5 * np.random.RandomState(0).randn(8)
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 8)
    return X, np.sin(X @ w) + 0.1 * rng.randn(n)


def gauss_nll(y, mean, std):
    var = np.maximum(std, 1e-12) ** 2
    return float(np.mean(0.5 * np.log(2 * np.pi * var) + (y - mean) ** 2 / (2 * var)))


def run_model(make, X, y, Xt, yt, repeats=1):
    times, model, pred = [], None, None
    for _ in range(repeats):
        start = time.perf_counter()
        model = make().fit(X, y)
        pred = model.predict(Xt, return_std=True)
        times.append(time.perf_counter() - start)
    mean, std = pred
    return {
        "time_s": statistics.median(times),
        "lml": float(getattr(model, "log_marginal_likelihood_value_", np.nan)),
        "rmse": float(np.sqrt(np.mean((yt - mean) ** 2))),
        "nll": gauss_nll(yt, mean, std),
    }


def kernel8():
    return C(1.0) * RBF(np.ones(8)) + WhiteKernel(0.1)


def exact_section(sizes, sk_max, Xall, yall, Xt, yt):
    rows = []
    for n in sizes:
        X, y = Xall[:n], yall[:n]
        reps = 3 if n <= 1000 else 1
        def ours_model():
            return GPRegressor(kernel8(), normalize_y=True, inference="exact")

        ours = run_model(ours_model, X, y, Xt, yt, reps)
        rows.append({"section": "exact", "n": n, "model": "skbdl GPRegressor", **ours})
        if n <= sk_max:
            def ref_model():
                return GaussianProcessRegressor(kernel8(), normalize_y=True)

            ref = run_model(ref_model, X, y, Xt, yt)
            rows.append({"section": "exact", "n": n, "model": "sklearn GPR", **ref,
                         "speedup": ref["time_s"] / ours["time_s"]})  # fmt: skip
        print_rows(rows[-2:] if n <= sk_max else rows[-1:])
    return rows


def sparse_section(sizes, Xt, yt):
    rows = []
    for n in sizes:
        X, y = synthetic(n, seed=0)
        def make():
            return GPRegressor(kernel8(), normalize_y=True, inference="sgpr",
                               random_state=0)

        res = run_model(make, X, y, Xt, yt)
        m = make()._n_inducing(n)
        rows.append({"section": "sparse", "n": n, "model": f"skbdl SGPR m={m}", **res})
        print_rows(rows[-1:])
    return rows


def digits_section(quick):
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target.astype(float)
    X, Xt, y, yt = train_test_split(X, y, test_size=0.3, random_state=0)
    epochs = 30 if quick else 300
    models = {
        "skbdl DeepKernelRegressor": lambda: DeepKernelRegressor(
            max_epochs=epochs, random_state=0
        ),
        "skbdl GPRegressor (raw pixels)": lambda: GPRegressor(
            C(1.0) * RBF(1.0) + WhiteKernel(0.1), normalize_y=True
        ),
    }
    rows = []
    for name, make in models.items():
        rows.append(
            {
                "section": "dkl",
                "n": len(X),
                "model": name,
                **run_model(make, X, y, Xt, yt),
            }
        )
        print_rows(rows[-1:])
    start = time.perf_counter()
    Xa, Xv, ya, yv = train_test_split(X, y, test_size=0.1, random_state=0)
    mlp = MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=300 if not quick else 30,
                       early_stopping=True, random_state=0).fit(Xa, ya)  # fmt: skip
    std = np.sqrt(np.mean((yv - mlp.predict(Xv)) ** 2))
    mean = mlp.predict(Xt)
    rows.append({"section": "dkl", "n": len(X),
                 "model": "sklearn MLPRegressor (const std)",
                 "time_s": time.perf_counter() - start, "lml": float("nan"),
                 "rmse": float(np.sqrt(np.mean((yt - mean) ** 2))),
                 "nll": gauss_nll(yt, mean, np.full_like(mean, std))})  # fmt: skip
    print_rows(rows[-1:])
    return rows


def print_rows(rows):
    for r in rows:
        extra = f"  speedup x{r['speedup']:.1f}" if "speedup" in r else ""
        print(f"{r['section']:7s} n={r['n']:>6d}  {r['model']:34s} "
              f"time {r['time_s']:8.2f}s  "
              f"LML {r['lml']:10.2f}  RMSE {r['rmse']:.4f}  NLL {r['nll']:+.4f}{extra}",
              flush=True)  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke run")
    parser.add_argument("--sections", default="exact,sparse,dkl",
                        help="comma-separated subset of exact,sparse,dkl; rows of the "
                        "other sections are kept from the existing JSON")  # fmt: skip
    args = parser.parse_args()
    sections = args.sections.split(",")
    warnings.simplefilter("ignore")
    sizes = [500] if args.quick else [500, 1000, 2000, 4000]
    sk_max = 500 if args.quick else 2000
    sparse_sizes = [20000] if args.quick else [50000, 100000]
    Xall, yall = synthetic(max(sizes), seed=0)
    Xt, yt = synthetic(1000, seed=1)
    load = {"load_avg_1min_start": os.getloadavg()[0]}
    rows = (
        exact_section(sizes, sk_max, Xall, yall, Xt, yt) if "exact" in sections else []
    )
    rows += sparse_section(sparse_sizes, Xt, yt) if "sparse" in sections else []
    rows += digits_section(args.quick) if "dkl" in sections else []
    load["load_avg_1min_end"] = os.getloadavg()[0]
    print(
        f"load average (1 min) at start {load['load_avg_1min_start']:.2f}, "
        f"at end {load['load_avg_1min_end']:.2f}"
    )
    out = Path(__file__).with_name(
        "bench_gp_quick.json" if args.quick else "bench_gp.json"
    )
    result = {"quick": args.quick, "rows": rows, "load": {args.sections: load}}
    if out.exists() and set(sections) != {"exact", "sparse", "dkl"}:
        old = json.loads(out.read_text())
        kept = [r for r in old["rows"] if r["section"] not in sections]
        result = {"quick": args.quick, "rows": kept + rows,
                  "load": {**old.get("load", {}), args.sections: load}}  # fmt: skip
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
