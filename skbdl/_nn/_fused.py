"""Fused training of plain MLPs: hand-written forward and backward passes.

On networks the size of small tabular problems (64-100-10, batches of 64)
the time of a training step is per-operation overhead, not arithmetic:
autograd records and replays every op and skorch adds a Python layer per
batch, so the generic engine (``_engine.Engine``) took 2.7 s for 200 epochs
on digits where scikit-learn's NumPy MLP takes 1.1 s
(docs/benchmarks/RESULTS.md, "Defaults: training speed"). For the common case this
module runs the same optimisation with about a dozen tensor ops per step:

* the energy ``mean_batch(-log p(y|x, w)) + (-log p(w)) / N`` of the engine,
  with the gradient of the likelihood with respect to the latent output and
  the back-propagation through the layers written out;
* the same minibatches (one permutation per epoch from the run's
  ``"batches"`` generator), the same initial weights, torch's Adam;
* ``S`` networks at once: every tensor has a leading member axis and every
  op is batched over it (``baddbmm``/``bmm``), so a deep ensemble costs far
  less than ``S`` separate fits. A member's weights are reproducible for a
  given stack, but not bitwise equal to those it gets in a stack of another
  size: torch's batched matrix products take different kernels for
  different batch counts. Callers therefore stack a fixed set of runs (all
  the members of an ensemble), whatever the number of jobs.

Dropout (MC dropout's training) is applied with masks drawn from the
global generator, seeded per run as the engine seeds it, in the engine's
order and layout, so both paths use the same masks.

Other update rules than Adam run on the same loop (``rule``): SGLD chains
are stacked as ensemble members are, IVON stacks its weight draws, and VI
swaps in a mean-field stack (``_mean_field.py``);
``skbdl/inference/_sgld_update.py``, ``_ivon_update.py`` and ``_vi.py`` hold
their fused forms. A rule gets the stack and calls a closure that computes
the batch's gradient at the stack's current weights, as ``torch.optim``
rules call theirs. Any prior with a gradient applies: an isotropic Gaussian
is the weight decay inside the backward pass, the others add their
gradient (``_gradient_plan``) after it.

``fused_reason`` says when the fast path applies; anything else (callbacks,
early stopping, priors without a gradient, learned or heteroscedastic
noise) runs through the generic engine. The two paths agree to float rounding
(tests/_nn/test_fused.py).
"""

import contextlib
import math
import time

import numpy as np
import torch

from ..utils._torch import flush_denormal, seeded
from ._likelihood import MIN_NOISE_VAR, Categorical, Gaussian
from ._module import ACTIVATIONS, MLP
from ._prior_term import PriorTerm

_LOG_2PI = math.log(2.0 * math.pi)


def fused_reason(problem, module=None, *, likelihood=None,
                 optimizer=torch.optim.Adam, optimizer_kwargs=None, params=None,
                 noise="refit", extra_energy="prior", callbacks=(), on_step=()):
    """Why a training run cannot take the fused path, or None when it can.

    The arguments are those of ``TrainingProblem.train``; ``module=None``
    stands for a network of ``problem.build_module()`` (a plain MLP) and
    ``likelihood=None`` for the problem's likelihood.
    """
    module_ok = module is None or type(module) is MLP
    likelihood = problem.likelihood if likelihood is None else likelihood
    checks = [
        (module_ok, "the module is not a plain MLP"),
        (type(likelihood) in (Categorical, Gaussian), "the likelihood"),
        (noise in ("refit", "fixed"), "the noise is learned by gradient"),
        (optimizer is torch.optim.Adam and not optimizer_kwargs, "the optimizer"),
        (params is None, "a parameter subset is trained"),
        (extra_energy == "prior" and problem.prior._unsupported("log_prob") is None,
         "the prior has no gradient to train on"),
        (not callbacks and not on_step, "training hooks"),
        (problem.valid is None, "early stopping"),
        (problem.activation in ACTIVATIONS, "the activation"),
    ]
    for ok, reason in checks:
        if not ok:
            return reason
    return None


class _Adam:
    """Adam (Kingma & Ba, 2015) on a list of tensors, as ``torch.optim.Adam``
    computes it with its default betas and eps.

    ``torch.optim`` is not used: its first step imports ``torch._dynamo``
    (about a second, once per process), more than a whole small fit. The
    update is torch's fused Adam kernel where the build has it, else the same
    arithmetic in ``_foreach`` ops.
    """

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = list(params), float(lr), betas, eps
        self.exp_avgs = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device)
                      for p in self.params]
        self.t = 0

    def state_dict(self):
        """The moments, step counts and ``t`` (copies), for ``load_state_dict``."""
        return {"exp_avgs": [t.clone() for t in self.exp_avgs],
                "exp_avg_sqs": [t.clone() for t in self.exp_avg_sqs],
                "steps": [t.clone() for t in self.steps], "t": self.t}

    def load_state_dict(self, state):
        """Continue from ``state_dict()`` of an optimizer over same-shaped params."""
        for name in ("exp_avgs", "exp_avg_sqs", "steps"):
            for mine, saved in zip(getattr(self, name), state[name], strict=True):
                mine.copy_(saved)
        self.t = int(state["t"])

    def step(self, grads):
        self.t += 1
        beta1, beta2 = self.betas
        try:
            torch._foreach_add_(self.steps, 1)
            torch._fused_adam_(
                self.params, grads, self.exp_avgs, self.exp_avg_sqs, [], self.steps,
                lr=self.lr, beta1=beta1, beta2=beta2, weight_decay=0.0, eps=self.eps,
                amsgrad=False, maximize=False)
        except (AttributeError, NotImplementedError, RuntimeError):  # pragma: no cover
            self._foreach_step(grads)

    def _foreach_step(self, grads):  # pragma: no cover - builds without the kernel
        beta1, beta2 = self.betas
        torch._foreach_lerp_(self.exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sqs, beta2)
        torch._foreach_addcmul_(self.exp_avg_sqs, grads, grads, 1 - beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sqs)
        torch._foreach_div_(denom, math.sqrt(1 - beta2 ** self.t))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avgs, denom,
                                -self.lr / (1 - beta1 ** self.t))


#: Adam on a list of tensors, for the fused update rules of the methods.
Adam = _Adam


class _AdamRule:
    """Adam as a fused update rule (``train_fused``'s default ``rule``)."""

    def __init__(self, adam, stack):
        self.adam, self.stack = adam, stack

    def step(self, closure, noise_var=None):
        loss = closure()
        self.adam.step(self.stack.grad_rows)
        return loss


def layer_views(flat, shapes):
    """Views ``[(W (D, out, in), b (D, out, 1)), ...]`` of flat rows ``(D, P)``.

    The flat layout of every stack: each layer's weight row-major, then its
    bias, head last (``MLP.parameters()`` order); ``shapes`` are the
    weights' ``(out, in)``.
    """
    views, offset = [], 0
    for out, n_in in shapes:
        weight = flat[:, offset:offset + out * n_in].view(-1, out, n_in)
        offset += out * n_in
        views.append((weight, flat[:, offset:offset + out].view(-1, out, 1)))
        offset += out
    return views


class _Stack:
    """The weights of ``S`` same-shaped MLPs on a leading member axis.

    All the weights and biases of a member are views into one row of a flat
    ``(S, P)`` buffer, and their gradients into another: the optimizer and
    the prior's ``sum w^2`` are then one op each over the ``S`` rows,
    whatever the depth. Activations are held transposed, ``(S, width, n)``:
    the softmax over the classes then runs along a strided axis, several
    times faster than along a short last axis.
    """

    def __init__(self, modules):
        layers = [m.layers() for m in modules]
        S, first = len(modules), layers[0]
        like = first[0][0]
        n_flat = sum(w.numel() + b.numel() for w, b in first)
        self.flat = torch.empty(S, n_flat, dtype=like.dtype, device=like.device)
        self.grad = torch.zeros_like(self.flat)
        self.shapes = [tuple(w.shape) for w, _ in first]
        views = layer_views(self.flat, self.shapes)
        self.weights, self.biases = [w for w, _ in views], [b for _, b in views]
        grads = layer_views(self.grad, self.shapes)
        self.grad_w, self.grad_b = [w for w, _ in grads], [b for _, b in grads]
        for i in range(len(first)):
            for k in range(S):
                self.weights[i][k] = layers[k][i][0].detach()
                self.biases[i][k, :, 0] = layers[k][i][1].detach()
        self.rows = list(self.flat.unbind(0))
        self.grad_rows = list(self.grad.unbind(0))
        self.name = modules[0].activation
        self.activation = ACTIVATIONS[self.name]
        self.dropout = modules[0].dropout

    def forward(self, xt, keep=False, train=False):
        """Latent outputs ``(S, k, n)`` of inputs ``(S, d, n)``.

        With ``keep`` also what ``backward`` needs: the inputs of every
        layer, the pre-activations, the activations before dropout and the
        dropout masks. ``train`` applies dropout (``S = 1`` only): the masks
        are drawn from torch's global generator as ``nn.functional.dropout``
        draws them, one ``(n, width)`` Bernoulli tensor per hidden layer in
        forward order, so a seeded run draws the engine's masks exactly.
        """
        inputs, pre, acts, masks = [xt], [], [], []
        h = xt
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, w, h)
            if i < last:
                pre.append(h)
                h = self.activation.fn(h)
                acts.append(h)
                if train and self.dropout > 0:
                    keep_p = 1.0 - self.dropout
                    mask = torch.empty(h.shape[2], h.shape[1], dtype=h.dtype,
                                       device=h.device).bernoulli_(keep_p)
                    mask = mask.div_(keep_p).t()
                    masks.append(mask)
                    h = h * mask
                inputs.append(h)
        return (h, (inputs, pre, acts, masks)) if keep else h

    def backward(self, grad_f, saved, ones, coef):
        """Fill ``self.grad``: the data term plus ``coef * w`` (weight decay).

        ``grad_f`` ``(S, k, n)`` is the gradient of the batch's mean NLL at
        the latent outputs; ``saved`` is what ``forward(keep=True)``
        returned; ``ones`` is an ``(S, n, 1)`` column for the bias sums.
        ``coef`` is one float for every weight and bias, or a
        ``(weight, bias)`` pair of floats per layer.
        """
        coefs = coef if isinstance(coef, list) else [(coef, coef)] * len(self.weights)
        inputs, pre, acts, masks = saved
        g = grad_f
        for i in range(len(self.weights) - 1, -1, -1):
            w = self.weights[i]
            torch.baddbmm(w, g, inputs[i].transpose(1, 2), beta=coefs[i][0],
                          out=self.grad_w[i])
            torch.baddbmm(self.biases[i], g, ones, beta=coefs[i][1],
                          out=self.grad_b[i])
            if i > 0:
                g = torch.bmm(w.transpose(1, 2), g)
                if masks:
                    g = g * masks[i - 1]
                if self.name == "relu":  # one op instead of a mask and a product
                    g = torch.ops.aten.threshold_backward(g, pre[i - 1], 0)
                else:
                    g = g * self.activation.grad(pre[i - 1], acts[i - 1])

    def unflatten(self, flat):
        """Layers ``[(W (D, out, in), b (D, out)), ...]`` of flat rows (D, P)."""
        return [(w, b[..., 0]) for w, b in layer_views(flat, self.shapes)]

    def write_back(self, modules):
        for k, module in enumerate(modules):
            for (w, b), sw, sb in zip(module.layers(), self.weights, self.biases):
                w.copy_(sw[k])
                b.copy_(sb[k, :, 0])


def train_fused(problem, modules, *, seeds, likelihoods, noise="refit", labels=None,
                state=None, rule=None, prior=True, on_step=(), stack_type=None):
    """Train ``S`` MLPs on the problem's energy; return one loss curve each.

    Parameters
    ----------
    problem : TrainingProblem
        Data, prior, ``N``, epochs, batch size, learning rate, verbosity.
    modules : list of MLP
        ``S`` networks of the same architecture, trained in place.
    seeds : list of Seeds
        The seed tree of each run (its ``"batches"`` stream orders the rows).
    likelihoods : list of Categorical or Gaussian
        The likelihood of each run; a Gaussian's noise is refit per epoch
        (``noise="refit"``) or kept (``"fixed"``).
    noise : {"refit", "fixed"}
        The noise policy of the Gaussian likelihoods.
    labels : list of str or "mean", optional
        Names of the runs in the progress lines (``verbose``); ``"mean"``:
        the runs are draws of one model (IVON's MC samples), shown as one
        ``train_loss`` column, their mean.
    state : TrainState, optional
        Resume Adam and the batch generators from it and store them in it at
        the end (see ``TrainingProblem.train``); None: fresh ones.
    rule : callable, optional
        The update rule: ``rule(stack)`` returns an object whose
        ``step(closure, noise_var)`` calls ``closure()`` once (it fills
        ``stack.grad`` with the energy's gradient at ``stack.flat``, the
        prior's included, and returns the per-run mean batch NLL, shape
        (S,); the prior's value is added per epoch) and then updates
        ``stack.flat`` in place; ``noise_var`` is the Gaussian noise
        variance of each run, shape (S, 1), or None. Its optional
        ``end_epoch(losses)`` runs after every epoch, before the noise
        refit, with the epoch's mean energy of each run (S,): a rule raises
        its divergence error there when one is not finite. An optional
        ``epoch_values(n_steps)`` returns the rule's own energy term at each
        of the epoch's steps, shape (steps, S), added to the closure's
        values before ``end_epoch`` (VI's KL: computed once per epoch).
        None: Adam at
        ``problem.lr`` (``state`` is only used then).
    prior : bool, default=True
        Whether the energy has the prior term ``-log p(w) / N``; a rule
        that applies the prior itself (IVON's weight decay) passes False.
    on_step : sequence of callables
        ``fn(stack, step)`` after every update, ``step`` counting from 0.
    stack_type : callable, optional
        ``stack_type(modules)`` builds the stack; None: ``_Stack`` (plain
        MLPs). VI passes a ``_mean_field.MeanFieldStack``.

    Returns
    -------
    curves : list of list of float
        The mean training energy per epoch of each run (divided by ``N``).
    """
    S, X, n = len(modules), problem.X, problem.n_rows
    batch = min(problem.batch_size, n)
    stack = (_Stack if stack_type is None else stack_type)(modules)
    prior_term = PriorTerm(stack, problem.prior, problem.n_train) if prior else None
    coef = 0.0 if prior_term is None else prior_term.coef
    # Row weights rescaled to mean one (``_engine`` derives the scaling); None
    # when unweighted, which keeps the unweighted arithmetic unchanged.
    v = None
    if problem.weights is not None:
        v = problem.weights.to(X.dtype) * (n / problem.weights.to(X.dtype).sum())
    regression = isinstance(likelihoods[0], Gaussian)
    if regression:
        y = problem.y.to(X.dtype)
        log_var = torch.cat([lik._log_var().detach() for lik in likelihoods])
        log_var = log_var.view(S, 1, 1)
    else:
        y, n_classes = problem.y, problem.n_latent
    generators = [s.generator("batches") for s in seeds]
    if rule is None:
        adam = _Adam(stack.rows, problem.lr)
        optimizer = _AdamRule(adam, stack)
    else:
        if state is not None:
            raise ValueError("train_fused resumes Adam only; got a rule and a state.")
        optimizer = rule(stack)
    if state is not None and state.batches is not None:
        for generator, saved in zip(generators, state.batches, strict=True):
            generator.set_state(saved)
    if state is not None and state.path == "fused":
        adam.load_state_dict(state.optimizer)
    ones = torch.ones(S, batch, 1, dtype=X.dtype, device=X.device)
    ones_last = ones[:, : n - batch * ((n - 1) // batch)]

    def const(value):  # a Python number as an operand is wrapped into a
        # float64 tensor and converted at every op (~1.3 us); a 0-dim tensor
        # of X's dtype gives the same float32 arithmetic without that
        return torch.tensor(value, dtype=X.dtype, device=X.device)

    sizes_of = {size: (const(size), const(-size))
                for size in {batch, ones_last.shape[1]}}
    half, log_2pi = const(0.5), const(_LOG_2PI)

    def refit():
        nonlocal log_var
        if regression and noise == "refit":
            resid = y - stack.forward(X.t().expand(S, *X.t().shape))
            sq = resid * resid if v is None else resid * resid * v
            log_var = torch.log(sq.mean(2, keepdim=True).clamp_min(MIN_NOISE_VAR))

    if stack.dropout > 0 and S > 1:
        raise ValueError("Dropout networks are trained one at a time.")
    dropout_rng = (seeded(seeds[0].seed("dropout")) if stack.dropout > 0
                   else contextlib.nullcontext())
    curves = [[] for _ in range(S)]
    step = 0
    with torch.no_grad(), dropout_rng, flush_denormal():
        refit()
        for epoch in range(problem.max_epochs):
            start_time = time.perf_counter()
            order = torch.cat([torch.randperm(n, generator=g) for g in generators])
            order = order.to(X.device)
            xs = X.index_select(0, order).view(S, n, -1).transpose(1, 2)
            vs = None if v is None else v.index_select(0, order).view(S, 1, n)
            if regression:
                ts = y.index_select(0, order).view(S, 1, n)
            else:  # one-hot targets, (S, k, n)
                ts = torch.nn.functional.one_hot(y.index_select(0, order).view(S, n),
                                                 n_classes)
                ts = ts.to(X.dtype).transpose(1, 2).contiguous()
            noise_var = None
            if regression:  # the noise changes only at the refit, once per epoch
                precision = torch.exp(-log_var)
                noise_var = torch.exp(log_var).view(S, 1)
            losses, sizes = [], []
            for start in range(0, n, batch):
                stop = start + batch
                xb, tb = xs[:, :, start:stop], ts[:, :, start:stop]
                vb = None if vs is None else vs[:, :, start:stop]
                nb = xb.shape[2]
                ones_b = ones if nb == batch else ones_last

                def closure(xb=xb, tb=tb, vb=vb, nb=nb, ones_b=ones_b):
                    f, saved = stack.forward(xb, keep=True, train=True)
                    rows, neg_rows = sizes_of[nb]
                    if regression:
                        resid = f - tb
                        sq = resid * resid if vb is None else resid * resid * vb
                        data = sq.sum((1, 2)) * precision.view(S) / rows
                        if vb is None:
                            nll = half * (data + log_var.view(S) + log_2pi)
                        else:  # the constant weighted by the batch's mean weight
                            mass = vb.sum((1, 2)) / rows
                            nll = half * (data + (log_var.view(S) + log_2pi) * mass)
                        grad_f = resid * (precision / rows)
                    else:
                        log_p = torch.log_softmax(f, 1)
                        picked = log_p * tb if vb is None else log_p * tb * vb
                        nll = picked.sum((1, 2)) / neg_rows
                        grad_f = (torch.exp(log_p) - tb) / rows
                    if vb is not None:
                        grad_f = grad_f * vb
                    stack.backward(grad_f, saved, ones_b, coef)
                    if prior_term is not None:
                        prior_term.step()
                    return nll

                losses.append(optimizer.step(closure, noise_var))
                sizes.append(nb)
                for fn in on_step:
                    fn(stack, step)
                step += 1
            energies = torch.stack(losses)  # (steps, S): what the closure returned
            if prior_term is not None:  # plus -log p / N at every step
                energies = energies + prior_term.epoch_values(len(losses))
            if hasattr(optimizer, "epoch_values"):  # a rule's own term (VI's KL)
                energies = energies + optimizer.epoch_values(len(losses))
            epoch_losses = np.average(energies.double().cpu().numpy(), axis=0,
                                      weights=sizes)
            if hasattr(optimizer, "end_epoch"):
                optimizer.end_epoch(epoch_losses)
            refit()
            for curve, value in zip(curves, epoch_losses):
                curve.append(float(value))
            if problem.verbose:
                _print_epoch(epoch, problem.max_epochs, epoch_losses, labels,
                             time.perf_counter() - start_time)
        stack.write_back(modules)
        if state is not None:
            state.path, state.optimizer = "fused", adam.state_dict()
            state.batches = [generator.get_state() for generator in generators]
        if regression:
            for lik, value in zip(likelihoods, log_var.view(S).tolist()):
                lik.set_log_noise_var(value)
    for module in modules:
        module.eval()
    return curves


def _print_epoch(epoch, max_epochs, losses, labels, seconds):
    """One table row per epoch, as skorch's ``PrintLog`` prints them.

    One run, or ``labels="mean"``: columns ``epoch``, ``train_loss``
    (the mean of the runs), ``dur``. Several runs: the training loss of
    each under its label (``member 1``, ...).
    """
    if isinstance(labels, str):  # "mean": draws of one model
        losses = [float(np.mean(losses))]
    names = ["train_loss"] if len(losses) == 1 else [
        f"run {k + 1}" if labels is None else labels[k] for k in range(len(losses))]
    widths = [max(len(name), 10) for name in names]
    if epoch == 0:
        header = ["  epoch", *(f"{name:>{w}}" for name, w in zip(names, widths)),
                  "   dur"]
        print("  ".join(header), flush=True)
        print("  ".join("-" * len(h) for h in header), flush=True)
    row = [f"{epoch + 1:>7}", *(f"{v:>{w}.4f}" for v, w in zip(losses, widths)),
           f"{seconds:>6.4f}"]
    print("  ".join(row), flush=True)
