"""Training engine: a private skorch ``NeuralNet`` with a fast batch path.

skorch runs the loop (callbacks, history, early stopping, progress printing);
two hot spots are replaced because they dominated small-MLP training on CPU
(docs/benchmarks/RESULTS.md): the per-row ``Dataset``/``DataLoader`` path is
replaced by tensor slicing with a local ``torch.Generator``, and prediction
never goes through skorch (the estimators call the module in row chunks).

The loss is the minibatch energy
``U(w) = -(N/n) sum_batch log p(y|x, w) - log p(w)`` divided by ``N``:
``mean_batch(-log p(y|x, w)) + extra_energy(module) / N``, where
``extra_energy`` is the negative log prior (or a KL term for VI) and ``N``
the number of rows the likelihood is summed over.

Weighted rows (``sample_weight``): the energy is ``U(w) = -sum_i w_i log
p(y_i|x_i, w) - log p(w)`` and ``N = sum_i w_i``, so an integer weight is
the same energy as that many copies of the row. ``TensorData`` stores the
weights rescaled to mean one, ``v_i = w_i n / sum_j w_j`` over its ``n``
rows, and a batch ``B`` of ``m`` rows has the loss
``mean_B(v_i nll_i) + extra_energy / N``. Batches drawn without replacement
give ``E[(n/m) sum_B w_i nll_i] = sum_i w_i nll_i``, and
``(n/m) sum_B w_i nll_i / N = mean_B(v_i nll_i)``: the loss is the unbiased
minibatch estimate of ``U(w) / N``. A full batch (``m = n``) gives
``U(w) / N`` exactly, the value for the data with each row repeated
``w_i`` times. The epoch mean over batches, weighted by batch size, is the
weighted mean NLL ``sum_i w_i nll_i / sum_i w_i`` (as ``valid_loss``).
"""

import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, EpochTimer, PrintLog

from ..utils import _skorch


class TensorData:
    """Aligned tensors; what the engine's iterators slice.

    ``weights`` (optional, shape (n,)) are row weights; ``w`` holds them
    rescaled to mean one (see the module docstring), None when unweighted.
    """

    def __init__(self, X, y, weights=None):
        self.X, self.y = X, y
        self.weights = weights
        self.w = None
        if weights is not None:
            self.w = weights * (len(weights) / weights.sum())

    def __len__(self):
        return len(self.X)


class TensorBatches:
    """Minibatches by index slicing (no per-row ``__getitem__`` or collate).

    Each pass draws a new permutation from ``generator`` when ``shuffle``.
    """

    def __init__(self, data, batch_size, shuffle=False, generator=None):
        self.data, self.batch_size = data, int(batch_size)
        self.shuffle, self.generator = shuffle, generator

    def __len__(self):
        return math.ceil(len(self.data) / self.batch_size)

    def __iter__(self):
        X, y, n = self.data.X, self.data.y, len(self.data)
        w = self.data.w
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            X, y = X[order], y[order]
            w = None if w is None else w[order]
        for start in range(0, n, self.batch_size):
            stop = start + self.batch_size
            if w is None:
                yield X[start:stop], y[start:stop]
            else:  # the targets of a weighted batch: (y, w), see Engine.get_loss
                yield X[start:stop], (y[start:stop], w[start:stop])


class Engine(NeuralNet):
    """skorch net minimising the per-sample energy; not a public class.

    Parameters
    ----------
    module : nn.Module
        An initialised module (skorch uses the instance as is).
    n_train : int or float
        ``N``, the number of training rows (the sum of the row weights when
        weighted), used to scale ``extra_energy``.
    extra_energy : callable or None
        ``extra_energy(module) -> scalar tensor``, e.g. the negative log prior.
    valid_data : TensorData or None
        Held-out rows for early stopping (the split is made by the caller).
    params : list of torch.Tensor or None
        The tensors the optimizer updates; None means the module's parameters.
    **kwargs
        Passed to ``skorch.NeuralNet`` (``criterion``, ``optimizer``, ``lr``,
        ``max_epochs``, ``batch_size``, ``iterator_train__generator``, ...).
    """

    def __init__(self, module, *, n_train, extra_energy=None, valid_data=None,
                 params=None, **kwargs):
        super().__init__(module, **kwargs)
        self.n_train = n_train
        self.extra_energy = extra_energy
        self.valid_data = valid_data
        self.params = params

    def get_all_learnable_params(self):
        if self.params is None:
            yield from super().get_all_learnable_params()
            return
        for i, param in enumerate(self.params):
            yield f"param_{i}", param

    def check_data(self, X, y=None):
        pass  # the estimator validated the data already

    def get_dataset(self, X, y=None):
        return X if isinstance(X, TensorData) else TensorData(X, y)

    def get_split_datasets(self, X, y=None, **fit_params):
        return self.get_dataset(X, y), self.valid_data

    # --------------------------------------------------- trimmed per-batch path
    # skorch's default loop records two history entries per batch and lets two
    # ``PassthroughScoring`` callbacks average them at the end of the epoch,
    # and notifies every callback three times per batch. Here the epoch loss is
    # averaged directly (same ``np.average`` over batch losses weighted by batch
    # size, so the recorded ``train_loss``/``valid_loss`` are identical), and
    # per-batch hooks are only called on callbacks that define them.

    @property
    def _default_callbacks(self):
        return [("epoch_timer", EpochTimer()), ("print_log", PrintLog())]

    def initialize_callbacks(self):
        super().initialize_callbacks()
        # EarlyStopping ends training by raising in on_epoch_end; run it after
        # PrintLog (which skorch puts last) so the final epoch is printed too.
        stop = [(n, cb) for n, cb in self.callbacks_ if isinstance(cb, EarlyStopping)]
        self.callbacks_ = [c for c in self.callbacks_ if c not in stop] + stop
        self._hooked = {
            name: [(n, cb) for n, cb in self.callbacks_
                   if getattr(type(cb), name, None) is not getattr(Callback, name)]
            for name in ("on_batch_begin", "on_batch_end", "on_grad_computed")
        }
        return self

    def _notify_hooked(self, name, **kwargs):
        for _, cb in self._hooked[name]:
            getattr(cb, name)(self, **kwargs)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        losses, sizes = [], []
        begin, end = self._hooked["on_batch_begin"], self._hooked["on_batch_end"]
        for batch in iterator:
            if begin:
                self._notify_hooked("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].item())
            sizes.append(len(batch[0]))
            if end:
                self._notify_hooked("on_batch_end", batch=batch, training=training,
                                    **step)
        self.history.record(prefix + "_batch_count", len(losses))
        if losses:
            self.history.record(prefix + "_loss",
                                float(np.average(losses, weights=sizes)))

    def train_step(self, batch, **fit_params):
        if self._hooked["on_grad_computed"]:
            return super().train_step(batch, **fit_params)
        step = {}

        def closure():
            _skorch.zero_grad(self)
            out = self.train_step_single(batch, **fit_params)
            if not step:  # skorch keeps the first step (LBFGS calls it again)
                step.update(out)
            return out["loss"]

        loss = _skorch.step(self, closure)
        if isinstance(loss, torch.Tensor):  # the rule's own loss: IVON's mean
            step["loss"] = loss  # over its mc_samples draws, not the first's
        return step

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if isinstance(y_true, tuple):  # weighted rows: criterion(f, y, w)
            loss = self.criterion_(y_pred, *y_true)
        else:
            loss = self.criterion_(y_pred, y_true)
        if training and self.extra_energy is not None:
            loss = loss + self.extra_energy(self.module_) / self.n_train
        return loss


def make_engine(module, *, criterion, n_train, extra_energy, generator, max_epochs,
                batch_size, lr, optimizer, optimizer_kwargs, params, valid_data,
                n_iter_no_change, verbose, callbacks=()):
    """Build the engine for one training run (see ``Engine``)."""
    callbacks = list(callbacks)
    if valid_data is not None:
        callbacks.append(EarlyStopping(monitor="valid_loss", patience=n_iter_no_change,
                                       load_best=True, sink=lambda *a: None))
    extra = {f"optimizer__{k}": v for k, v in (optimizer_kwargs or {}).items()}
    if not verbose:
        extra["callbacks__print_log"] = None
    return Engine(
        module,
        n_train=n_train,
        extra_energy=extra_energy,
        valid_data=valid_data,
        params=params,
        criterion=criterion,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train=TensorBatches,
        iterator_train__shuffle=True,
        iterator_train__generator=generator,
        iterator_valid=TensorBatches,
        train_split=None,
        callbacks=callbacks,
        verbose=int(verbose),
        **extra,
    )


class StepHook(Callback):
    """Call ``fn(module, step)`` after every optimizer step (training batches).

    ``step`` counts the steps of this training run from 0; a hook may keep
    weight snapshots (SG-MCMC draws) or adjust step sizes.
    """

    def __init__(self, fn):
        self.fn = fn

    def on_train_begin(self, net, **kwargs):
        self.step_ = 0

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.fn(net.module_, self.step_)
            self.step_ += 1
