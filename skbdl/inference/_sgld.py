"""Stochastic-gradient Langevin dynamics (Welling and Teh, 2011) and variants."""

import dataclasses
import math
import warnings
from collections import deque
from numbers import Integral, Real

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning

from .._nn import stack_layers, stacked_forward
from ..priors import check_prior_support
from ..utils._diagnostics import ess_bulk, split_rhat
from ..utils._sklearn import Interval, StrOptions
from ..utils._torch import torch_threads
from ._base import BaseInference, equal_mixture_weights
from ._sgld_update import (
    SGLDDivergedError,
    SGLDUpdate,
    StackedSGLD,
    sampling_steps,
    step_sizes,
)

#: Rows of the fixed training subset the energy trace is evaluated on, and
#: rows of the probe set whose predictive log-probabilities are traced.
_ENERGY_ROWS = 2048
_PROBE_ROWS = 16
#: Default step size per datum of each preconditioner.
_DEFAULT_STEP = {("classification", None): 1.5, ("regression", None): 0.2,
                 ("classification", "rmsprop"): 2e-3, ("regression", "rmsprop"): 2e-3}
#: Reruns at a tenth of the step size after a divergence.
_RETRIES = 2


def _kept_steps(noisy_kept, n_keep, thinning):
    """Indices of the kept steps: every ``thinning``-th sampling step counted
    back from the last one (None: spread ``n_keep`` evenly), at most
    ``n_keep`` of them (the latest)."""
    candidates = torch.nonzero(noisy_kept).flatten()
    if thinning is None:
        thinning = max(1, math.ceil(len(candidates) / n_keep))
    kept = candidates.flip(0)[::thinning][:n_keep].flip(0)
    return set(kept.tolist())


class _Keeper:
    """``on_step`` hook storing the weights at the kept steps (bounded)."""

    def __init__(self, kept, n_keep):
        self.kept = kept
        self.draws = deque(maxlen=n_keep)

    def __call__(self, module, step):
        if step in self.kept:
            self.draws.append([(w.detach().clone(), b.detach().clone())
                               for w, b in module.layers()])


def _run_chain(problem, seeds, kwargs, init, kept, n_keep, trace_rows):
    with torch_threads(work=problem.work_per_step):
        module = problem.build_module(seeds)
        likelihood = problem.new_likelihood()
        if init == "map":
            problem.train(module, seeds=seeds.child(0), likelihood=likelihood)
            module.train()
        keeper = _Keeper(kept, n_keep)
        if getattr(likelihood, "scalar_noise", False):
            # the curvature of the Gaussian NLL is 1 / noise variance: steps
            # in units of the noise variance keep one default step stable
            kwargs = dict(kwargs, step_scale=lambda: float(likelihood.noise_var[0]))
        curve = problem.train(module, seeds=seeds, likelihood=likelihood,
                              optimizer=SGLDUpdate, optimizer_kwargs=kwargs,
                              on_step=[keeper])
        layers = stack_layers(list(keeper.draws))
        traces = _traces(problem, layers, module.activation, likelihood, trace_rows)
    return layers, likelihood, curve, traces


class _StackKeeper:
    """``on_step`` hook of the fused path: the stacked chains' kept weights."""

    def __init__(self, kept, n_keep):
        self.kept = kept
        self.draws = deque(maxlen=n_keep)
        self.stack = None

    def __call__(self, stack, step):
        if step in self.kept:
            self.stack = stack
            self.draws.append(stack.flat.clone())

    def chain_layers(self, chain):
        """Kept draws of chain ``chain`` as stacked layers (see ``stack_layers``)."""
        flat = torch.stack([d[chain] for d in self.draws])
        return [(w.clone(), b.clone()) for w, b in self.stack.unflatten(flat)]


def _run_stacked(problem, kwargs, init, kept, n_keep, trace_rows, n_chains):
    """Every chain at once on the fused path; the results of ``_run_chain``."""
    seeds = [problem.seeds.child(c) for c in range(n_chains)]
    with torch_threads(work=problem.work_per_step * n_chains):
        modules = [problem.build_module(s) for s in seeds]
        likelihoods = [problem.new_likelihood() for _ in seeds]
        if init == "map":
            problem.train_members(modules, seeds=[s.child(0) for s in seeds],
                                  likelihoods=likelihoods)
        keeper = _StackKeeper(kept, n_keep)
        generators = [s.generator("noise", problem.device) for s in seeds]
        scale = bool(getattr(likelihoods[0], "scalar_noise", False))

        def rule(stack):
            return StackedSGLD(stack, generators, scale_by_noise=scale, **kwargs)

        chains = [f"chain {c + 1}" for c in range(len(modules))]
        curves = problem.train_stack(modules, seeds=seeds, likelihoods=likelihoods,
                                     rule=rule, on_step=[keeper], labels=chains)
        results = []
        for c, (module, likelihood, curve) in enumerate(
                zip(modules, likelihoods, curves)):
            layers = keeper.chain_layers(c)
            traces = _traces(problem, layers, module.activation, likelihood,
                             trace_rows)
            results.append((layers, likelihood, curve, traces))
    return results


def _traces(problem, layers, act, likelihood, rows):
    """Function-space traces of the kept draws: energy (S,), probe logp (S, P)."""
    energy_rows, probe_rows = rows
    X, y = problem.X, problem.y
    n = problem.n_rows
    with torch.no_grad():
        # float64, so confident rows keep a continuous trace (float32 rounds
        # their log-probability to exactly 0, and ties break the ranks)
        f = stacked_forward(layers, X[energy_rows], act).double()
        yr = y[energy_rows]
        yr = yr if yr.dtype == torch.long else yr.double()
        nll = torch.stack([likelihood.nll(fs, yr) for fs in f])
        prior = torch.stack([
            problem.prior.neg_log_prob_layers([(w[s], b[s]) for w, b in layers])
            for s in range(f.shape[0])
        ])
        nll = nll.double()
        probe = -nll[:, :len(probe_rows)]
        if problem.weights is not None:  # n mean(w nll) estimates sum_i w_i nll_i
            nll = nll * problem.weights[energy_rows].double()
        energy = n * nll.mean(1) + prior.double()
    return energy.cpu().numpy(), probe.cpu().numpy()


class SGLD(BaseInference):
    """Stochastic-gradient Langevin dynamics: posterior draws of the weights.

    Each step is the seed's Algorithm 1 (Welling and Teh, 2011), with no
    Metropolis correction: ``theta <- theta - (h_k / 2) grad U_hat(theta) +
    xi``, ``xi ~ N(0, T h_k I)``, where ``U_hat = -(N/n) sum_batch log
    p(y|x, theta) - log p(theta)`` on a minibatch drawn without replacement
    (one permutation per epoch) and ``log p`` is the estimator's ``prior``.
    The step size is given per datum, ``h_k = step_k / (N s)``, so the
    drift is an SGD step of rate ``step_k / (2 s)`` on the mean loss and one
    default works for any ``N`` on standardised data; ``s`` is the inputs'
    mean square, at least 1 (1 on standardised inputs; it keeps the default
    stable on raw features, whose first-layer curvature grows with it; not
    used by pSGLD). Draws are kept after
    ``burn_in`` epochs, every ``thinning`` steps, at most ``n_keep`` per
    chain; the predictive averages them (vectorised over draws).

    The estimator's ``lr`` (the Adam rate of the other methods) is not used,
    and neither is early stopping: every chain runs ``max_epochs`` epochs.
    The regressor's noise is refitted to the chain's training residuals
    after every epoch (its optimum given the current weights) and is one
    value per chain.

    Parameters
    ----------
    step_size : float, default=None
        ``step_0``, the step size per datum at the first step (in units of
        the inputs' mean square ``s``). None: 1.5 for classification, 0.2
        for regression (whose steps are also in units of the noise
        variance) and 2e-3 for pSGLD (``preconditioner="rmsprop"``).
    schedule : {"polynomial", "cyclical", "constant"}, default="cyclical"
        ``"polynomial"``: ``h_k = a (b + k)^-gamma`` (Welling and Teh), with
        ``b = decay_steps`` and ``a`` such that ``h_0 = step_size / N``.
        ``"cyclical"``: cosine restarts over ``n_cycles`` cycles (Zhang et
        al., 2020); the first ``exploration`` fraction of each cycle is SGD
        without noise, the rest samples and is where draws are kept.
        ``"constant"``: ``step_size`` throughout.
    gamma : float, default=0.55
        Polynomial decay exponent, in (0.5, 1].
    decay_steps : int, default=None
        ``b`` of the polynomial schedule, in steps; None is a tenth of the
        run (the step then ends at ``11^-gamma`` of its start).
    n_cycles : int, default=8
        Cycles of the cyclical schedule.
    exploration : float, default=0.95
        Fraction of each cycle without noise (cyclical schedule), in [0, 1).
        The defaults (step 1.5, 8 cycles, exploration 0.95) were chosen by
        sweeps of step size, cycles and exploration (T=1, 200 epochs;
        docs/benchmarks/RESULTS.md, "SG-MCMC"): on digits (MLP
        64-100-100, batch 64) the test NLL is below MAP's (0.050 vs 0.053)
        and the OOD AUROC at MAP's, and at the estimator defaults the NLL
        is at or below MAP's on digits, breast_cancer and wine; the earlier
        default (step 0.2, 4 cycles, exploration 0.8) had 0.103 on digits.
        Steps of 4 and more leave the ReLUs dead on digits.
    temperature : float, default=1.0
        ``T``; 1 samples the posterior. The cyclical SG-MCMC papers use a
        cold posterior, ``T`` about ``1 / N``.
    preconditioner : {None, "rmsprop"}, default=None
        ``"rmsprop"`` is pSGLD (Li et al., 2016), without its correction
        term ``Gamma`` (see ``skbdl/inference/_sgld_update.py``).
    burn_in : int, default=None
        Epochs whose draws are discarded. None: half of ``max_epochs``,
        except for the cyclical schedule (0: its draws come from the
        sampling stages). Must be below ``max_epochs``.
    thinning : int, default=None
        Keep every ``thinning``-th sampling step, counted back from the last
        one. None spreads ``n_keep`` draws evenly over the sampling steps.
    n_keep : int, default=50
        Most draws kept per chain (the latest ones), so memory is bounded.
    init : {"random", "map"}, default="random"
        ``"map"`` starts each chain from a MAP fit of ``max_epochs`` (Adam at
        the estimator's ``lr``), which doubles the fit time.
    n_chains : int, default=1
        Independent chains from seeds derived from ``random_state``; their
        draws are pooled. Plain MLPs (under any prior with a gradient,
        without heteroscedastic noise) train every chain at once as one
        stacked network (batched matrix products); other configurations
        run the chains one by one.
    n_jobs : int, default=None
        Chains that are not stacked run in parallel with joblib; results do
        not depend on it.

    Attributes
    ----------
    draws_ : list of (Tensor, Tensor)
        The pooled draws as stacked layers: weights ``(S, out, in)`` and
        biases ``(S, out)``, draw ``j`` from chain ``j mod n_chains``.
    n_draws_ : int
        ``S``, the number of pooled draws.
    step_size_ : float
        The step size used: ``step_size``, or a tenth or a hundredth of it
        when the chains diverged and were rerun (with a warning).
    likelihood_ : Likelihood
        The chains' fitted likelihoods stacked (one noise per chain).
    loss_curve_ : list of float
        Mean over chains of the minibatch energy ``U_hat / N`` per epoch.
    traces_ : dict of ndarray
        ``"energy"`` ``(n_chains, n_keep)``: the energy ``U(theta)`` of each
        kept draw on up to 2,048 fixed training rows, scaled to ``N``;
        ``"probe"`` ``(n_chains, n_keep, 16)``: ``log p(y_i | x_i, theta)``
        of 16 fixed training rows.
    diagnostics_ : dict
        Split-R-hat and bulk ESS (Vehtari et al., 2021) of the traces:
        ``rhat_energy``, ``ess_energy``, ``rhat_probe`` and ``ess_probe``
        (one per probe row) and ``max_rhat``. They are computed on
        function-space quantities because the weights themselves are not
        identifiable (permuting hidden units gives the same function). A
        ``ConvergenceWarning`` is raised when ``max_rhat > 1.1`` with two or
        more chains.

    See Also
    --------
    Ensemble : Independent MAP networks, the non-Bayesian alternative.

    References
    ----------
    .. [1] M. Welling and Y. W. Teh, "Bayesian Learning via Stochastic
       Gradient Langevin Dynamics", ICML 2011.
    .. [2] C. Li, C. Chen, D. Carlson and L. Carin, "Preconditioned
       Stochastic Gradient Langevin Dynamics for Deep Neural Networks",
       AAAI 2016.
    .. [3] R. Zhang, C. Li, J. Zhang, C. Chen and A. G. Wilson, "Cyclical
       Stochastic Gradient MCMC for Bayesian Deep Learning", ICLR 2020.
    .. [4] A. Vehtari, A. Gelman, D. Simpson, B. Carpenter and P.-C.
       Bürkner, "Rank-normalization, folding, and localization: an improved
       R-hat for assessing convergence of MCMC", Bayesian Analysis 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbdl import BayesianMLPClassifier
    >>> from skbdl.inference import SGLD
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BayesianMLPClassifier(method=SGLD(n_chains=2, n_keep=20),
    ...                             random_state=0).fit(X, y)
    >>> clf.method_.n_draws_
    40
    >>> clf.predict_proba_samples(X[:2]).shape
    (2, 3, 40)
    >>> sorted(clf.method_.diagnostics_)[:2]
    ['ess_energy', 'ess_probe']
    """

    _parameter_constraints = {
        "step_size": [None, Interval(Real, 0, None, closed="neither")],
        "schedule": [StrOptions({"polynomial", "cyclical", "constant"})],
        "gamma": [Interval(Real, 0.5, 1, closed="right")],
        "decay_steps": [None, Interval(Integral, 1, None, closed="left")],
        "n_cycles": [Interval(Integral, 1, None, closed="left")],
        "exploration": [Interval(Real, 0, 1, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "preconditioner": [None, StrOptions({"rmsprop"})],
        "burn_in": [None, Interval(Integral, 0, None, closed="left")],
        "thinning": [None, Interval(Integral, 1, None, closed="left")],
        "n_keep": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"random", "map"})],
        "n_chains": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [None, Integral],
    }

    def __init__(self, step_size=None, *, schedule="cyclical", gamma=0.55,
                 decay_steps=None, n_cycles=8, exploration=0.95, temperature=1.0,
                 preconditioner=None, burn_in=None, thinning=None, n_keep=50,
                 init="random", n_chains=1, n_jobs=None):
        self.step_size = step_size
        self.schedule = schedule
        self.gamma = gamma
        self.decay_steps = decay_steps
        self.n_cycles = n_cycles
        self.exploration = exploration
        self.temperature = temperature
        self.preconditioner = preconditioner
        self.burn_in = burn_in
        self.thinning = thinning
        self.n_keep = n_keep
        self.init = init
        self.n_chains = n_chains
        self.n_jobs = n_jobs

    @property
    def default_n_samples(self):
        return getattr(self, "n_draws_", self.n_chains * self.n_keep)

    def _step_size(self, problem):
        if self.step_size is None:
            return _DEFAULT_STEP[problem.task, self.preconditioner]
        return float(self.step_size)

    def _input_scale(self, problem):
        """The inputs' mean square, at least 1 (plain SGLD's step unit).

        The curvature of the energy in the first layer's weights grows with
        the square of the inputs, so plain SGLD divides its step by their
        mean square: on standardised inputs (mean square 1) nothing
        changes, and on raw features (iris: 14.6) the default step stays
        stable. pSGLD's RMSprop scaling adapts to the gradients itself.
        """
        if self.preconditioner is not None:
            return 1.0
        squares = problem.X.double().square().mean(1)
        weights = getattr(problem, "weights", None)
        if weights is not None:  # a weight-k row counts as k repeated rows
            weights = weights.double()
            return max(1.0, float((weights * squares).sum() / weights.sum()))
        return max(1.0, float(squares.mean()))

    def _burn_in(self, max_epochs):
        if self.burn_in is None:
            return 0 if self.schedule == "cyclical" else max_epochs // 2
        if self.burn_in >= max_epochs:
            raise ValueError(
                f"burn_in={self.burn_in} epochs leaves no draws: it must be "
                f"below max_epochs={max_epochs}; lower burn_in or raise max_epochs."
            )
        return int(self.burn_in)

    def _plan(self, problem, step):
        """Step sizes, noise mask and kept steps of every chain (the same)."""
        batch = min(problem.batch_size, problem.n_rows)
        per_epoch = math.ceil(problem.n_rows / batch)
        n_steps = per_epoch * problem.max_epochs
        burn_in = self._burn_in(problem.max_epochs) * per_epoch
        steps = step_sizes(self.schedule, step, n_steps, gamma=self.gamma,
                           decay_steps=self.decay_steps, n_cycles=self.n_cycles)
        noisy, keep = sampling_steps(self.schedule, n_steps, n_cycles=self.n_cycles,
                                     exploration=self.exploration, burn_in=burn_in)
        if not keep.any():
            raise ValueError(
                f"No step is kept: the cyclical schedule with n_cycles="
                f"{self.n_cycles} and exploration={self.exploration} has no "
                f"sampling step after burn_in; lower exploration or burn_in."
            )
        return steps, noisy, _kept_steps(keep, int(self.n_keep), self.thinning)

    def fit(self, problem):
        check_prior_support(problem.prior, "SGLD", "log_prob")
        problem = dataclasses.replace(problem, valid=None)  # chains run to the end
        rng = np.random.default_rng(problem.seeds.seed("split"))
        order = rng.permutation(problem.n_rows)
        rows = (torch.as_tensor(order[:_ENERGY_ROWS]), order[:_PROBE_ROWS])
        default = step = self._step_size(problem)
        for retry in range(_RETRIES + 1):
            try:
                results = self._run(problem, step, rows)
                break
            except SGLDDivergedError as exc:
                if retry == _RETRIES:
                    raise FloatingPointError(
                        f"SGLD diverged ({exc}) at step_size={step:g} (rerun "
                        f"from step_size={default:g}). Lower the step "
                        f"size: try step_size={step / 10:g}, e.g. method=SGLD("
                        f"step_size={step / 10:g}), or standardise the inputs."
                    ) from exc
                step /= 10
        if step != default:
            warnings.warn(
                f"SGLD diverged at step_size={default:g} and was rerun "
                f"with step_size={step:g}; standardise the inputs or set "
                f"method=SGLD(step_size={step:g}).", UserWarning, stacklevel=3,
            )
        self.step_size_ = step
        self._activation = problem.activation
        self._pool(results)
        return self

    def _run(self, problem, step, rows):
        steps, noisy, kept = self._plan(problem, step / self._input_scale(problem))
        kwargs = dict(steps=steps, noisy=noisy, n_train=problem.n_train,
                      temperature=float(self.temperature),
                      preconditioner=self.preconditioner)
        if problem.trains_stacked:  # all chains in one stack, whatever n_jobs
            return _run_stacked(problem, kwargs, self.init, kept, int(self.n_keep),
                                rows, int(self.n_chains))
        return Parallel(n_jobs=self.n_jobs)(
            delayed(_run_chain)(problem, problem.seeds.child(c), kwargs, self.init,
                                kept, int(self.n_keep), rows)
            for c in range(self.n_chains)
        )

    def _pool(self, results):
        n_chains = len(results)
        # draw j is chain j mod n_chains, matching the stacked noise order
        self.draws_ = [
            tuple(torch.stack([r[0][i][j] for r in results], 1).flatten(0, 1)
                  for j in range(2))
            for i in range(len(results[0][0]))
        ]
        self.n_draws_ = int(self.draws_[0][0].shape[0])
        if not all(torch.isfinite(t).all() for wb in self.draws_ for t in wb):
            raise FloatingPointError(
                f"SGLD produced non-finite weights; lower step_size (got "
                f"{self.step_size_:g})."
            )
        self.likelihood_ = type(results[0][1]).stack([r[1] for r in results])
        curves = [r[2] for r in results]
        self.loss_curve_ = [float(np.mean(v)) for v in zip(*curves)]
        self.traces_ = {"energy": np.stack([r[3][0] for r in results]),
                        "probe": np.stack([r[3][1] for r in results])}
        self.diagnostics_ = _diagnose(self.traces_)
        if n_chains >= 2 and self.diagnostics_["max_rhat"] > 1.1:
            warnings.warn(
                f"SGLD chains have not mixed: split-R-hat of the function-space "
                f"traces is {self.diagnostics_['max_rhat']:.3f} > 1.1 (see "
                f"method_.diagnostics_). Run more epochs (max_epochs), a longer "
                f"burn_in or a larger step_size.", ConvergenceWarning, stacklevel=3,
            )

    def draw_weights(self, n_samples):
        """Return weights making every kept draw count equally.

        Parameters
        ----------
        n_samples : int
            Number of draws ``S``; draw ``i`` is kept draw ``i mod n_draws_``.

        Returns
        -------
        weights : torch.Tensor of shape (S,) or None
            None when ``S`` is a multiple of ``n_draws_`` (see ``Ensemble``).
        """
        return equal_mixture_weights(n_samples, self.n_draws_)

    def weight_draws(self):
        """Return the pooled draws (see ``BaseInference``).

        Returns
        -------
        layers : list of (torch.Tensor, torch.Tensor)
            ``draws_``: weights ``(S, out, in)`` and biases ``(S, out)``.
        """
        return self.draws_

    def sample_f(self, X, n_samples, generator):
        idx = torch.arange(n_samples, device=X.device) % self.n_draws_
        layers = [(w[idx], b[idx]) for w, b in self.draws_]
        with torch.no_grad():
            return stacked_forward(layers, X, self._activation)


def _diagnose(traces):
    energy, probe = traces["energy"], traces["probe"]
    out = {"rhat_energy": np.nan, "ess_energy": np.nan,
           "rhat_probe": np.full(probe.shape[-1], np.nan),
           "ess_probe": np.full(probe.shape[-1], np.nan), "max_rhat": np.nan}
    if energy.shape[1] < 4:  # too few draws per chain to diagnose
        return out
    out["rhat_energy"] = split_rhat(energy)
    out["ess_energy"] = ess_bulk(energy)
    out["rhat_probe"] = np.array([split_rhat(probe[..., i])
                                  for i in range(probe.shape[-1])])
    out["ess_probe"] = np.array([ess_bulk(probe[..., i])
                                 for i in range(probe.shape[-1])])
    out["max_rhat"] = float(np.nanmax([out["rhat_energy"], *out["rhat_probe"]]))
    return out
