"""GPRegressor: scikit-learn's GaussianProcessRegressor, computed in torch."""

import math
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.cluster import KMeans
from sklearn.gaussian_process.kernels import RBF, Kernel
from sklearn.gaussian_process.kernels import ConstantKernel as C
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..utils._sklearn import (
    Interval,
    StrOptions,
    _fit_context,
    check_kernel_bounds,
    validate_data,
)
from ..utils._verbose import ProgressLog
from . import _engine, _numpy_exact
from ._base import GPPredictMixin
from ._kernels import TorchKernel, compile_kernel, supported_kernels, with_theta
from ._linalg import GPLinAlgError, gp_threads
from ._optimize import make_objective, optimize
from ._posterior import ExactPosterior, SparsePosterior, exact_lml, sgpr_lml

# Exact inference up to this many samples under inference="auto": one fit
# at n = 4000 takes about a minute on 2 cores (docs/benchmarks/RESULTS.md).
EXACT_MAX_SAMPLES = 4000
_SPARSE_MAX_ITER = 200
_KMEANS_MAX_SAMPLES = 10000
# n_inducing="auto": at most 2048 inducing points, fewer beyond 10^5 rows so
# that the O(n m^2) posterior stays near 4e11 flops (about a minute on one
# core). At n = 100 000 (8-D benchmark) test NLL went -0.20 / -0.44 / -0.63 /
# -0.73 for m = 256 / 512 / 1024 / 2048 (docs/benchmarks/RESULTS.md).
_AUTO_INDUCING_MAX = 2048
_AUTO_INDUCING_FLOPS = 4e11


def auto_n_inducing(n):
    """Inducing points used by ``n_inducing="auto"`` for ``n`` training rows."""
    return int(min(n, _AUTO_INDUCING_MAX, math.sqrt(_AUTO_INDUCING_FLOPS / n)))


class GPRegressor(GPPredictMixin, RegressorMixin, BaseEstimator):
    """Gaussian process regression in torch, a drop-in for scikit-learn's.

    Same parameters, attributes and results as
    :class:`sklearn.gaussian_process.GaussianProcessRegressor` (whose own
    test suite it passes), with kernels given as scikit-learn kernel
    objects. Small problems run on NumPy with the kernel's own ``__call__``;
    larger ones evaluate the kernel compiled to torch (float64), with
    gradients from autograd (see Notes). Beyond ``EXACT_MAX_SAMPLES``
    training points (``inference="auto"``) it switches to the SGPR
    inducing-point approximation (Titsias, 2009).

    Parameters
    ----------
    kernel : kernel instance, default=None
        Any scikit-learn kernel, including kernels on structured inputs
        (``requires_vector_input=False``, X a list of objects). The exact
        types ``ConstantKernel``, ``RBF`` (isotropic or ARD), ``Matern`` (nu
        in {0.5, 1.5, 2.5, inf}), ``RationalQuadratic``, ``ExpSineSquared``,
        ``DotProduct``, ``WhiteKernel`` and their ``+``, ``*`` and ``**``
        compositions compile to torch; others are evaluated by their own
        ``__call__``. None means ``ConstantKernel(1.0) * RBF(1.0)``.
    alpha : float or ndarray of shape (n_samples,), default=1e-10
        Value added to the diagonal of the kernel matrix during fitting.
    optimizer : "fmin_l_bfgs_b", callable or None, default="fmin_l_bfgs_b"
        Optimiser of the kernel's log-theta, with scikit-learn's callable
        signature ``optimizer(obj_func, initial_theta, bounds)``. None keeps
        the kernel's hyper-parameters fixed.
    n_restarts_optimizer : int, default=0
        Restarts from log-theta drawn uniformly within the bounds.
    normalize_y : bool, default=False
        Standardise the targets (mean 0, variance 1) before fitting.
    copy_X_train : bool, default=True
        Store a copy of the training inputs in ``X_train_``.
    n_targets : int, default=None
        Number of targets, used when predicting from the prior.
    inference : {"auto", "exact", "sgpr"}, default="auto"
        ``"exact"`` Cholesky inference; ``"sgpr"`` the inducing-point bound of
        Titsias (2009) with ``n_inducing`` inducing inputs;
        ``"auto"`` is exact up to ``EXACT_MAX_SAMPLES`` (4000) samples.
    n_inducing : int or "auto", default="auto"
        Number of inducing points of the SGPR path. When it is at least
        n_samples, the inducing inputs are all training inputs. ``"auto"``
        uses ``min(n_samples, 2048, sqrt(4e11 / n_samples))``, which keeps
        the O(n m^2) posterior at about a minute on one core.
    inducing_init : {"kmeans", "random"}, default="kmeans"
        Inducing inputs (initial ones, when optimised): k-means centres of
        at most 10 000 rows, or a random subset of the rows.
    optimize_subset : int, default=2000
        SGPR only. Up to this many samples, the kernel hyper-parameters and
        the inducing inputs are optimised jointly on the SGPR bound. Beyond
        it, the hyper-parameters maximise the exact marginal likelihood of a
        random subset of this many rows (Chalupka et al., 2013), the inducing
        inputs stay at their initial values, and the SGPR posterior then
        conditions on all rows.
    max_iter : int, default=None
        Maximum L-BFGS-B iterations; None means scipy's default for exact
        inference and 200 for SGPR.
    device : str, default="cpu"
        Torch device of the computations.
    random_state : int, RandomState instance or None, default=None
        Seeds optimizer restarts and the inducing-point initialisation.
        ``None`` draws from numpy's global RNG, as scikit-learn does, so
        ``np.random.seed`` makes the fit reproducible.
    verbose : int, default=0
        0 prints nothing. 1 prints one line per optimizer run (the initial
        kernel's theta, then each restart: its final -LML, iterations,
        objective evaluations and seconds), or one line with the -LML when
        the kernel is not optimised; the SGPR path beyond ``optimize_subset``
        rows adds one line with the bound on all rows. 2 also prints the
        -LML after each L-BFGS-B iteration.

    Attributes
    ----------
    kernel_ : kernel instance
        The kernel with the fitted hyper-parameters.
    X_train_ : ndarray of shape (n_samples, n_features)
        Training inputs.
    y_train_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Training targets (normalised when ``normalize_y``).
    L_ : ndarray of shape (n_samples, n_samples) or (n_inducing, n_inducing)
        Lower Cholesky factor of ``K(X_train_) + alpha`` (exact) or of
        ``K(Z, Z)`` (SGPR).
    alpha_ : ndarray of shape (n_samples,) or (n_inducing,)
        Weights of the predictive mean ``k(X, X_train_) @ alpha_`` (exact) or
        ``k(X, inducing_points_) @ alpha_`` (SGPR); a 2-D array with one
        column per target for multi-output y.
    inducing_points_ : ndarray of shape (n_inducing, n_features)
        Fitted inducing inputs (SGPR only).
    inference_ : str
        The inference used, "exact" or "sgpr".
    log_marginal_likelihood_value_ : float
        Log marginal likelihood (SGPR: its lower bound) of ``kernel_.theta``.
    n_iter_ : int
        L-BFGS-B iterations of the best optimizer run (0 without optimizer,
        1 for a callable optimizer).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sklearn.gaussian_process.GaussianProcessRegressor : The numpy original.
    DeepKernelRegressor : A GP on features learned by a neural network.

    Notes
    -----
    Exact inference follows Rasmussen & Williams (2006), Algorithm 2.1; the
    sparse path maximises the collapsed bound of Titsias (2009), eq. 9, over
    kernel hyper-parameters and inducing inputs jointly.

    Each exact-inference step runs on the engine measured faster for its
    size on one thread: the optimiser's log-marginal-likelihood gradients
    on torch from 150 training rows, ``predict`` on torch from 3e5
    training x query rows, and the posterior factorisation and gradient-free
    likelihoods on NumPy/SciPy. A kernel with no torch compilation always
    runs on NumPy, like scikit-learn, and from 150 rows a ``UserWarning``
    says that the torch speed-up is not used.

    When the Cholesky factorisation of ``K + alpha`` fails and ``alpha > 0``,
    growing jitter is added (with a ``RuntimeWarning``) where scikit-learn
    raises; with ``alpha=0``, or when no jitter helps, a
    ``numpy.linalg.LinAlgError`` is raised with scikit-learn's message.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process.kernels import RBF, WhiteKernel
    >>> from skbdl import GPRegressor
    >>> X = np.linspace(0, 5, 20).reshape(-1, 1)
    >>> y = np.sin(X).ravel()
    >>> gpr = GPRegressor(RBF() + WhiteKernel(1e-3), random_state=0).fit(X, y)
    >>> mean, std = gpr.predict(X[:2], return_std=True)
    >>> mean.shape, std.shape
    ((2,), (2,))
    """

    _parameter_constraints: dict = {
        "kernel": [None, Kernel],
        "alpha": [Interval(Real, 0, None, closed="left"), np.ndarray],
        "optimizer": [StrOptions({"fmin_l_bfgs_b"}), callable, None],
        "n_restarts_optimizer": [Interval(Integral, 0, None, closed="left")],
        "normalize_y": ["boolean"],
        "copy_X_train": ["boolean"],
        "n_targets": [Interval(Integral, 1, None, closed="left"), None],
        "inference": [StrOptions({"auto", "exact", "sgpr"})],
        "n_inducing": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "inducing_init": [StrOptions({"kmeans", "random"})],
        "optimize_subset": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        kernel=None,
        *,
        alpha=1e-10,
        optimizer="fmin_l_bfgs_b",
        n_restarts_optimizer=0,
        normalize_y=False,
        copy_X_train=True,
        n_targets=None,
        inference="auto",
        n_inducing="auto",
        inducing_init="kmeans",
        optimize_subset=2000,
        max_iter=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.kernel = kernel
        self.alpha = alpha
        self.optimizer = optimizer
        self.n_restarts_optimizer = n_restarts_optimizer
        self.normalize_y = normalize_y
        self.copy_X_train = copy_X_train
        self.n_targets = n_targets
        self.inference = inference
        self.n_inducing = n_inducing
        self.inducing_init = inducing_init
        self.optimize_subset = optimize_subset
        self.max_iter = max_iter
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the Gaussian process regression model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or list of object
            Training inputs (a list of objects for kernels on structured
            data, whose ``requires_vector_input`` is False).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self.kernel_ = C(1.0) * RBF(1.0) if self.kernel is None else clone(self.kernel)
        self._rng = check_random_state(self.random_state)
        self._log = ProgressLog(type(self).__name__, self.verbose)
        vector = self.kernel_.requires_vector_input
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True,
            ensure_2d=vector, dtype=np.float64 if vector else None,
        )  # fmt: skip
        Y = self._prepare_targets(y)
        n = X.shape[0]
        noise = self._noise_vector(n)
        self.X_train_ = np.copy(X) if self.copy_X_train else X
        self.y_train_ = Y[:, 0] if y.ndim == 1 else Y
        tk = compile_kernel(self.kernel_)
        self._compiled = tk is not None
        self._L_inv = None  # set by the NumPy posterior
        self.inference_ = self._resolve_inference(n, tk)
        if self.inference_ == "sgpr":
            with gp_threads(n):
                self._fit_sgpr(tk, self._tensors(X, Y, noise), X)
            return self
        if not self._compiled:
            _engine.warn_uncompiled(self.kernel_, n)
        optimizing = self.optimizer is not None and self.kernel_.n_dims > 0
        small = n < _engine.TORCH_GRADIENT_MIN_SAMPLES
        with nullcontext() if small else gp_threads(n):
            if self._engine_for("gradient" if optimizing else "lml", n) == "torch":
                t = self._tensors(X, Y, noise)
                self._optimize(tk, t, None)
            else:
                self._optimize_numpy(self.X_train_, Y, noise)
            if self._engine_for("factor", n) == "torch":
                self._set_posterior(tk, self._tensors(X, Y, noise), None)
            else:
                self._posterior_numpy(self.X_train_, Y, noise)
        return self

    def _engine_for(self, op, n, m=0):
        """The engine of one exact-inference step (``_engine.choose_engine``)."""
        return _engine.choose_engine(
            op, n, m, compiled=getattr(self, "_compiled", True),
            device_type=self._device().type,
        )  # fmt: skip

    def _optimize_numpy(self, X, Y, noise):
        """Maximise the LML on the kernel's NumPy evaluation."""
        kernel = self.kernel_
        obj_func = _numpy_exact.make_objective(kernel, X, Y, noise)
        theta0 = kernel.theta
        if self.optimizer is None or theta0.shape[0] == 0:
            self.n_iter_ = 0
            value = _numpy_exact.lml(kernel, X, Y, noise)
            self._log_fixed(value)
        else:
            best, value, self.n_iter_ = optimize(
                obj_func, theta0, kernel.bounds.reshape(-1, 2),
                optimizer=self.optimizer, n_restarts=self.n_restarts_optimizer,
                rng=self._rng, n_theta=theta0.shape[0], max_iter=self.max_iter,
                log=self._log,
            )  # fmt: skip
            kernel.theta = best
            check_kernel_bounds(kernel)
            value = -value
        self.log_marginal_likelihood_value_ = np.float64(value)

    def _posterior_numpy(self, X, Y, noise):
        """Alg. 2.1 lines 2-3 on the kernel's NumPy evaluation."""
        try:
            L, weights = _numpy_exact.posterior(
                self.kernel_, X, Y, noise, jitter=self._jitter_allowed()
            )
        except GPLinAlgError as exc:
            raise self._not_pd_error(exc) from exc
        self.L_ = L
        self._L_inv = _numpy_exact.triangular_inverse(L)
        self.alpha_ = weights[:, 0] if self.y_train_.ndim == 1 else weights

    def _jitter_allowed(self):
        """scikit-learn adds nothing to K when the user asks for alpha=0;
        neither do we (any other alpha: growing jitter, with a warning)."""
        return bool(np.any(np.asarray(self.alpha) != 0))

    def _not_pd_error(self, exc):
        return GPLinAlgError(
            f"The kernel, {self.kernel_}, is not returning a positive definite "
            "matrix. Try gradually increasing the 'alpha' parameter of your "
            "GaussianProcessRegressor estimator. (GPRegressor adds no jitter "
            f"when alpha=0, as scikit-learn.) {exc}"
        )

    def _prepare_targets(self, y):
        if self.n_targets is not None:
            seen = y.shape[1] if y.ndim > 1 else 1
            if seen != self.n_targets:
                raise ValueError(
                    "The number of targets seen in `y` is different from the "
                    f"parameter `n_targets`. Got {seen} != {self.n_targets}."
                )
        Y = y.reshape(y.shape[0], -1).astype(np.float64)
        if self.normalize_y:
            self._y_train_mean = Y.mean(axis=0)
            std = Y.std(axis=0)
            self._y_train_std = np.where(std < 10 * np.finfo(float).eps, 1.0, std)
            Y = (Y - self._y_train_mean) / self._y_train_std
        else:
            self._y_train_mean = np.zeros(Y.shape[1])
            self._y_train_std = np.ones(Y.shape[1])
        return Y

    def _noise_vector(self, n):
        alpha = np.asarray(self.alpha, dtype=np.float64)
        if alpha.ndim > 0 and alpha.shape[0] not in (1, n):
            raise ValueError(
                "alpha must be a scalar or an array with same number of "
                f"entries as y. ({alpha.shape[0]} != {n})"
            )
        return np.broadcast_to(
            alpha.reshape(-1)[:1] if alpha.size == 1 else alpha, (n,)
        )

    def _resolve_inference(self, n, tk):
        if tk is None:
            if self.inference == "sgpr":
                raise TypeError(
                    f"inference='sgpr' needs a kernel with a torch compilation "
                    f"(gradients with respect to the inducing inputs); "
                    f"{self.kernel_!r} has none. Supported kernels: "
                    f"{supported_kernels()}. Use inference='exact' or 'auto'."
                )
            return "exact"
        if self.inference == "auto":
            return (
                "exact" if n <= max(EXACT_MAX_SAMPLES, self._n_inducing(n)) else "sgpr"
            )
        return self.inference

    def _device(self):
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"The 'device' parameter of {type(self).__name__} must be a valid "
                f"torch device string such as 'cpu' or 'cuda'. Got {self.device!r}."
            ) from exc

    def _tensors(self, X, Y, noise):
        dev = self._device()
        as_t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64, device=dev)  # noqa: E731
        return {"X": as_t(X), "Y": as_t(Y), "noise": as_t(noise), "device": dev}

    def _init_inducing(self, X):
        n, m = X.shape[0], self._n_inducing(X.shape[0])
        if m == n:
            return X.copy()
        if self.inducing_init == "random":
            return X[self._rng.choice(n, m, replace=False)]
        rows = X
        n_rows = max(_KMEANS_MAX_SAMPLES, 4 * m)
        if n > n_rows:
            rows = X[self._rng.choice(n, n_rows, replace=False)]
        km = KMeans(n_clusters=m, n_init=1, max_iter=50, random_state=self._rng)
        return km.fit(rows).cluster_centers_

    def _n_inducing(self, n):
        if self.n_inducing == "auto":
            return auto_n_inducing(n)
        return min(self.n_inducing, n)

    def _fit_sgpr(self, tk, t, X):
        """Small n: optimise theta and Z jointly on the SGPR bound. Large n:
        theta from the exact LML of ``optimize_subset`` random rows, Z fixed.
        Then condition on all rows and report the bound on all rows."""
        n = X.shape[0]
        if n <= self.optimize_subset:
            Z = self._optimize(tk, t, self._init_inducing(X))
            self._set_posterior(tk, t, Z)
            return
        rows = torch.as_tensor(
            np.sort(self._rng.choice(n, self.optimize_subset, replace=False))
        )
        self._optimize(
            tk, {k: (v[rows] if torch.is_tensor(v) else v) for k, v in t.items()}, None
        )
        self._set_posterior(tk, t, self._init_inducing(X))
        self.log_marginal_likelihood_value_ = self._sgpr_bound
        self._log(f"SGPR bound on all {n} rows: -LML {-self._sgpr_bound:.6f}")

    def _lml_fn(self, tk, t, Z, n_theta):
        X, Y, noise = t["X"], t["Y"], t["noise"]
        if Z is None:
            return lambda p: exact_lml(tk, p, X, Y, noise)
        shape = Z.shape
        return lambda p: sgpr_lml(
            tk, p[:n_theta], X, Y, p[n_theta:].reshape(shape), noise
        )

    def _optimize(self, tk, t, Z):
        """Maximise the (bound on the) LML over log-theta (and Z); return Z."""
        theta = self.kernel_.theta
        n_theta = theta.shape[0]
        fixed = self.optimizer is None or (n_theta == 0 and Z is None)
        lml_fn = self._lml_fn(tk, t, Z, n_theta)
        x0 = theta if Z is None else np.concatenate([theta, Z.ravel()])
        bounds = self.kernel_.bounds.reshape(-1, 2)
        if Z is not None:
            free = np.tile([-np.inf, np.inf], (Z.size, 1))
            bounds = np.vstack([bounds, free])
        obj_func = make_objective(lml_fn, t["device"])
        if fixed:
            value = -obj_func(x0, eval_gradient=False)
            self.log_marginal_likelihood_value_ = np.float64(value)
            self.n_iter_ = 0
            self._log_fixed(value)
            return Z
        max_iter = self.max_iter
        if max_iter is None and Z is not None:
            max_iter = _SPARSE_MAX_ITER
        best, value, self.n_iter_ = optimize(
            obj_func, x0, bounds, optimizer=self.optimizer,
            n_restarts=self.n_restarts_optimizer, rng=self._rng,
            n_theta=n_theta, max_iter=max_iter, log=self._log,
        )  # fmt: skip
        self.kernel_.theta = best[:n_theta]
        check_kernel_bounds(self.kernel_)
        self.log_marginal_likelihood_value_ = np.float64(-value)
        return None if Z is None else best[n_theta:].reshape(Z.shape)

    def _log_fixed(self, lml):
        self._log(f"kernel not optimised: -LML {-lml:.6f}")

    def _set_posterior(self, tk, t, Z):
        theta = torch.as_tensor(self.kernel_.theta, device=t["device"])
        if Z is None:
            try:
                post = ExactPosterior(
                    tk, theta, t["X"], t["Y"], t["noise"],
                    jitter=self._jitter_allowed(),
                )  # fmt: skip
            except GPLinAlgError as exc:
                raise self._not_pd_error(exc) from exc
            self.L_, alpha = post.L.cpu().numpy(), post.alpha
        else:
            Zt = torch.as_tensor(Z, device=t["device"])
            with torch.no_grad():
                post = SparsePosterior.from_sgpr(
                    tk, theta, t["X"], t["Y"], Zt, t["noise"]
                )
            self._sgpr_bound = post.bound
            self.inducing_points_ = Z
            self.L_ = post.L.cpu().numpy()
            self._sgpr_LB = post.LB.cpu().numpy()
            self._sgpr_m = post.m.cpu().numpy()
            alpha = torch.linalg.solve_triangular(post.L.T, post.m, upper=True)
        alpha = alpha.cpu().numpy()
        self.alpha_ = alpha[:, 0] if self.y_train_.ndim == 1 else alpha

    # ------------------------------------------------------------- predict
    def _validate_predict(self, X):
        vector = self.kernel is None or self.kernel.requires_vector_input
        return validate_data(
            self, X, reset=False, ensure_2d=vector, dtype=np.float64 if vector else None
        )

    def _predict_prior(self, X, return_std, return_cov):
        if hasattr(self, "X_train_"):
            return None
        if self.kernel is None:
            kernel = C(1.0, "fixed") * RBF(1.0, "fixed")
        else:
            kernel = self.kernel
        n_targets = self.n_targets if self.n_targets is not None else 1
        mean = np.zeros((X.shape[0], n_targets)).squeeze()
        spread = kernel(X) if return_cov else (kernel.diag(X) if return_std else None)
        if spread is None:
            return mean
        if n_targets > 1:
            spread = np.repeat(spread[..., None], n_targets, axis=-1)
        return mean, (spread if return_cov else np.sqrt(spread))

    def _posterior(self):
        dev = self._device()
        tk = TorchKernel(self.kernel_)
        as_t = lambda a: torch.as_tensor(a, dtype=torch.float64, device=dev)  # noqa: E731
        theta = as_t(self.kernel_.theta)
        alpha = as_t(self.alpha_.reshape(self.alpha_.shape[0], -1))
        if self.inference_ == "exact":
            return ExactPosterior.from_state(
                tk, theta, as_t(self.X_train_), as_t(self.L_), alpha
            )
        return SparsePosterior(
            tk, theta, as_t(self.inducing_points_), as_t(self.L_),
            as_t(self._sgpr_m), LB=as_t(self._sgpr_LB),
        )  # fmt: skip

    def _latent(self, X, kind):
        n = self.X_train_.shape[0]
        exact = self.inference_ == "exact"
        if exact and self._engine_for("predict", n, X.shape[0]) == "numpy":
            weights = self.alpha_.reshape(self.alpha_.shape[0], -1)
            return _numpy_exact.predict(
                self.kernel_, self.X_train_, self.L_, weights, X, kind,
                L_inv=getattr(self, "_L_inv", None),
            )  # fmt: skip
        with gp_threads(self.alpha_.shape[0]), torch.no_grad():
            post = self._posterior()
            Xt = torch.as_tensor(X, dtype=torch.float64, device=post.theta.device)
            if kind == "cov":
                return post.mean_cov(Xt)
            return post.mean_var(Xt, return_var=kind == "var")

    def log_marginal_likelihood(
        self, theta=None, eval_gradient=False, clone_kernel=True
    ):
        """Log marginal likelihood of log-theta for the training data.

        For ``inference_ == "sgpr"`` this is the Titsias lower bound at the
        fitted inducing inputs.

        Parameters
        ----------
        theta : array-like of shape (n_kernel_params,), default=None
            Kernel log-hyper-parameters; None returns
            ``log_marginal_likelihood_value_``.
        eval_gradient : bool, default=False
            Also return the gradient with respect to theta (by autograd).
        clone_kernel : bool, default=True
            If False, ``kernel_.theta`` is set to ``theta``, as in
            scikit-learn.

        Returns
        -------
        log_likelihood : numpy.float64
            Log marginal likelihood of theta.
        log_likelihood_gradient : ndarray of shape (n_kernel_params,), optional
            Its gradient with respect to theta (only when ``eval_gradient``).
        """
        check_is_fitted(self)
        if theta is None:
            if eval_gradient:
                raise ValueError("Gradient can only be evaluated for theta!=None")
            return self.log_marginal_likelihood_value_
        theta = np.asarray(theta, dtype=np.float64)
        Y = self.y_train_.reshape(self.y_train_.shape[0], -1)
        noise = self._noise_vector(Y.shape[0])
        if not clone_kernel:
            self.kernel_.theta = theta
        op = "gradient" if eval_gradient else "lml"
        if self.inference_ == "exact" and self._engine_for(op, Y.shape[0]) == "numpy":
            kernel = with_theta(self.kernel_, theta) if clone_kernel else self.kernel_
            return _numpy_exact.lml(kernel, self.X_train_, Y, noise, eval_gradient)
        value = self._torch_lml(theta, Y, noise, eval_gradient)
        if eval_gradient:
            return np.float64(-value[0]), -value[1]
        return np.float64(-value)

    def _torch_lml(self, theta, Y, noise, eval_gradient):
        t = self._tensors(self.X_train_, Y, noise)
        Z = (
            getattr(self, "inducing_points_", None)
            if self.inference_ == "sgpr"
            else None
        )
        tk = TorchKernel(self.kernel_)
        with gp_threads(Y.shape[0]):
            if Z is None:
                fn = lambda p: exact_lml(tk, p, t["X"], t["Y"], t["noise"])  # noqa: E731
            else:
                Zt = torch.as_tensor(Z, device=t["device"])
                fn = lambda p: sgpr_lml(tk, p, t["X"], t["Y"], Zt, t["noise"])  # noqa: E731
            return make_objective(fn, t["device"])(theta, eval_gradient)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.target_tags.multi_output = True
        return tags
