"""Hyper-parameter optimisation with scikit-learn's optimizer semantics."""

import itertools
import warnings

import numpy as np
import scipy.optimize
import torch
from sklearn.exceptions import ConvergenceWarning

from ..utils._verbose import Stopwatch


def make_objective(lml_fn, device):
    """Wrap ``lml_fn(params_tensor) -> scalar tensor or None`` as sklearn's
    ``obj_func(params, eval_gradient=True) -> (-lml, -grad)``; gradients come
    from autograd. A failed Cholesky (None or a ValueError) gives +inf, as in
    scikit-learn."""

    def obj_func(params, eval_gradient=True):
        p = torch.tensor(np.asarray(params, dtype=np.float64), device=device)
        p.requires_grad_(eval_gradient)
        try:
            lml = lml_fn(p)
        except ValueError:
            lml = None
        if lml is None or not bool(torch.isfinite(lml.detach())):
            return (np.inf, np.zeros_like(params)) if eval_gradient else np.inf
        if not eval_gradient:
            return -float(lml.detach())
        (grad,) = torch.autograd.grad(lml, p)
        return -float(lml.detach()), -grad.detach().cpu().numpy()

    return obj_func


def _iteration_callback(on_iteration):
    """scipy ``callback`` calling ``on_iteration(k, -lml)`` after iteration k."""
    if on_iteration is None:
        return None
    count = itertools.count(1)
    # scipy passes the OptimizeResult by keyword to this parameter name
    return lambda intermediate_result: on_iteration(
        next(count), intermediate_result.fun
    )


def _minimize(obj_func, x0, bounds, optimizer, max_iter, on_iteration=None):
    """``(x, -lml, n_iter, n_evaluations)`` of one optimizer run."""
    n_eval = 0

    def counted(*args, **kwargs):
        nonlocal n_eval
        n_eval += 1
        return obj_func(*args, **kwargs)

    if optimizer == "fmin_l_bfgs_b":
        options = {} if max_iter is None else {"maxiter": int(max_iter)}
        res = scipy.optimize.minimize(
            counted, x0, method="L-BFGS-B", jac=True, bounds=bounds,
            options=options, callback=_iteration_callback(on_iteration),
        )  # fmt: skip
        if res.status != 0:
            warnings.warn(
                f"lbfgs failed to converge (status={res.status}): {res.message}. "
                "Increase the number of iterations (max_iter).",
                ConvergenceWarning,
                stacklevel=5,
            )
        return res.x, res.fun, int(res.nit), n_eval
    x, fun = optimizer(counted, x0, bounds=bounds)
    return x, fun, 1, n_eval


def optimize(obj_func, x0, bounds, *, optimizer, n_restarts, rng, n_theta, max_iter,
             log=None):
    """Best (params, -lml, n_iter) over the initial point and ``n_restarts`` restarts.

    Restarts draw the first ``n_theta`` entries (kernel log-theta) uniformly
    within ``bounds`` with ``rng``, as scikit-learn does; the remaining
    entries (inducing inputs) restart from ``x0``. ``log``, a
    ``skbdl.utils._verbose.ProgressLog`` or None, gets one line per run
    (level 1) and one per L-BFGS-B iteration (level 2).
    """
    n_runs = n_restarts + 1

    def run(i, start):
        watch, name = Stopwatch(), f"run {i + 1}/{n_runs}"
        def each_iteration(k, fun):
            log(f"{name} iteration {k}: -LML {fun:.6f}", level=2)

        on_iteration = each_iteration if log is not None and log.enabled(2) else None
        x, fun, n_iter, n_eval = _minimize(
            obj_func, start, bounds, optimizer, max_iter, on_iteration
        )
        if log is not None:
            kind = "kernel's theta" if i == 0 else "random restart"
            iters = f"{n_iter} iterations, " if optimizer == "fmin_l_bfgs_b" else ""
            log(f"{name} ({kind}): -LML {fun:.6f}, {iters}"
                f"{n_eval} evaluations, {watch}")  # fmt: skip
        return x, fun, n_iter

    optima = [run(0, x0)]
    if n_restarts > 0:
        theta_bounds = bounds[:n_theta]
        if not np.isfinite(theta_bounds).all():
            raise ValueError(
                "Multiple optimizer restarts (n_restarts_optimizer>0) "
                "requires that all bounds are finite."
            )
        for i in range(1, n_runs):
            start = np.array(x0, dtype=np.float64)
            start[:n_theta] = rng.uniform(theta_bounds[:, 0], theta_bounds[:, 1])
            optima.append(run(i, start))
    values = [opt[1] for opt in optima]
    x, value, n_iter = optima[int(np.argmin(values))]
    return np.asarray(x, dtype=np.float64), float(value), n_iter
