"""How many torch threads pay off, by problem size.

One command::

    python docs/benchmarks/bench_threads.py            # full run (~4 min)
    python docs/benchmarks/bench_threads.py --quick    # smoke run

Prints a table and writes ``docs/benchmarks/bench_threads.json``.

Three kernels that skbdl's defaults depend on, each at several sizes and at
1 and at 2 (or ``--threads``) torch threads, timed interleaved (one repeat of
each thread count per round) and reported as medians over rounds:

- ``mlp_step``: one Adam step (forward, backward, update) of an MLP
  ``64 -> width -> width -> 10`` on a batch of ``batch`` rows;
- ``mlp_forward``: a forward pass of the same MLP over a 4096-row chunk, the
  prediction unit;
- ``gp_cholesky``: Cholesky factor and solve of an ``n x n`` RBF kernel matrix
  in float64 (torch and SciPy BLAS held at the same thread count);
- ``gp_fit`` (``--kinds gp_fit``, written to ``bench_threads_gp_fit.json``): a
  whole ``GPRegressor`` fit (8-D ARD RBF + white noise, one L-BFGS-B run) on
  ``n`` rows, with ``SKBDL_NUM_THREADS`` set to each count.

``work`` is the multiply-adds of one call (rows times weights for the MLP,
n^3 / 3 for the Cholesky); skbdl's default thread count is a function of it
(``skbdl.utils._torch.default_num_threads``). The machine's load average is
recorded with the results: on a machine busy with other work extra threads
are preempted and lose.
"""

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent


def mlp(width, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(64, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, 10),
    )


def n_weights(width):
    return 64 * width + width * width + 10 * width


def mlp_step_case(width, batch):
    net = mlp(width)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(batch, 64, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        for _ in range(20):
            opt.zero_grad()
            loss_fn(net(X), y).backward()
            opt.step()

    return run, 20 * batch * n_weights(width), 20


def mlp_forward_case(width, rows=4096):
    net = mlp(width)
    X = torch.randn(rows, 64, generator=torch.Generator().manual_seed(0))

    def run():
        with torch.no_grad():
            for _ in range(5):
                net(X)

    return run, 5 * rows * n_weights(width), 5


def gp_cholesky_case(n):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 8, generator=g, dtype=torch.float64)
    K = torch.exp(-0.5 * torch.cdist(X, X) ** 2 / 4.0) + 1e-2 * torch.eye(
        n, dtype=torch.float64
    )
    b = torch.randn(n, 1, generator=g, dtype=torch.float64)

    def run():
        L = torch.linalg.cholesky(K)
        torch.cholesky_solve(b, L)

    return run, n**3 // 3, 1


def gp_fit_case(n):
    import numpy as np
    from sklearn.gaussian_process.kernels import RBF, WhiteKernel

    from skbdl import GPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(n, 8)
    y = np.sin(X[:, 0]) + 0.1 * rng.randn(n)

    def run():
        kernel = RBF(np.ones(8)) + WhiteKernel()
        GPRegressor(kernel=kernel, random_state=0).fit(X, y)

    return run, n**3 // 3, 1


def time_case(run, threads, rounds):
    times = {k: [] for k in threads}
    for k in threads:  # warm-up at every count
        os.environ["SKBDL_NUM_THREADS"] = str(k)  # read by skbdl's estimators
        torch.set_num_threads(k)
        with threadpool_limits(limits=k, user_api="blas"):
            run()
    for _ in range(rounds):
        for k in threads:
            os.environ["SKBDL_NUM_THREADS"] = str(k)
            torch.set_num_threads(k)
            with threadpool_limits(limits=k, user_api="blas"):
                t0 = time.perf_counter()
                run()
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--kinds", default="mlp_step,mlp_forward,gp_cholesky")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    rounds = 3 if args.quick else 7
    if args.quick:
        cases = [
            ("mlp_step", dict(width=100, batch=64)),
            ("mlp_forward", dict(width=100)),
            ("gp_cholesky", dict(n=500)),
        ]
    else:
        cases = [
            *[
                ("mlp_step", dict(width=w, batch=b))
                for b in (64, 512)
                for w in (100, 256, 512, 1024)
            ],
            *[("mlp_forward", dict(width=w)) for w in (100, 256, 512, 1024)],
            *[("gp_cholesky", dict(n=n)) for n in (500, 1000, 2000, 4000)],
            *[("gp_fit", dict(n=n)) for n in (500, 1000, 2000)],
        ]
    kinds = args.kinds.split(",")
    cases = [(kind, params) for kind, params in cases if kind in kinds]
    if kinds == ["gp_fit"]:
        rounds = min(rounds, 3)
    builders = {
        "mlp_step": mlp_step_case,
        "mlp_forward": mlp_forward_case,
        "gp_cholesky": gp_cholesky_case,
        "gp_fit": gp_fit_case,
    }
    previous = torch.get_num_threads()
    previous_env = os.environ.get("SKBDL_NUM_THREADS")
    load_before = os.getloadavg()[0]
    rows = []
    for kind, params in cases:
        run, work, calls = builders[kind](**params)
        t = time_case(run, threads, rounds)
        row = dict(
            kind=kind,
            **params,
            work_per_call=work // calls,
            seconds={str(k): t[k] for k in threads},
            speedup={str(k): t[threads[0]] / t[k] for k in threads},
        )
        rows.append(row)
        print(
            f"{kind:12s} {str(params):28s} work/call {row['work_per_call']:>12,d}  "
            + "  ".join(f"{k} thr {t[k]:.4f}s" for k in threads)
            + f"  speedup x{t[threads[0]] / t[threads[-1]]:.2f}"
        )
    torch.set_num_threads(previous)
    if previous_env is None:
        os.environ.pop("SKBDL_NUM_THREADS", None)
    else:
        os.environ["SKBDL_NUM_THREADS"] = previous_env
    out = dict(
        machine=dict(
            platform=platform.platform(),
            cores=os.cpu_count(),
            torch=torch.__version__,
            load_average_before=load_before,
            load_average_after=os.getloadavg()[0],
        ),
        rounds=rounds,
        rows=rows,
    )
    name = "bench_threads_quick.json" if args.quick else "bench_threads.json"
    if kinds == ["gp_fit"]:
        name = name.replace(".json", "_gp_fit.json")
    (HERE / name).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
