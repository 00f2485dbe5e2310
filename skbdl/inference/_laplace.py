"""Laplace approximation around the MAP network (MacKay, 1992; Daxberger et
al., 2021) with a generalised Gauss-Newton Hessian."""

import dataclasses
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from .._nn import activation, split_weight_bias, stacked_forward, train_valid_split
from ..priors import check_prior_support
from ..utils._sklearn import Interval, StrOptions
from ..utils._verbose import ProgressLog, Stopwatch
from ._base import BaseInference
from ._curvature import (
    Curvature,
    _augment,
    backprop,
    forward_cache,
    layer_params,
)
from ._laplace_online import OnlineEnergy, OnlineMarglik
from ._laplace_posterior import POSTERIORS
from ._laplace_tuning import (
    _LOG_BOUNDS,
    _LOG_S_BOUNDS,
    Evidence,
    LinearGaussianEvidence,
    best_log_s,
    maximize_evidence,
    minimize_holdout,
    search_edge,
)

_CHUNK_FLOATS = 2**22
_ZELLNER_RIDGE = 1e-3
_VAR_BLOCK_ROWS = 1024
_MIN_NOISE_ROWS = 20  # fewer held-out residuals do not pin down a noise level


class Laplace(BaseInference):
    r"""Laplace approximation: a Gaussian posterior at the MAP weights.

    The network is trained to the MAP of the energy
    ``-(N/n) sum log p(y|x, w) - log p(w)`` shared by every method;
    the posterior is ``N(theta_MAP, (s H + diag(delta))^{-1})`` over the
    chosen weights, with ``H`` the generalised Gauss-Newton (GGN) matrix of
    the categorical or Gaussian likelihood, ``delta`` the prior precision and
    ``s = 1 / sigma^2`` the noise precision (regression). For the regressor,
    ``subset="last_layer"`` is exact Bayesian linear regression on the
    learned features.

    Parameters
    ----------
    subset : {"last_layer", "all"}, default="last_layer"
        Weights with a posterior; the others stay at the MAP.
    hessian : {"kron", "full", "diag"}, default="kron"
        Structure of the GGN: Kronecker-factored per layer (KFAC), dense, or
        its exact diagonal.
    prior_precision : float or {"holdout", "marglik", "online"}, default="holdout"
        ``delta``. A float fixes it. ``"marglik"`` maximises the Laplace log
        marginal likelihood at the MAP (the post-hoc recipe of Daxberger et
        al., 2021). ``"holdout"`` trains the MAP on ``1 - validation_fraction``
        of the rows and picks ``delta`` minimising the held-out negative log
        predictive density (Notes); with fewer than 5 rows it falls back to
        ``"marglik"``. ``"online"`` learns ``delta`` (and the noise) during
        training by the marginal likelihood, and trains the MAP under it
        (Immer et al., 2021b; Notes). With ``"online"`` the ``subset`` layers
        have a Gaussian prior of precision ``delta``, starting from the
        estimator prior's precision; the other layers keep the estimator's
        prior.
    prior_structure : {"scalar", "layerwise"}, default="scalar"
        One ``delta`` for all layers or one per layer (``"marglik"`` and
        ``"online"`` only).
    prior_covariance : {"isotropic", "zellner"}, default="isotropic"
        Shape of the Gaussian prior of each Laplace layer. ``"isotropic"``:
        precision ``delta I``. ``"zellner"``: Zellner's g-prior, precision
        ``delta (I (x) (A + r I))`` with ``A`` the mean outer product of the
        layer's inputs over the training rows and ``r`` a ridge of ``1e-3``
        times its mean eigenvalue, so the predictive variance of a row grows
        with its leverage in the layer's input space rather than with its
        norm (Notes). Requires ``hessian="kron"`` and is a post-hoc prior:
        not with ``prior_precision="online"``.
    sigma_noise : float or {"auto", "marglik"}, default="auto"
        Homoscedastic regression: observation noise std in the units of the
        standardised targets. A float fixes it; ``"marglik"`` maximises the
        log marginal likelihood at each ``delta``; ``"auto"`` does the same,
        except with ``prior_precision="holdout"`` and at least 20 held-out
        rows, where ``delta`` and the noise together minimise the held-out
        negative log predictive density (the training residuals of a network
        that fits its rows understate the noise; the noise is searched for
        each candidate ``delta``, on the held-out rows only). Ignored for
        classification and heteroscedastic noise.
    validation_fraction : float, default=0.1
        Share of rows held out when ``prior_precision="holdout"``.
    pred_type : {"glm", "nn"}, default="glm"
        Linearised network (closed-form latent mean and variance) or the
        network itself evaluated at weight draws (Monte Carlo only).
    link : {"probit", "mc"}, default="probit"
        Classification with ``pred_type="glm"``: the probit approximation of
        the expected softmax (closed form), or Monte Carlo over latent draws.
    n_samples : int, default=100
        Draws for Monte-Carlo predictives when the estimator's ``n_samples``
        is None.
    max_memory_mb : float, default=1024
        Memory budget of the curvature; a larger request raises an error
        suggesting a cheaper ``hessian`` or ``subset``.
    online_burnin : int, default=10
        ``prior_precision="online"``: epochs trained under the initial prior
        before the first hyper-parameter update.
    online_frequency : int, default=5
        ``prior_precision="online"``: epochs between hyper-parameter updates
        after the burn-in; the weights at the end of training always get one.
    online_steps : int, default=50
        ``prior_precision="online"``: Adam steps on the log marginal
        likelihood per update (the Laplace curvature is refitted once per
        update at the current weights).
    online_lr : float, default=0.1
        ``prior_precision="online"``: Adam step size on the log precisions
        (and log noise precision).

    Attributes
    ----------
    module_ : torch.nn.Module
        The MAP network.
    loss_curve_ : list of float
        Training energy per epoch.
    prior_precision_ : ndarray of shape (n_deltas,)
        Prior precision used (one value, or one per layer); with
        ``prior_covariance="zellner"`` the scale ``delta`` of
        ``delta (I (x) (A + r I))``.
    sigma_noise_ : float or None
        Observation noise std (standardised units) of homoscedastic regression.
    log_marginal_likelihood_ : float
        Laplace log marginal likelihood at the chosen hyper-parameters.
    n_params_ : int
        Number of weights with a posterior.
    n_marglik_updates_ : int
        Hyper-parameter updates run during training (``"online"`` only).

    See Also
    --------
    MAP : The point estimate the approximation is centred on.

    Notes
    -----
    The GGN of layer ``l`` is ``sum_i (g_i g_i^T) (x) (a_i a_i^T)`` with ``a_i``
    the layer input and ``g_i`` the back-propagated square root of the
    likelihood Hessian; KFAC uses ``(sum_i g_i g_i^T) (x) mean_i a_i a_i^T``
    (Martens and Grosse, 2015), accumulated in one pass. The linearised
    predictive variance is ``J Sigma J^T`` (Immer et al., 2021a) without
    materialising per-row Jacobians of all weights.

    A network trained to interpolate has almost no likelihood curvature, so
    the marginal likelihood picks a tiny ``delta`` and the predictive is far
    too wide in-distribution (docs/benchmarks/RESULTS.md). ``"holdout"``
    chooses ``delta`` by the quantity the predictive is used for, on rows
    the MAP did not see.

    ``"online"`` follows Algorithm 1 of Immer et al. (2021b): every
    ``online_frequency`` epochs after ``online_burnin`` the Laplace of the
    ``subset`` layers is fitted at the current weights and ``online_steps``
    Adam steps increase its log marginal likelihood in the log precisions;
    the training energy uses the updated precisions from then on. The
    posterior is the Laplace at the final weights with the final
    precisions, so the MAP is the mode under the prior of the posterior.
    On digits it is as wide in-distribution as ``"marglik"``
    (docs/benchmarks/RESULTS.md).

    Where the likelihood curvature vanishes (an interpolating network) the
    posterior is close to the prior, and with the isotropic prior the latent
    variance of a row is about ``||a||^2 / delta``, the squared norm of its
    last-layer features; on digits, held-out classes have *smaller* feature
    norms than the training classes, so the isotropic Laplace lowers the
    OOD AUROC. Zellner's g-prior (Zellner, 1986) makes it about
    ``a^T A^{-1} a / delta``, the leverage of the row among the training
    features, which is larger for inputs unlike the training rows
    (docs/benchmarks/RESULTS.md).

    With the estimator's ``verbose >= 1`` the posterior step prints one line
    after training: the curvature and the weights it covers, the prior
    precision and the criterion that chose it (and whether it sits on the
    edge of the search range), and the seconds it took.

    References
    ----------
    .. [1] E. Daxberger, A. Kristiadi, A. Immer, R. Eschenhagen, M. Bauer and
       P. Hennig, "Laplace Redux - Effortless Bayesian Deep Learning",
       NeurIPS 2021.
    .. [2] A. Immer, M. Korzepa and M. Bauer, "Improving predictions of
       Bayesian neural nets via local linearization", AISTATS 2021.
    .. [3] J. Martens and R. Grosse, "Optimizing Neural Networks with
       Kronecker-factored Approximate Curvature", ICML 2015.
    .. [4] A. Immer, M. Bauer, V. Fortuin, G. Rätsch and M. E. Khan,
       "Scalable Marginal Likelihood Estimation for Model Selection in Deep
       Learning", ICML 2021.
    .. [5] A. Zellner, "On assessing prior distributions and Bayesian
       regression analysis with g-prior distributions", in Bayesian
       Inference and Decision Techniques, 1986.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbdl import BayesianMLPClassifier
    >>> from skbdl.inference import Laplace
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BayesianMLPClassifier(method=Laplace(hessian="full"), random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 3)
    """

    supports_warm_start = True
    _parameter_constraints = {
        "subset": [StrOptions({"last_layer", "all"})],
        "hessian": [StrOptions({"full", "kron", "diag"})],
        "prior_precision": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"holdout", "marglik", "online"}),
        ],
        "prior_structure": [StrOptions({"scalar", "layerwise"})],
        "prior_covariance": [StrOptions({"isotropic", "zellner"})],
        "sigma_noise": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto", "marglik"}),
        ],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "pred_type": [StrOptions({"glm", "nn"})],
        "link": [StrOptions({"probit", "mc"})],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "max_memory_mb": [Interval(Real, 0, None, closed="neither")],
        "online_burnin": [Interval(Integral, 0, None, closed="left")],
        "online_frequency": [Interval(Integral, 1, None, closed="left")],
        "online_steps": [Interval(Integral, 1, None, closed="left")],
        "online_lr": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        subset="last_layer",
        hessian="kron",
        *,
        prior_precision="holdout",
        prior_structure="scalar",
        prior_covariance="isotropic",
        sigma_noise="auto",
        validation_fraction=0.1,
        pred_type="glm",
        link="probit",
        n_samples=100,
        max_memory_mb=1024,
        online_burnin=10,
        online_frequency=5,
        online_steps=50,
        online_lr=0.1,
    ):
        self.subset = subset
        self.hessian = hessian
        self.prior_precision = prior_precision
        self.prior_structure = prior_structure
        self.prior_covariance = prior_covariance
        self.sigma_noise = sigma_noise
        self.validation_fraction = validation_fraction
        self.pred_type = pred_type
        self.link = link
        self.n_samples = n_samples
        self.max_memory_mb = max_memory_mb
        self.online_burnin = online_burnin
        self.online_frequency = online_frequency
        self.online_steps = online_steps
        self.online_lr = online_lr

    @property
    def closed_form(self):
        if self.pred_type != "glm":
            return False
        lik = getattr(self, "likelihood_", None)
        return self.link == "probit" or bool(getattr(lik, "exact_closed_form", False))

    @property
    def default_n_samples(self):
        return self.n_samples

    # ------------------------------------------------------------------ fit
    def fit(self, problem):
        check_prior_support(problem.prior, "Laplace", "precision")
        self._check_zellner()
        if problem.X.device.type != "cpu":
            raise ValueError(
                f"Laplace runs on the CPU only (its curvature and posterior are "
                f"accumulated in float64 on the CPU); got device="
                f"{str(problem.X.device)!r}. Use device='cpu', or another method."
            )
        train, valid = self._split(problem)
        self.module_ = problem.build_module(problem.seeds)
        self.likelihood_ = problem.new_likelihood()
        self._first = 0 if self.subset == "all" else len(self.module_.hidden)
        self._theta = layer_params(self.module_)[self._first :]
        self._check_memory()
        if self.prior_precision == "online":
            return self._fit_online(train)
        self.loss_curve_ = train.train(
            self.module_, seeds=problem.seeds, likelihood=self.likelihood_
        )
        self._theta = layer_params(self.module_)[self._first :]
        watch = Stopwatch()
        evidence = self._fit_curvature(train)
        self._heldout_nll = None
        log_delta, log_s = self._tune(evidence, problem, valid)
        if not isinstance(self.prior_precision, Real):
            self._warn_at_edge(log_delta)
        self._set_hypers(evidence, log_delta, log_s)
        self._log_posterior(problem.verbose, self._criterion(valid), watch)
        return self

    def _criterion(self, valid):
        """How ``prior_precision_`` was chosen, for the ``verbose`` line."""
        if isinstance(self.prior_precision, Real):
            return "fixed"
        if self._heldout_nll is not None:
            nll, rows = self._heldout_nll, len(valid[1])
            found = f"chosen by held-out NLL {nll:.4f} on {rows} rows"
        else:
            lml = self.log_marginal_likelihood_
            found = f"chosen by log marginal likelihood {lml:.4f}"
        edge = search_edge(np.log(self.prior_precision_))
        lo, hi = (f"{math.exp(b):.0e}" for b in _LOG_BOUNDS)
        where = f"at the {edge} of" if edge else "inside"
        return f"{found}, {where} the search range [{lo}, {hi}]"

    def _log_posterior(self, verbose, criterion, watch):
        """One ``verbose`` line: curvature, prior precision and its choice, time."""
        log = ProgressLog("Laplace", verbose)
        if not log.enabled():
            return
        structure = {"kron": "KFAC", "full": "full", "diag": "diagonal"}[self.hessian]
        deltas = ", ".join(f"{d:.4g}" for d in self.prior_precision_)
        prior = " Zellner" if self.prior_covariance == "zellner" else ""
        noise = self.sigma_noise_
        noise = "" if noise is None else f"; noise std {noise:.4g} (standardised y)"
        log(f"posterior: {structure} GGN over {self.subset} ({self.n_params_} "
            f"weights); prior precision{prior} {deltas} {criterion}{noise}; "
            f"{watch}")  # fmt: skip

    def _warn_at_edge(self, log_delta):
        """Warn when a tuned prior precision sits on its search range's edge."""
        lo, hi = _LOG_BOUNDS
        edge = search_edge(log_delta)
        chooser = ("held-out rows prefer" if self.prior_precision == "holdout"
                   else "evidence prefers")
        if edge == "top":
            warnings.warn(
                f"Laplace's tuned prior precision reached the top of its search "
                f"range ({math.exp(hi):.0e}, prior_precision="
                f"{self.prior_precision!r}): the "
                f"{chooser} a posterior with almost no spread, so the predictions are "
                f"MAP's with close to zero epistemic uncertainty. Use method='map' "
                f"if that is what you want, or set a prior_precision yourself.",
                UserWarning, stacklevel=5,
            )
        elif edge == "bottom":
            warnings.warn(
                f"Laplace's tuned prior precision reached the bottom of its search "
                f"range ({math.exp(lo):.0e}, prior_precision="
                f"{self.prior_precision!r}): the prior is as weak as the search "
                f"allows and the epistemic uncertainty may be overstated. Set a "
                f"prior_precision yourself, or check the data's scaling.",
                UserWarning, stacklevel=5,
            )

    def _fit_online(self, train):
        """Train the MAP while learning the precisions (Immer et al., 2021)."""
        n_delta = len(self._theta) if self.prior_structure == "layerwise" else 1
        delta0 = getattr(train.prior, "precision", 1.0)
        log_delta = torch.full((n_delta,), math.log(delta0), dtype=torch.float64)
        energy = OnlineEnergy(train.prior, self._first, log_delta)
        homoscedastic = self._homoscedastic
        noise = homoscedastic and self.sigma_noise in ("auto", "marglik")
        fixed = None
        if not homoscedastic:
            fixed = 0.0
        elif not noise:
            fixed = -2.0 * math.log(self.sigma_noise)
        online = OnlineMarglik(
            self,
            train,
            energy,
            0.0 if noise else None,
            self.online_burnin,
            self.online_frequency,
            self.online_steps,
            self.online_lr,
            noise_fixed=fixed,
        )
        self.loss_curve_ = train.train(
            self.module_,
            seeds=train.seeds,
            likelihood=self.likelihood_,
            extra_energy=energy,
            callbacks=[online],
        )
        self.n_marglik_updates_ = online.n_updates_
        log_s = online.final_log_s()
        watch = Stopwatch()
        self._set_hypers(online.evidence_, online.log_delta.detach().numpy(), log_s)
        criterion = (
            f"learned by online marginal likelihood ({online.n_updates_} updates)"
        )
        self._log_posterior(train.verbose, criterion, watch)
        return self

    def _check_zellner(self):
        if self.prior_covariance != "zellner":
            return
        if self.hessian != "kron":
            raise ValueError(
                f"Laplace(prior_covariance='zellner') needs hessian='kron', got "
                f"hessian={self.hessian!r}. Use hessian='kron' or "
                "prior_covariance='isotropic'."
            )
        if self.prior_precision == "online":
            raise ValueError(
                "Laplace(prior_covariance='zellner') is a post-hoc prior and cannot "
                "be learned during training: use prior_precision='holdout', "
                "'marglik' or a float, or prior_covariance='isotropic' with "
                "prior_precision='online'."
            )

    def _split(self, problem):
        """(train, valid) problems; ``valid`` is None unless ``"holdout"``."""
        if self.prior_precision != "holdout" or problem.n_rows < 5:
            return problem, None
        train, valid = train_valid_split(
            problem.X,
            problem.y,
            self.validation_fraction,
            problem.seeds.generator("holdout"),
            weights=problem.weights,
        )
        weights = train[2] if len(train) == 3 else None  # split with the rows
        return dataclasses.replace(problem, X=train[0], y=train[1],
                                   weights=weights), valid

    def _check_memory(self):
        shapes = [tuple(t.shape) for t in self._theta]
        n_params = sum(o * i for o, i in shapes)
        self.n_params_ = n_params
        floats = {
            "full": 3 * n_params**2,
            "diag": 3 * n_params,
            "kron": 3 * sum(o * o + i * i for o, i in shapes),
        }[self.hessian]
        needed = floats * 8 / 2**20
        if needed > self.max_memory_mb:
            raise ValueError(
                f"Laplace(hessian={self.hessian!r}, subset={self.subset!r}) needs "
                f"about {needed:.0f} MB for {n_params} weights, over max_memory_mb="
                f"{self.max_memory_mb}. Use hessian='kron' or 'diag', or "
                "subset='last_layer', or raise max_memory_mb."
            )

    def _factors(self, X, lik, dtype=torch.float64):
        """Layer inputs, back-propagated factors and head output for rows X."""
        inputs, grads, f = forward_cache(self.module_, X, self._first, dtype)
        if lik:
            L = self.likelihood_.hessian_sqrt(f)
        elif self._first == len(self.module_.hidden):
            return inputs, None, f  # last layer: the output Jacobian is I
        else:
            L = torch.eye(f.shape[1], dtype=dtype).expand(len(f), -1, -1)
        return inputs, backprop(self.module_, grads, L), f

    def _fit_curvature(self, train):
        """The evidence of the GGN Laplace at the current weights on ``train``.

        With row weights ``w_i`` every sum over rows is weighted: the GGN
        ``sum_i w_i J_i^T Lambda_i J_i`` (the factors ``g_i`` scaled by
        ``sqrt(w_i)``; KFAC's ``A`` is the weighted mean), the log-likelihood
        or residual sum of squares, the Gram matrix of the exact last layer,
        and ``N = sum_i w_i``: the values for the data with each row
        repeated ``w_i`` times.
        """
        shapes = [tuple(t.shape) for t in self._theta]
        curvature = Curvature(self.hessian, shapes)
        width = max(self.n_params_ if self.hessian == "full" else 1, 256)
        rows = max(1, _CHUNK_FLOATS // (width * (self.module_.head.out_features + 1)))
        loglik, rss = 0.0, 0.0
        d = shapes[-1][1]
        gram, phi_y, y_y = (
            torch.zeros(d, d, dtype=torch.float64),
            torch.zeros(d, dtype=torch.float64),
            0.0,
        )
        with torch.no_grad():
            for start in range(0, train.n_rows, rows):
                X, y = train.X[start : start + rows], train.y[start : start + rows]
                inputs, g, f = self._factors(X, lik=True)
                w = None
                if train.weights is not None:
                    w = train.weights[start : start + rows].to(torch.float64)
                    g = [gl * w.sqrt()[:, None, None] for gl in g]
                curvature.update(inputs, g, w)
                loglik, rss = self._accumulate_fit(f, y, loglik, rss, w)
                if self._homoscedastic:
                    y = y.to(torch.float64)
                    a = inputs[-1] if w is None else inputs[-1] * w[:, None]
                    gram += a.T @ inputs[-1]
                    phi_y += a.T @ y
                    y_y += float(y @ y) if w is None else float(y @ (w * y))
        curvature.finalize()
        if self.prior_covariance == "zellner":
            posterior = POSTERIORS["kron"](curvature, zellner_ridge=_ZELLNER_RIDGE)
            sq_norms = posterior.prior_sq_norms(self._theta)
        else:
            posterior = POSTERIORS[self.hessian](curvature)
            sq_norms = torch.stack([(t**2).sum() for t in self._theta])
        homoscedastic = self._homoscedastic
        if homoscedastic and len(shapes) == 1:  # exact Bayesian linear regression
            prior = (
                posterior.prior_matrix() if self.prior_covariance == "zellner" else None
            )
            return LinearGaussianEvidence(
                posterior, gram, phi_y, y_y, train.n_train, prior
            )
        return Evidence(
            posterior, sq_norms, loglik, rss if homoscedastic else None, train.n_train
        )

    @property
    def _homoscedastic(self):
        """A likelihood with one noise variance, which Laplace tunes as ``s``."""
        return self.likelihood_.scalar_noise

    def _accumulate_fit(self, f, y, loglik, rss, weights=None):
        if self._homoscedastic:
            return loglik, rss + self.likelihood_.sum_squares(f, y, weights)
        return loglik + self.likelihood_.loglik_sum(f, y, weights), rss

    # -------------------------------------------------------------- tuning
    def _tune(self, evidence, problem, valid):
        """(log delta per prior group, log s) following the parameters."""
        tune_s = evidence.rss is not None and self.sigma_noise in ("auto", "marglik")
        if evidence.rss is None:
            log_s0 = 0.0
        elif tune_s:
            log_s0 = -float(self.likelihood_.log_noise_var[0])
        else:
            log_s0 = -2.0 * math.log(self.sigma_noise)
        if isinstance(self.prior_precision, Real):
            log_delta = np.array([math.log(self.prior_precision)])
            return log_delta, best_log_s(evidence, log_delta) if tune_s else log_s0
        if self.prior_precision == "holdout" and valid is not None:
            return self._tune_holdout(evidence, valid, tune_s, log_s0)
        n_delta = len(self._theta) if self.prior_structure == "layerwise" else 1
        log_delta0 = np.full(n_delta, math.log(problem.prior.precision))
        return maximize_evidence(evidence, log_delta0, log_s0, tune_s)

    def _tune_holdout(self, evidence, valid, tune_s, log_s0):
        objective = self._heldout_objective(evidence, valid)
        heldout_noise = self.sigma_noise == "auto" and len(valid[1]) >= _MIN_NOISE_ROWS
        chosen = {}

        def heldout_nll(log_delta, log_s=None):
            if log_s is None and not tune_s:
                log_s = log_s0
            elif log_s is None and heldout_noise:  # noise on the held-out rows too
                log_s = float(
                    minimize_scalar(
                        lambda ls: objective(log_delta, ls),
                        bounds=_LOG_S_BOUNDS,
                        method="bounded",
                        options={"xatol": 1e-3},
                    ).x
                )
            elif log_s is None:
                log_s = best_log_s(evidence, log_delta)
            value = objective(log_delta, log_s)
            chosen[float(log_delta)] = (log_s, value)
            return value

        log_delta = minimize_holdout(heldout_nll)
        if log_delta not in chosen:
            heldout_nll(log_delta)
        log_s, self._heldout_nll = chosen[log_delta]
        return np.array([log_delta]), log_s

    def _heldout_objective(self, evidence, valid):
        """``(log delta, log s) -> mean held-out negative log predictive density``."""
        X, y = valid[:2]
        weights = valid[2] if len(valid) == 3 else None  # row weights
        with torch.no_grad():
            inputs, g, f = self._factors(X, lik=False)
        variance = evidence.posterior.variance_fn(inputs, g)

        def heldout_nll(log_delta, log_s):
            delta = torch.full(
                (len(self._theta),), math.exp(log_delta), dtype=torch.float64
            )
            var = variance(delta, math.exp(log_s))
            mean = f
            if hasattr(evidence, "mode"):
                mean = inputs[0] @ evidence.mode(
                    torch.tensor(log_delta, dtype=torch.float64),
                    torch.tensor(log_s, dtype=torch.float64),
                )
                mean = mean[:, None]
            return self.likelihood_.predictive_nll(mean, var, y, log_s, weights)

        return heldout_nll

    def _set_hypers(self, evidence, log_delta, log_s):
        log_delta = torch.as_tensor(np.asarray(log_delta, dtype=float))
        delta = torch.exp(log_delta).expand(len(self._theta)).clone()
        with torch.no_grad():
            self.log_marginal_likelihood_ = float(
                evidence(log_delta, torch.tensor(log_s, dtype=torch.float64))
            )
        evidence.posterior.set(delta, math.exp(log_s))
        self._posterior, self._evidence = evidence.posterior, evidence
        self.prior_precision_ = torch.exp(log_delta).numpy()
        self.sigma_noise_ = None
        if evidence.rss is not None:
            self.sigma_noise_ = math.exp(-0.5 * log_s)
            self.likelihood_.set_log_noise_var(-log_s)
        if hasattr(evidence, "mode"):  # centre on the exact posterior mean
            theta = evidence.mode(log_delta, torch.tensor(log_s, dtype=torch.float64))
            self._theta[-1] = theta[None, :]
            with torch.no_grad():
                self.module_.head.weight.copy_(theta[None, :-1])
                self.module_.head.bias.copy_(theta[-1:])

    # ---------------------------------------------------------- prediction
    def row_floats(self, n_draws, width):
        """Return the floats of working memory per input row at prediction.

        The all-layer linearised predictive back-propagates ``k`` output
        directions through every layer in float64 (x2), and projects them
        onto each layer's eigenvectors (x2 again).

        Parameters
        ----------
        n_draws : int
            Number of draws evaluated together (1 for the closed form).
        width : int
            Widest layer of the network (hidden or latent).

        Returns
        -------
        floats : int
            Number of float32-equivalent values held per row.
        """
        if self.subset == "all" and self.closed_form:
            return 4 * self.module_.head.out_features * width
        return super().row_floats(n_draws, width)

    def predict_f(self, X):
        """Linearised latent mean and marginal variance, each (n, k)."""
        m = self.module_
        with torch.no_grad():
            if self.subset == "last_layer":  # one forward: features, then head
                phi = m.features(X)
                mean = m.head(phi)
                # float64, as below; in cache-sized blocks, which makes it as
                # fast as one float32 pass over the whole chunk
                var = torch.cat(
                    [
                        self._posterior.latent_var([_augment(p).double()], None)
                        for p in phi.split(_VAR_BLOCK_ROWS)
                    ]
                )
            else:
                mean = m(X)
                rows = len(X)
                if self.hessian == "full":
                    rows = max(
                        1, _CHUNK_FLOATS // (self.n_params_ * m.head.out_features)
                    )
                # float64: float32 reductions over the Jacobian rows round
                # differently by row position (check_methods_sample_order_invariance).
                X64 = X.double()
                var = torch.cat(
                    [
                        self._posterior.latent_var(
                            *self._factors(
                                X64[i : i + rows], lik=False, dtype=torch.float64
                            )[:2]
                        )
                        for i in range(0, len(X), rows)
                    ]
                )
        return mean, var.to(mean.dtype)

    def sample_f(self, X, n_samples, generator):
        """Latent outputs of ``n_samples`` posterior draws, (S, n, k)."""
        m = self.module_
        devs = [d.to(X) for d in self._posterior.sample(n_samples, generator)]
        with torch.no_grad():
            if self.subset == "last_layer":  # GLM and NN coincide for the last layer
                head = split_weight_bias([self._theta[0].to(X.dtype) + devs[0]])
                return stacked_forward([*m.layers()[:-1], *head], X, m.activation)
            if self.pred_type == "nn":
                layers = split_weight_bias(
                    [t.to(X.dtype) + d for t, d in zip(self._theta, devs)]
                )
                return stacked_forward(layers, X, m.activation)
            return self._linearised(X, devs)

    def _linearised(self, X, devs):
        """``f(X) + J(X) dtheta`` for each draw, by forward-mode propagation."""
        m = self.module_
        act = activation(m.activation)
        h, t = X, None
        for i, (theta, dev) in enumerate(zip(layer_params(m, X.dtype), devs)):
            s = h @ theta[:, :-1].T + theta[:, -1]
            ts = torch.einsum("nj,soj->sno", _augment(h), dev)
            if t is not None:
                ts = ts + t @ theta[:, :-1].T
            if i < len(devs) - 1:
                h = act.fn(s)
                t = act.grad(s, h) * ts
        return s + ts
