"""Predictions of fixed configurations, recorded to detect unintended changes.

``python tests/reference_predictions.py`` rewrites
``data/reference_predictions.npz``; ``test_reference_predictions.py`` checks
that the current code reproduces it. Regenerate it only in a commit that
changes results on purpose, and say so in CHANGELOG.md.

Float results are bitwise reproducible on one machine, not across machines:
torch and MKL pick kernels by CPU (AVX2 or AVX-512, cache sizes), and the
last bits differ. The file therefore also records ``machine_canary()``, a
hash of a few kernels' outputs; where the canary matches, the test demands
identical bits, elsewhere agreement to the measured cross-machine spread.
"""

import hashlib
import pathlib

import numpy as np
import torch

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.inference import MAP, Ensemble, Laplace, MCDropout

PATH = pathlib.Path(__file__).parent / "data" / "reference_predictions.npz"

_rng = np.random.RandomState(0)
X = _rng.uniform(-2, 2, size=(60, 3))
Y_CLF = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
Y_REG = np.sin(2 * X[:, 0]) + 0.3 * X[:, 2] + 0.1 * _rng.randn(60)
X_NEW = np.vstack([X[:5], _rng.uniform(-4, 4, size=(7, 3))])

_COMMON = {"hidden_layer_sizes": (8, 6), "max_epochs": 12, "lr": 1e-2,
           "random_state": 3}


def configurations():
    """``(name, estimator, y)`` of every recorded configuration."""
    methods = {
        "map": MAP(),
        "ensemble": Ensemble(n_members=3),
        "mc_dropout": MCDropout(p=0.2, n_samples=5),
        "laplace": Laplace(),
        "laplace_all_kron": Laplace("all", "kron", prior_precision="marglik"),
        "laplace_all_full": Laplace("all", "full", prior_precision=2.0),
        "laplace_all_diag_nn": Laplace("all", "diag", pred_type="nn", n_samples=6),
        "laplace_online": Laplace("all", "kron", prior_precision="online",
                                  online_burnin=3, online_frequency=3),
        "laplace_zellner": Laplace(prior_covariance="zellner"),
        "laplace_mc": Laplace("all", "kron", link="mc", n_samples=6),
    }
    for name, method in methods.items():
        yield (f"clf_{name}", BayesianMLPClassifier(method=method, **_COMMON), Y_CLF)
        yield (f"reg_{name}", BayesianMLPRegressor(method=method, **_COMMON), Y_REG)
    for name in ("map", "ensemble", "laplace_all_kron"):
        yield (f"reg_hetero_{name}", BayesianMLPRegressor(
            method=methods[name], heteroscedastic=True, **_COMMON), Y_REG)
    yield ("clf_map_early", BayesianMLPClassifier(
        method="map", early_stopping=True, **_COMMON), Y_CLF)
    yield ("reg_map_early", BayesianMLPRegressor(
        method="map", early_stopping=True, **_COMMON), Y_REG)


def predictions(estimator, y):
    """The arrays recorded for one configuration."""
    est = estimator.fit(X, y)
    out = {"loss_curve": np.asarray(est.loss_curve_)}
    if isinstance(est, BayesianMLPClassifier):
        out["proba"] = est.predict_proba(X_NEW)
        out["samples"] = est.predict_proba_samples(X_NEW, n_samples=4)
    else:
        out["mean"], out["std"] = est.predict(X_NEW, return_std=True)
        u = est.predict_uncertainty(X_NEW)
        out["aleatoric"], out["epistemic"] = u.aleatoric, u.epistemic
        out["sample_y"] = est.sample_y(X_NEW, n_samples=4, random_state=1)
    return out


def machine_canary():
    """Hash of matrix products, softmax, exp and a symmetric eigensolve.

    Equal on two machines when their kernels round alike (then the recorded
    predictions must be reproduced bit for bit).
    """
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(37, 64, generator=generator)
    b = torch.randn(5, 64, 100, generator=generator)
    c = torch.randn(30, 30, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        h = torch.baddbmm(torch.zeros(5, 37, 1), a.expand(5, 37, 64), b)
        outputs = [h, torch.log_softmax(h, 1), torch.exp(torch.tanh(h)),
                   torch.linalg.eigh(c @ c.T)[1].abs(), a @ a.T]
    digest = hashlib.sha256()
    for out in outputs:
        digest.update(out.numpy().tobytes())
    return digest.hexdigest()


def record():
    arrays = {"_canary": np.array(machine_canary())}
    for name, est, y in configurations():
        for key, value in predictions(est, y).items():
            arrays[f"{name}/{key}"] = value
    PATH.parent.mkdir(exist_ok=True)
    np.savez(PATH, **arrays)
    return arrays


if __name__ == "__main__":
    print(f"{len(record())} arrays written to {PATH}")
