"""Hyper-parameter optimisation with scikit-learn's optimizer semantics."""

import warnings

import numpy as np
import scipy.optimize
import torch
from sklearn.exceptions import ConvergenceWarning


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


def _minimize(obj_func, x0, bounds, optimizer, max_iter):
    if optimizer == "fmin_l_bfgs_b":
        options = {} if max_iter is None else {"maxiter": int(max_iter)}
        res = scipy.optimize.minimize(
            obj_func, x0, method="L-BFGS-B", jac=True, bounds=bounds, options=options
        )
        if res.status != 0:
            warnings.warn(
                f"lbfgs failed to converge (status={res.status}): {res.message}. "
                "Increase the number of iterations (max_iter).",
                ConvergenceWarning,
                stacklevel=4,
            )
        return res.x, res.fun, int(res.nit)
    x, fun = optimizer(obj_func, x0, bounds=bounds)
    return x, fun, 1


def optimize(obj_func, x0, bounds, *, optimizer, n_restarts, rng, n_theta, max_iter):
    """Best (params, -lml, n_iter) over the initial point and ``n_restarts`` restarts.

    Restarts draw the first ``n_theta`` entries (kernel log-theta) uniformly
    within ``bounds`` with ``rng``, as scikit-learn does; the remaining
    entries (inducing inputs) restart from ``x0``.
    """
    optima = [_minimize(obj_func, x0, bounds, optimizer, max_iter)]
    if n_restarts > 0:
        theta_bounds = bounds[:n_theta]
        if not np.isfinite(theta_bounds).all():
            raise ValueError(
                "Multiple optimizer restarts (n_restarts_optimizer>0) "
                "requires that all bounds are finite."
            )
        for _ in range(n_restarts):
            start = np.array(x0, dtype=np.float64)
            start[:n_theta] = rng.uniform(theta_bounds[:, 0], theta_bounds[:, 1])
            optima.append(_minimize(obj_func, start, bounds, optimizer, max_iter))
    values = [opt[1] for opt in optima]
    x, value, n_iter = optima[int(np.argmin(values))]
    return np.asarray(x, dtype=np.float64), float(value), n_iter
