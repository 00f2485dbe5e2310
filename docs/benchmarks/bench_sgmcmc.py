"""SG-MCMC benchmark: skbdl's SGLD variants beside MAP and the posteriors library.

Command::

    python docs/benchmarks/bench_sgmcmc.py            # every section (~25 min)
    python docs/benchmarks/bench_sgmcmc.py digits ood speed hmc   # any subset

Needs the bench-only packages of ``requirements-bench.txt`` (``posteriors``
for its SGLD row, ``pyro-ppl`` for the HMC reference), installed with
``pip install --no-deps -r requirements-bench.txt``. Single-threaded
(``SKBDL_NUM_THREADS=1``). Sections are merged into ``bench_sgmcmc.json``
next to this file, so one section can be rerun alone.

``digits``: the protocol of the other benchmarks: a stratified 70/30 split
(``random_state=0``), ``StandardScaler`` on the training rows, an MLP
64-100-100-10 (ReLU), 200 epochs, batch 64, the default prior N(0, 1) on
every weight. Rows: MAP (Adam, lr 1e-3), SGLD (polynomial schedule, step
0.2, burn-in half the epochs), cyclical SGLD (the default: 8 cycles, step
1.5, exploration 0.95), the previous default (4 cycles, step 0.2,
exploration 0.8),
four default chains (one stack), pSGLD (``preconditioner="rmsprop"``,
cyclical), cyclical SGLD at the cold temperature the cyclical papers use
(T = 1e-3, about 1 / N), and the ``posteriors`` library's SGLD on the same
network, data, batches, step sizes and kept steps as our polynomial row.
Columns: accuracy, NLL, 15-bin ECE, Brier, fit seconds and fit / MAP fit
(median of ``REPEATS`` fits).

``ood``: the same rows trained on digits 0-4; in-distribution NLL, OOD
AUROC of the predictive entropy against digits 5-9, and the mean maximum
probability on the OOD rows.

``speed``: ``predict_proba`` of a 64-draw cyclical SGLD on 100,000 rows,
divided by the floor of 64 plain forwards of the same weights (one
``torch.nn.functional.linear`` chain and softmax per draw, averaged).

``hmc``: fidelity to a long full-batch NUTS run (Pyro) on two moons (n =
200, noise 0.2, standardised), MLP 2-50-50-2, prior N(0, 1): for each
method, the agreement of the argmax with the HMC predictive and the total
variation 0.5 sum |p - q| averaged over a 40 x 40 grid of the data's box,
at the estimator's default ``batch_size="auto"`` (20 rows: 2,000 steps in
200 epochs) and at the digits protocol's batch 64 (800 steps).
The reference (4 chains x 500 warmup + 500 draws, ~16 min) is cached in
``bench_sgmcmc_hmc_reference.json``; delete it to recompute.
"""

import json
import math
import os
import pathlib
import platform
import sys
import time

# one thread, set before torch is imported (hence the E402 imports below)
os.environ["SKBDL_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from bench_variational import median_time, scores, split  # noqa: E402
from sklearn.datasets import load_digits, make_moons  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skbdl import BayesianMLPClassifier  # noqa: E402
from skbdl.inference import SGLD  # noqa: E402
from skbdl.inference._sgld import _kept_steps  # noqa: E402
from skbdl.inference._sgld_update import sampling_steps, step_sizes  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "bench_sgmcmc.json"
EPOCHS, BATCH, HIDDEN = 200, 64, (100, 100)
REPEATS = 3
METHODS = {
    "map": "map",
    # step 0.2: the posteriors row below takes the same steps
    "sgld": SGLD(schedule="polynomial", step_size=0.2),
    "cyclical_sgld": SGLD(),
    # the default before 2026-12-08
    "cyclical_sgld_step0.2_expl0.8": SGLD(step_size=0.2, exploration=0.8, n_cycles=4),
    # four chains, trained as one stack
    "cyclical_sgld_4_chains": SGLD(n_chains=4),
    "psgld": SGLD(preconditioner="rmsprop"),
    # the cold posterior of the cyclical SG-MCMC papers, T about 1 / N
    "cyclical_sgld_T1e-3": SGLD(temperature=1e-3),
}


def digits(ood):
    return split(load_digits, ood)


def estimator(method, hidden=HIDDEN, seed=0, batch_size=BATCH):
    return BayesianMLPClassifier(hidden, method=method, max_epochs=EPOCHS,
                                 batch_size=batch_size, random_state=seed)


def timed_fit(make, X, y, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        clf = make()
        start = time.perf_counter()
        clf.fit(X, y)
        times.append(time.perf_counter() - start)
    return clf, float(np.median(times))


# --- the posteriors library's SGLD on the same network and steps -----------

def mlp(sizes, seed):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def posteriors_sgld(X, y, *, step_size=0.2, seed=0):
    """posteriors.sgmcmc.sgld with our polynomial row's steps and kept draws.

    posteriors' update is ``theta + lr grad log_post + sqrt(2 T lr) xi``. With
    ``log_post = mean batch log-lik + log p(theta) / N`` and ``T = 1 / N``
    (posteriors' recommended scaling) it equals our rule at ``lr = step_k /
    2``: drift ``(step_k / 2) grad(U / N)`` and noise variance ``step_k / N``.
    """
    import posteriors
    from torch.func import functional_call

    torch_rng = torch.Generator().manual_seed(seed)
    n = len(X)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    net = mlp((X.shape[1], *HIDDEN, int(y.max()) + 1), seed)
    params = {k: v.detach().clone() for k, v in net.named_parameters()}
    per_epoch = math.ceil(n / BATCH)
    n_steps = per_epoch * EPOCHS
    steps = step_sizes("polynomial", step_size, n_steps, gamma=0.55)
    _, keep = sampling_steps("polynomial", n_steps, burn_in=EPOCHS // 2 * per_epoch)
    kept = _kept_steps(keep, 50, None)

    def log_posterior(p, batch):
        xb, yb = batch
        logits = functional_call(net, p, (xb,))
        loglik = -torch.nn.functional.cross_entropy(logits, yb)
        logprior = sum(-0.5 * (v ** 2).sum() for v in p.values())
        return loglik + logprior / n, logits

    transform = posteriors.sgmcmc.sgld.build(
        log_posterior, lr=lambda k: float(steps[int(k)]) / 2, temperature=1.0 / n)
    state = transform.init(params)
    draws, k = [], 0
    torch.manual_seed(seed)  # posteriors draws its noise from the global RNG
    for _ in range(EPOCHS):
        order = torch.randperm(n, generator=torch_rng)
        for start in range(0, n, BATCH):
            idx = order[start:start + BATCH]
            # not inplace: posteriors 0.1.3 increments the step counter in
            # place, and with tensordict 0.15 that counter is the dataclass
            # default shared by every state, so a second fit would start at
            # the first one's last step
            state, _ = transform.update(state, (Xt[idx], yt[idx]), inplace=False)
            if k in kept:
                draws.append({name: v.clone() for name, v in state.params.items()})
            k += 1

    def predict_proba(Xn):
        Xn = torch.tensor(Xn, dtype=torch.float32)
        with torch.no_grad():
            p = sum(torch.softmax(functional_call(net, d, (Xn,)).double(), -1)
                    for d in draws)
        return (p / len(draws)).numpy()

    return predict_proba


def rows_for(ood):
    Xtr, ytr, Xte, yte, Xo = digits(ood)
    rows = {}
    for name, method in METHODS.items():
        clf, fit_s = timed_fit(lambda m=method: estimator(m), Xtr, ytr)
        out = clf.predict_proba(Xo) if ood else None
        rows[name] = {**scores(clf.predict_proba(Xte), yte, out), "fit_s": fit_s}
        print(name, rows[name], flush=True)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        pred = posteriors_sgld(Xtr, ytr)
        times.append(time.perf_counter() - start)
    out = pred(Xo) if ood else None
    rows["posteriors_sgld"] = {**scores(pred(Xte), yte, out),
                               "fit_s": float(np.median(times))}
    print("posteriors_sgld", rows["posteriors_sgld"], flush=True)
    for r in rows.values():
        r["fit_ratio"] = r["fit_s"] / rows["map"]["fit_s"]
    return rows


def speed():
    Xtr, ytr, Xte, _, _ = digits(False)
    X = np.tile(Xte, (math.ceil(100_000 / len(Xte)), 1))[:100_000]
    clf = estimator(SGLD(n_keep=64)).fit(Xtr, ytr)
    layers = clf.method_.draws_
    S = clf.method_.n_draws_
    Xt = torch.tensor(X, dtype=torch.float32)

    def floor():
        with torch.no_grad():
            p = 0
            for s in range(S):
                h = Xt
                for i, (w, b) in enumerate(layers):
                    h = torch.nn.functional.linear(h, w[s], b[s])
                    if i < len(layers) - 1:
                        h = torch.relu(h)
                p = p + torch.softmax(h, -1)
            return p / S

    out = {"n_draws": S, "floor_s": median_time(floor),
           "predict_proba_s": median_time(lambda: clf.predict_proba(X))}
    out["ratio"] = out["predict_proba_s"] / out["floor_s"]
    print(out, flush=True)
    return out


# --- fidelity to HMC on two moons ------------------------------------------

HMC_HIDDEN = (50, 50)
# the NUTS grid predictive, P(y = 1) on the 40 x 40 grid, with its diagnostics
HMC_CACHE = HERE / "bench_sgmcmc_hmc_reference.json"


def moons():
    X, y = make_moons(200, noise=0.2, random_state=0)
    X = StandardScaler().fit_transform(X)
    lo, hi = X.min(0) - 0.5, X.max(0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 40), np.linspace(lo[1], hi[1], 40))
    return X, y, np.column_stack([g0.ravel(), g1.ravel()])


def hmc_reference(X, y, grid, *, warmup=500, samples=500, chains=4):
    """Grid predictive of full-batch NUTS chains (Pyro), and their R-hat.

    Pyro's NUTS runs on a flat parameter vector through ``potential_fn``
    (the negative log posterior), which avoids tracing a Pyro model at
    every leapfrog step (measured: 26 ms per gradient with a model, about a
    millisecond with the flat potential).
    """
    from pyro.infer import MCMC, NUTS

    from skbdl.utils._diagnostics import split_rhat

    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    sizes = (2, *HMC_HIDDEN, 2)
    shapes = [s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((b, a), (b,))]
    n_params = sum(math.prod(s) for s in shapes)

    def forward(theta, x):
        parts = torch.split(theta, [math.prod(s) for s in shapes])
        h = x
        for i in range(0, len(shapes), 2):
            h = h @ parts[i].view(shapes[i]).T + parts[i + 1]
            if i < len(shapes) - 2:
                h = torch.relu(h)
        return h

    def potential(params):
        theta = params["theta"]
        nll = torch.nn.functional.cross_entropy(forward(theta, Xt), yt,
                                                reduction="sum")
        return nll + 0.5 * (theta ** 2).sum()

    grid_t = torch.tensor(grid, dtype=torch.float32)
    probs = []
    for c in range(chains):
        torch.manual_seed(100 + c)
        init = {"theta": 0.1 * torch.randn(n_params)}
        mcmc = MCMC(NUTS(potential_fn=potential, max_tree_depth=8),
                    num_samples=samples, warmup_steps=warmup,
                    initial_params=init, disable_progbar=True)
        mcmc.run()
        thetas = mcmc.get_samples()["theta"]
        with torch.no_grad():
            probs.append(torch.stack([torch.softmax(forward(t, grid_t), -1)[:, 1]
                                      for t in thetas]).double().numpy())
    probs = np.stack(probs)  # (chains, samples, grid)
    rhat = np.array([split_rhat(probs[:, :, j]) for j in range(probs.shape[2])])
    return probs.reshape(-1, probs.shape[2]).mean(0), {
        "chains": chains, "warmup": warmup, "samples": samples,
        "max_rhat_grid": float(np.nanmax(rhat)),
        "median_rhat_grid": float(np.nanmedian(rhat)),
        "chain_tv_to_pooled": [fidelity(p.mean(0), probs.reshape(-1, probs.shape[2])
                                        .mean(0))["tv"] for p in probs]}


def fidelity(p, q):
    p2, q2 = np.column_stack([1 - p, p]), np.column_stack([1 - q, q])
    return {"agreement": float((p2.argmax(1) == q2.argmax(1)).mean()),
            "tv": float(0.5 * np.abs(p2 - q2).sum(1).mean())}


def hmc():
    from skbdl.inference import IVON, VI, Ensemble, Laplace, MCDropout

    X, y, grid = moons()
    if HMC_CACHE.exists():  # the reference takes ~16 min; delete to recompute
        cached = json.loads(HMC_CACHE.read_text())
        ref, out = np.array(cached["predictive"]), {"hmc": cached["hmc"]}
    else:
        start = time.perf_counter()
        ref, diag = hmc_reference(X, y, grid)
        out = {"hmc": {"seconds": time.perf_counter() - start, **diag}}
        HMC_CACHE.write_text(json.dumps({"hmc": out["hmc"],
                                         "predictive": ref.round(6).tolist()}) + "\n")
    print(out, flush=True)
    methods = {"map": "map", "sgld": SGLD(schedule="polynomial"),
               "cyclical_sgld": SGLD(), "ensemble": Ensemble(),
               "mc_dropout": MCDropout(), "laplace": Laplace(), "vi": VI(),
               "ivon": IVON()}
    for name, method in methods.items():
        for batch in ("auto", BATCH):
            clf = estimator(method, hidden=HMC_HIDDEN, batch_size=batch).fit(X, y)
            key = name if batch == "auto" else f"{name} (batch {BATCH})"
            out[key] = fidelity(clf.predict_proba(grid)[:, 1], ref)
            print(key, out[key], flush=True)
    return out


SECTIONS = {"digits": lambda: rows_for(False), "ood": lambda: rows_for(True),
            "speed": speed, "hmc": hmc}


def table(rows, cols):
    lines = ["| method | " + " | ".join(cols) + " |",
             "|---|" + "---|" * len(cols)]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[c]:.4f}" if abs(r[c]) < 10
                                                 else f"{r[c]:.1f}" for c in cols)
                     + " |")
    return "\n".join(lines)


def main(names):
    torch.set_num_threads(1)
    result = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in names:
        result[name] = SECTIONS[name]()
        result["meta"] = {"python": platform.python_version(),
                          "torch": torch.__version__,
                          "sklearn": sklearn.__version__, "threads": 1,
                          "machine": platform.machine()}
        OUT.write_text(json.dumps(result, indent=2) + "\n")
    if "digits" in result:
        print(table(result["digits"], ["accuracy", "nll", "ece", "brier", "fit_s",
                                       "fit_ratio"]))
    if "ood" in result:
        print(table(result["ood"], ["accuracy", "nll", "ood_auroc", "ood_conf",
                                    "fit_ratio"]))
    if "hmc" in result:
        print(table({k: v for k, v in result["hmc"].items() if k != "hmc"},
                    ["agreement", "tv"]))


if __name__ == "__main__":
    main(sys.argv[1:] or list(SECTIONS))
