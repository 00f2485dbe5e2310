"""``TrainingProblem``: the data, prior, likelihood and training engine that
an inference method receives from the estimator.

The training hooks are explicit arguments of ``TrainingProblem.train``; the
contract they follow is written in ``skbdl/inference/_base.py``.
"""

import inspect
from dataclasses import dataclass, field

import torch

from ..utils._torch import seeded
from ._engine import StepHook, TensorData, make_engine
from ._fused import fused_reason, train_fused
from ._likelihood import NOISE_POLICIES
from ._module import MLP, count_weights

#: Train plain MLPs with the fused path (``_fused``) where it applies; the
#: tests switch it off to compare with the generic engine.
FUSED = True


def train_valid_split(X, y, fraction, generator, weights=None):
    """A random split of the rows: ``((X_train, y_train), (X_valid, y_valid))``.

    ``round(fraction * n)`` rows (at least one) are held out; the order is
    drawn from ``generator`` (a CPU ``torch.Generator``). With row
    ``weights`` (n,), they are split with the rows and each part is a
    triple ``(X, y, weights)``; the split itself does not depend on them.
    """
    n = len(X)
    n_valid = max(1, int(round(fraction * n)))
    order = torch.randperm(n, generator=generator).to(X.device)
    tr, va = order[n_valid:], order[:n_valid]
    if weights is None:
        return (X[tr], y[tr]), (X[va], y[va])
    return (X[tr], y[tr], weights[tr]), (X[va], y[va], weights[va])


class TrainingCurve(list):
    """What ``TrainingProblem.train`` returns: the loss curve, plus one attribute.

    A list of floats, the mean training energy per epoch (divided by ``N``).

    Attributes
    ----------
    validation_scores : list of float or None
        Per epoch, the mean log-likelihood of the held-out rows
        (``problem.valid``) under the network at the end of that epoch
        (``-valid_loss`` of the engine: no prior term; the weighted mean
        with row weights); None when nothing is held out.
    """

    def __init__(self, losses, validation_scores=None):
        super().__init__(losses)
        self.validation_scores = validation_scores


@dataclass
class TrainState:
    """What a training run leaves for the next one to resume (``partial_fit``).

    ``train`` reads it at the start and overwrites it at the end, so a run
    given the state of the previous run continues it: the optimizer's state
    (Adam's moments and step counts) and the position of the
    batch-order stream (``"batches"``), whose next epoch draws the
    permutation that epoch would have drawn in one longer run. The two
    training paths store the optimizer differently (``path``); a state of
    the other path restarts the optimizer (the batch stream still
    continues).

    Attributes
    ----------
    path : {"fused", "engine"} or None
        The path that wrote ``optimizer``; None before the first run.
    optimizer : dict or None
        ``_fused._Adam.state_dict()`` or the torch optimizer's
        ``state_dict()``.
    batches : list of torch.Tensor or None
        ``get_state()`` of each run's ``"batches"`` generator.
    """

    path: str = None
    optimizer: dict = field(default=None, repr=False)
    batches: list = field(default=None, repr=False)


def _accepts(cls, name):
    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class TrainingProblem:
    """Everything an inference method needs to learn a posterior.

    Built by the estimator in ``fit``; tensors are float32 on ``device``.
    ``X`` and ``y`` are the rows the likelihood is summed over (``y`` holds
    class indices or standardised targets); ``N = n_train = len(X)`` scales
    the energy of every method. ``weights`` (optional, shape (n,)) are row
    weights (the estimator's ``sample_weight``): the data term is then
    ``sum_i w_i nll_i`` and ``N = n_train = sum_i w_i``, so an integer
    weight is exactly a repeated row; ``n_rows`` is always ``len(X)``.
    With early stopping the estimator has already moved the validation
    rows to ``valid``, ``(X, y)`` or ``(X, y, weights)``. ``seeds`` (a
    ``skbdl.utils._random.Seeds``) is the fit's seed tree: a method passes
    it, or ``seeds.child(k)`` for member or chain ``k``, to ``build_module``
    and ``train``. ``init_modules`` (warm start, optional) maps the key of a
    seed tree (``Seeds.key``) to a trained network whose weights
    ``build_module`` returns for that tree instead of a fresh
    initialisation.
    """

    X: torch.Tensor
    y: torch.Tensor
    likelihood: object
    n_outputs: int
    hidden_layer_sizes: tuple
    activation: str
    prior: object
    seeds: object
    max_epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    valid: tuple = field(default=None, repr=False)
    n_iter_no_change: int = 10
    verbose: int = 0
    device: str = "cpu"
    weights: torch.Tensor = field(default=None, repr=False)
    init_modules: dict = field(default=None, repr=False)

    @property
    def n_train(self):
        """``N``: the number of rows the energy is scaled to.

        The sum of the row weights when ``weights`` is given (a float).
        """
        if self.weights is None:
            return len(self.X)
        return float(self.weights.sum())

    @property
    def n_rows(self):
        """Number of rows in ``X`` (batches, chunks), whatever the weights."""
        return len(self.X)

    @property
    def task(self):
        """``"classification"`` or ``"regression"`` (from the likelihood)."""
        return self.likelihood.task

    @property
    def n_latent(self):
        """Width of the network's latent output."""
        return self.likelihood.n_latent(self.n_outputs)

    @property
    def work_per_step(self):
        """Multiply-adds of one forward pass over a batch (sets the threads)."""
        sizes = [self.X.shape[1], *self.hidden_layer_sizes, self.n_latent]
        return min(self.batch_size, self.n_rows) * count_weights(sizes)

    def new_likelihood(self):
        """A fresh copy of the likelihood, for one training run."""
        return self.likelihood.copy().to(self.device)

    def build_module(self, seeds, dropout=0.0, factory=MLP):
        """A freshly initialised network (from the stream ``seeds.seed("init")``).

        ``factory(n_in, hidden_layer_sizes, n_out, activation, dropout=...)``
        builds it; the default is the plain ``MLP``. Warm start: when
        ``init_modules`` has an entry for ``seeds.key``, the network built
        gets a copy of that entry's weights (``load_state_dict``) instead.
        """
        with seeded(seeds.seed("init")):
            module = factory(self.X.shape[1], self.hidden_layer_sizes, self.n_latent,
                             self.activation, dropout=dropout)
        start = None if self.init_modules is None else self.init_modules.get(seeds.key)
        if start is not None:
            module.load_state_dict(start.state_dict())
        return module.to(self.device)

    def neg_log_prior(self, module):
        """``-log p(w)`` of the module's layers under the problem's prior."""
        return self.prior.neg_log_prob_layers(module.layers())

    def train(self, module, *, seeds, likelihood, optimizer=torch.optim.Adam,
              optimizer_kwargs=None, params=None, noise="refit", extra_energy="prior",
              callbacks=(), on_step=(), state=None):
        """Train ``module`` in place on the energy; return the loss curve.

        Parameters
        ----------
        module : nn.Module
            Network to train (its forward gives the latent outputs).
        seeds : Seeds
            The run's seed tree: its streams ``"batches"`` (batch order),
            ``"noise"`` (the optimizer's ``generator``) and ``"dropout"``
            (global-RNG ops, run under a forked and seeded global RNG).
        likelihood : Likelihood
            The data term and the noise state this run learns (use
            ``new_likelihood()`` for each run).
        optimizer : type of torch.optim.Optimizer
            Optimizer or update rule, called as
            ``optimizer(params, lr=lr, **optimizer_kwargs)``; if its
            signature has a ``generator`` argument it receives a
            ``torch.Generator`` of this run for training-time noise.
        optimizer_kwargs : dict, optional
            Extra optimizer arguments.
        params : list of torch.Tensor, optional
            The tensors the optimizer updates. None: the module's parameters
            and the likelihood's trainable noise under ``noise``.
        noise : {"refit", "gradient", "fixed"}, default="refit"
            How the likelihood learns its noise (see ``Gaussian``).
        extra_energy : "prior", callable or None
            The term added to the summed negative log-likelihood; "prior"
            means ``neg_log_prior``.
        callbacks : sequence of skorch callbacks
            Extra callbacks.
        on_step : sequence of callables
            ``fn(module, step)`` called after every optimizer step.
        state : TrainState, optional
            Resume the optimizer and the batch-order stream from it, and
            store them in it at the end (``partial_fit``). Runs that draw
            global-RNG noise (dropout) restart that stream. None: a fresh
            optimizer and stream, nothing stored.

        Returns
        -------
        loss_curve : TrainingCurve
            Mean training energy per epoch (divided by ``N``), a list of
            float; its ``validation_scores`` are the per-epoch mean held-out
            log-likelihoods (None without ``valid``).
        """
        if noise not in NOISE_POLICIES:
            raise ValueError(f"noise must be one of {NOISE_POLICIES}; got {noise!r}.")
        if FUSED and fused_reason(
            self, module, likelihood=likelihood, optimizer=optimizer,
            optimizer_kwargs=optimizer_kwargs, params=params, noise=noise,
            extra_energy=extra_energy, callbacks=callbacks, on_step=on_step,
        ) is None:  # the same run, without autograd or skorch
            return TrainingCurve(train_fused(self, [module], seeds=[seeds],
                                             likelihoods=[likelihood], noise=noise,
                                             state=state)[0])
        if extra_energy == "prior":
            extra_energy = self.neg_log_prior
        if params is None:
            params = [*module.parameters(), *likelihood.trainable_parameters(noise)]
        optimizer_kwargs = dict(optimizer_kwargs or {})
        if _accepts(optimizer, "generator"):
            optimizer_kwargs.setdefault("generator",
                                        seeds.generator("noise", self.device))
        data = TensorData(self.X, self.y, self.weights)
        valid = None if self.valid is None else TensorData(*self.valid)
        criterion = (likelihood.criterion() if self.weights is None
                     else likelihood.weighted_criterion())
        noise_callbacks = likelihood.training_callbacks(data, noise)
        generator = seeds.generator("batches")
        if state is not None and state.batches is not None:
            generator.set_state(state.batches[0])
        engine = make_engine(
            module, criterion=criterion, n_train=self.n_train,
            extra_energy=extra_energy, generator=generator,
            max_epochs=self.max_epochs, batch_size=min(self.batch_size, self.n_rows),
            lr=self.lr, optimizer=optimizer, optimizer_kwargs=optimizer_kwargs,
            params=params, valid_data=valid, n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            callbacks=[*noise_callbacks, *callbacks,
                       *(StepHook(fn) for fn in on_step)],
        )
        with seeded(seeds.seed("dropout")):
            if state is not None and state.path == "engine":
                engine.initialize()
                engine.optimizer_.load_state_dict(state.optimizer)
                for group in engine.optimizer_.param_groups:
                    group["lr"] = self.lr  # the current lr, as the fused path
                engine.partial_fit(data, None)
            else:
                engine.fit(data, None)
        if state is not None:
            state.path, state.batches = "engine", [generator.get_state()]
            state.optimizer = engine.optimizer_.state_dict()
        module.eval()
        for callback in noise_callbacks:  # the noise of the weights returned
            callback.refit(module)
        return _curve(engine.history, valid is not None)

    @property
    def trains_stacked(self):
        """Whether ``train_members`` trains networks of ``build_module()``
        together as one stacked network (else one run after the other)."""
        return FUSED and fused_reason(self) is None

    def train_stack(self, modules, *, seeds, likelihoods, rule, prior=True, on_step=(),
                    stack_type=None, labels=None):
        """Train networks together on the fused path with a custom update rule.

        For methods whose rule has a fused form (SGLD chains, IVON); call it
        only when ``trains_stacked``. The arguments are those of
        ``train_members`` plus ``rule``, ``prior``, ``on_step`` and
        ``stack_type`` of ``_fused.train_fused`` (whose ``labels`` may also
        be ``"mean"``); returns one ``TrainingCurve`` per network.
        """
        curves = train_fused(self, list(modules), seeds=list(seeds),
                             likelihoods=list(likelihoods), rule=rule, prior=prior,
                             on_step=on_step, stack_type=stack_type, labels=labels)
        return [TrainingCurve(c) for c in curves]

    def train_members(self, modules, *, seeds, likelihoods, labels=None):
        """Train several networks on the energy with the default settings.

        The runs are those of ``train(modules[k], seeds=seeds[k],
        likelihood=likelihoods[k])`` for every ``k``. When
        ``trains_stacked``, plain MLPs are trained together as one stacked
        network (``_fused``: batched ops over a leading member axis); a
        member's weights then depend on the set of runs stacked, so give the
        same set (all the members) whatever the number of jobs. Otherwise
        the runs are trained one after the other.

        Parameters
        ----------
        modules : list of nn.Module
            The networks, trained in place.
        seeds : list of Seeds
            The seed tree of each run.
        likelihoods : list of Likelihood
            The likelihood of each run.
        labels : list of str, optional
            Names of the runs in the progress lines (``verbose``).

        Returns
        -------
        curves : list of TrainingCurve
            The loss curve of each run (see ``train``).
        """
        if self.trains_stacked and all(
            fused_reason(self, m, likelihood=lik) is None
            and (len(modules) == 1 or m.dropout == 0)  # dropout: one at a time
            for m, lik in zip(modules, likelihoods)
        ):
            return [TrainingCurve(c) for c in train_fused(
                self, list(modules), seeds=list(seeds), likelihoods=list(likelihoods),
                labels=labels)]
        curves = []
        for k, (m, s, lik) in enumerate(zip(modules, seeds, likelihoods)):
            if self.verbose and labels is not None:  # name the table that follows
                print(f"[{labels[k]}]", flush=True)
            curves.append(self.train(m, seeds=s, likelihood=lik))
        return curves


def _curve(history, has_valid):
    """The ``TrainingCurve`` of an engine's history."""
    scores = None
    if has_valid:
        scores = [-float(v) for v in history[:, "valid_loss"]]
    return TrainingCurve([float(v) for v in history[:, "train_loss"]], scores)
