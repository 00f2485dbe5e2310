"""Benchmark skbdl's GPs against scikit-learn.

    python docs/benchmarks/bench_gp.py            # full run (~20-30 min)
    python docs/benchmarks/bench_gp.py --quick    # smoke run (~1 min)
    python docs/benchmarks/bench_gp.py --sections dkl   # rerun one section,
                                                   # merged into the JSON
    python docs/benchmarks/bench_gp.py --sections small # the small-n table

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
4. "small": GPRegressor's time / scikit-learn's at n = 10 ... 2000 on one
   thread (torch and BLAS limited to 1), the data and kernel of section 1:
   fit (the default L-BFGS-B run up to n = 200; from n = 1000 both run the
   same callable optimizer, L-BFGS-B capped at 10 iterations, because
   scikit-learn's full fit takes minutes there), predict(return_std) of
   1000 points, and log_marginal_likelihood(theta) with and without the
   gradient. Medians of repeats of the process's CPU time, the two
   libraries alternating call by call.

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


def _capped_lbfgs(obj_func, initial_theta, bounds):
    import scipy.optimize

    res = scipy.optimize.minimize(obj_func, initial_theta, method="L-BFGS-B",
                                  jac=True, bounds=bounds,
                                  options={"maxiter": 10})  # fmt: skip
    return res.x, res.fun


def _median_pair(calls, repeats):
    """Median CPU seconds of each call, the calls alternating repeat by
    repeat. CPU time of the (single-threaded) process, not wall time: on the
    shared 2-core machine other jobs' load shifts wall times by 20-30%."""
    times = [[] for _ in calls]
    for _ in range(repeats):
        for t, call in zip(times, calls):
            start = time.process_time()
            call()
            t.append(time.process_time() - start)
    return [statistics.median(t) for t in times]


def small_section(sizes, Xall, yall, Xt):
    import torch
    from threadpoolctl import threadpool_limits

    rows, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            for n in sizes:
                rows.append(_small_row(n, Xall[:n], yall[:n], Xt))
                r = rows[-1]
                print(f"small   n={n:>6d}  fit x{r['fit_ratio']:.2f}  predict "
                      f"x{r['predict_ratio']:.2f}  LML+grad x{r['lml_grad_ratio']:.2f}"
                      f"  LML x{r['lml_ratio']:.2f}  (time / sklearn's)",
                      flush=True)  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return rows


def _small_row(n, X, y, Xt):
    optimizer = "fmin_l_bfgs_b" if n <= 200 else _capped_lbfgs
    reps = {"fit": 5, "call": 15} if n <= 200 else {"fit": 1, "call": 3}

    def make(Est):
        return Est(kernel8(), normalize_y=True, optimizer=optimizer)

    ours, ref = make(GPRegressor), make(GaussianProcessRegressor)
    fit = _median_pair([lambda: ours.fit(X, y), lambda: ref.fit(X, y)], reps["fit"])
    predict = _median_pair(
        [lambda: ours.predict(Xt, return_std=True),
         lambda: ref.predict(Xt, return_std=True)], reps["call"],
    )  # fmt: skip
    theta = ref.kernel_.theta + 0.1
    lml_grad = _median_pair(
        [lambda: ours.log_marginal_likelihood(theta, eval_gradient=True),
         lambda: ref.log_marginal_likelihood(theta, eval_gradient=True)],
        reps["call"],
    )  # fmt: skip
    lml = _median_pair(
        [lambda: ours.log_marginal_likelihood(theta),
         lambda: ref.log_marginal_likelihood(theta)], reps["call"],
    )  # fmt: skip
    row = {"section": "small", "n": n, "model": "skbdl / sklearn",
           "optimizer": "default" if n <= 200 else "L-BFGS-B maxiter=10"}  # fmt: skip
    for name, (a, b) in [("fit", fit), ("predict", predict),
                         ("lml_grad", lml_grad), ("lml", lml)]:  # fmt: skip
        row.update({f"{name}_s": a, f"{name}_sklearn_s": b, f"{name}_ratio": a / b})
    row["lml_value"] = float(ours.log_marginal_likelihood_value_)
    row["lml_value_sklearn"] = float(ref.log_marginal_likelihood_value_)
    return row


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
    parser.add_argument("--sections", default="exact,sparse,dkl,small",
                        help="comma-separated subset of exact,sparse,dkl,small; "
                        "other sections keep their JSON rows")  # fmt: skip
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
    small_sizes = [10, 50, 200] if args.quick else [10, 20, 50, 100, 200, 1000, 2000]
    rows += small_section(small_sizes, Xall, yall, Xt) if "small" in sections else []
    load["load_avg_1min_end"] = os.getloadavg()[0]
    print(
        f"load average (1 min) at start {load['load_avg_1min_start']:.2f}, "
        f"at end {load['load_avg_1min_end']:.2f}"
    )
    out = Path(__file__).with_name(
        "bench_gp_quick.json" if args.quick else "bench_gp.json"
    )
    result = {"quick": args.quick, "rows": rows, "load": {args.sections: load}}
    if out.exists() and set(sections) != {"exact", "sparse", "dkl", "small"}:
        old = json.loads(out.read_text())
        kept = [r for r in old["rows"] if r["section"] not in sections]
        result = {"quick": args.quick, "rows": kept + rows,
                  "load": {**old.get("load", {}), args.sections: load}}  # fmt: skip
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
