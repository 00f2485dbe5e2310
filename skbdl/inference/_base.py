"""The contract between the estimators and the inference methods.

An inference method is a small ``BaseEstimator`` that holds only its
hyper-parameters. The estimator clones it into ``method_`` and calls:

``fit(problem) -> self``
    Learn the posterior. ``problem`` (a ``TrainingProblem``) gives the data as
    tensors, the prior, the likelihood, ``N``, a seed, ``build_module(...)`` to
    create a freshly initialised network and ``train(module, ...)`` to run the
    shared training engine with the correctly scaled energy (DESIGN §1.7).
    Fitted state is stored on the method object with a trailing underscore.
``sample_f(X, n_samples, generator) -> Tensor (S, n, k)``
    Latent outputs of ``S`` posterior draws of the whole function (one weight
    draw or dropout mask per draw, shared by every row; DESIGN §1.4), computed
    as batched tensor ops. The randomness must not depend on ``X``: the same
    generator state gives the same ``S`` functions for any rows, which is how
    the estimators evaluate large inputs chunk by chunk.
``predict_f(X) -> (mean, var)`` of shape ``(n, k)`` each
    The closed-form latent mean and marginal variance, only where
    ``closed_form`` is True (the estimator then uses it for the predictive);
    otherwise the predictive is the Monte-Carlo average over ``sample_f``.
``default_n_samples``
    Number of draws used when the estimator's ``n_samples`` is None.

A new method is one new file defining such a class plus one line in
``skbdl.inference.METHODS``; the estimators need no change.
"""

from dataclasses import dataclass, field

import math

import torch
from sklearn.base import BaseEstimator
from skorch.callbacks import Callback

from ..neural_network._engine import TensorData, make_engine
from ..neural_network._module import MLP
from ..utils._torch import make_generator, seeded


class BaseInference(BaseEstimator):
    """Base class of the inference methods (see the module docstring).

    A subclass holds only hyper-parameters in ``__init__`` and implements
    ``fit``, ``sample_f`` and, where it has a closed-form predictive,
    ``predict_f``; the estimators do the rest. Subclass it to add a method,
    then register the class in ``skbdl.inference.METHODS``.

    See Also
    --------
    MAP : The simplest method, a point estimate.

    Examples
    --------
    >>> from skbdl.inference import METHODS, BaseInference
    >>> all(issubclass(cls, BaseInference) for cls in METHODS.values())
    True
    """

    #: True when ``predict_f`` gives the predictive in closed form.
    closed_form = False
    #: Number of posterior draws when the estimator's ``n_samples`` is None.
    default_n_samples = 1

    def fit(self, problem):  # pragma: no cover - abstract
        """Learn the posterior; called by the estimator's ``fit``.

        Parameters
        ----------
        problem : TrainingProblem
            The data as tensors, the prior, the likelihood, ``N``, a seed and
            the helpers ``build_module`` and ``train``.

        Returns
        -------
        self : object
            The fitted method; its fitted state ends in ``_``.
        """
        raise NotImplementedError

    def sample_f(self, X, n_samples, generator):  # pragma: no cover - abstract
        """Latent outputs of posterior draws of the whole function.

        Parameters
        ----------
        X : torch.Tensor of shape (n, n_features)
            Input rows (float32, on the estimator's device).
        n_samples : int
            Number of draws ``S``.
        generator : torch.Generator
            The only source of randomness; the same state gives the same
            ``S`` functions for any rows.

        Returns
        -------
        f : torch.Tensor of shape (S, n, k)
            Logits (classification) or mean and log noise variance
            (regression) under each draw.
        """
        raise NotImplementedError

    def predict_f(self, X):
        """Closed-form latent mean and variance (only if ``closed_form``).

        Parameters
        ----------
        X : torch.Tensor of shape (n, n_features)
            Input rows (float32, on the estimator's device).

        Returns
        -------
        mean : torch.Tensor of shape (n, k)
            Posterior mean of the latent outputs.
        var : torch.Tensor of shape (n, k)
            Their marginal posterior variance.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form predictive; use sample_f."
        )


@dataclass
class TrainingProblem:
    """Everything an inference method needs to learn a posterior.

    Built by the estimator in ``fit``; tensors are float32 on ``device``.
    ``y`` holds class indices (classification) or standardised targets
    (regression). The regression latent output has two columns: mean and log
    noise variance.
    """

    X: torch.Tensor
    y: torch.Tensor
    task: str
    n_outputs: int
    hidden_layer_sizes: tuple
    activation: str
    prior: object
    seed: int
    heteroscedastic: bool = False
    max_epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    early_stopping: bool = False
    validation_fraction: float = 0.1
    n_iter_no_change: int = 10
    verbose: int = 0
    device: str = "cpu"
    _split: tuple = field(default=None, repr=False)

    @property
    def n_train(self):
        """``N``: the number of rows the energy is scaled to."""
        return len(self.X)

    def build_module(self, seed, dropout=0.0):
        """A freshly initialised MLP for this problem (init seeded by ``seed``)."""
        noise = None
        if self.task == "regression":
            noise = "heteroscedastic" if self.heteroscedastic else "homoscedastic"
        with seeded(seed):
            module = MLP(self.X.shape[1], self.hidden_layer_sizes, self.n_outputs,
                         self.activation, dropout=dropout, noise_head=noise)
        return module.to(self.device)

    def neg_log_prior(self, module):
        """``-log p(w)`` of the module's weights under the problem's prior."""
        return self.prior.neg_log_prob(module.prior_parameters())

    def train(self, module, *, seed, optimizer=torch.optim.Adam,
              optimizer_kwargs=None, extra_energy="prior", callbacks=()):
        """Train ``module`` in place on the energy; return the loss curve.

        Parameters
        ----------
        module : nn.Module
            Network to train (its forward gives the latent outputs).
        seed : int
            Seeds the batch order and any global-RNG op (dropout).
        optimizer : type of torch.optim.Optimizer
            Optimizer class; ``lr`` comes from the problem.
        optimizer_kwargs : dict, optional
            Extra optimizer arguments.
        extra_energy : "prior", callable or None
            The term added to the summed negative log-likelihood; "prior"
            means ``neg_log_prior``.
        callbacks : sequence of skorch callbacks
            Extra callbacks (e.g. collecting SGLD draws).

        Returns
        -------
        loss_curve : list of float
            Mean training energy per epoch (divided by ``N``).
        """
        if extra_energy == "prior":
            extra_energy = self.neg_log_prior
        X_train, valid = self._train_valid_split(seed)
        engine = make_engine(
            module, task=self.task, n_train=len(X_train), extra_energy=extra_energy,
            generator=make_generator(seed), max_epochs=self.max_epochs,
            batch_size=min(self.batch_size, len(X_train.X)), lr=self.lr,
            optimizer=optimizer, optimizer_kwargs=optimizer_kwargs,
            valid_data=valid, n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose, callbacks=[*self._noise_callbacks(module, X_train),
                                             *callbacks],
        )
        with seeded(seed):
            engine.fit(X_train, None)
        module.eval()
        return [float(v) for v in engine.history[:, "train_loss"]]

    def _noise_callbacks(self, module, data):
        """Closed-form noise updates for the homoscedastic Gaussian likelihood."""
        if getattr(module, "log_noise_var", None) is None:
            return []
        return [NoiseRefit(data)]

    def _train_valid_split(self, seed):
        """All rows, or a seeded (train, valid) split when early stopping."""
        if not self.early_stopping:
            return TensorData(self.X, self.y), None
        n = self.n_train
        n_valid = max(1, int(round(self.validation_fraction * n)))
        order = torch.randperm(n, generator=make_generator(seed + 1))
        tr, va = order[n_valid:], order[:n_valid]
        return TensorData(self.X[tr], self.y[tr]), TensorData(self.X[va], self.y[va])


class NoiseRefit(Callback):
    """Set the homoscedastic noise variance to its optimum after each epoch.

    Given the network's mean function, the energy is minimised in closed form
    by the mean squared training residual (the noise has no prior), so the
    noise is updated by coordinate descent instead of by the optimizer. A
    gradient step of size ``lr`` on the log variance would need thousands of
    steps to move from its initial value (variance 1 in standardised units)
    on small data; meanwhile an over-estimated noise down-weights the data
    against the prior and the mean under-fits. The variance is floored at
    ``min_var`` (standardised units) so an interpolating network does not
    drive it to zero.
    """

    def __init__(self, data, min_var=1e-4):
        self.data, self.min_var = data, min_var

    def on_train_begin(self, net, **kwargs):
        net.module_.log_noise_var.requires_grad_(False)
        self._refit(net.module_)

    def on_epoch_end(self, net, **kwargs):
        self._refit(net.module_)

    def _refit(self, module):
        was_training = module.training
        module.eval()
        with torch.no_grad():
            mean = module(self.data.X)[:, 0]
            var = float(torch.mean((self.data.y - mean) ** 2))
            module.log_noise_var.fill_(math.log(max(var, self.min_var)))
        module.train(was_training)
