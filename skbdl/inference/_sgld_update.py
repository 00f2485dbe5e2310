"""The SGLD update rule and its step-size schedules.

The seed's Algorithm 1 (Welling and Teh, 2011), without a Metropolis
correction::

    theta <- theta - (h_k / 2) grad U_hat(theta) + xi,   xi ~ N(0, T h_k I)
    U_hat(theta) = -(N / n) sum_batch log p(y_i | x_i, theta) - log p(theta)

skbdl's engine hands every update rule the gradient of ``U_hat / N`` (the
mean batch NLL plus ``-log p / N``), so the rule takes its step size per
datum: ``h_k = step_k / N``. Then the drift is ``(step_k / 2) grad(U_hat /
N)``, an SGD step of rate ``step_k / 2`` on the mean loss, and the noise
variance is ``T step_k / N``: one ``step_size`` works for any ``N`` on
standardised data.

With ``preconditioner="rmsprop"`` this is pSGLD (Li, Chen, Carlson and
Carin, AAAI 2016): ``G = 1 / (lambda + sqrt(V))`` with ``V`` the running
mean of the squared gradient of ``U_hat / N``; the drift is multiplied by
``G`` and the noise variance by ``G``. The correction term ``Gamma(theta) =
sum_j dG_ij / dtheta_j`` is dropped, as in the paper's experiments: ``V``
depends on ``theta`` only through past gradients, weighted by ``1 - alpha``
(1 %), so the term is of order ``(1 - alpha) h``; the bias it leaves is
measured on the conjugate linear model in tests/inference/test_sgld.py.
"""

import math

import numpy as np
import torch


class SGLDDivergedError(FloatingPointError):
    """The energy or the weights of an SGLD chain became non-finite."""


def step_sizes(schedule, step_size, n_steps, *, gamma=0.55, decay_steps=None,
               n_cycles=1):
    """Step size per datum ``step_k`` of every step, shape (n_steps,), float64.

    ``"constant"``: ``step_size``. ``"polynomial"``: ``a (b + k)^-gamma``
    with ``b = decay_steps`` (None: a tenth of the steps) and ``a`` set so
    that step 0 is ``step_size``. ``"cyclical"``: ``step_size / 2 (cos(pi
    r / L) + 1)`` with ``L = ceil(n_steps / n_cycles)`` and ``r = k mod L``
    (Zhang et al., 2020).
    """
    k = torch.arange(n_steps, dtype=torch.float64)
    if schedule == "constant":
        return torch.full((n_steps,), float(step_size), dtype=torch.float64)
    if schedule == "polynomial":
        b = max(1.0, n_steps / 10 if decay_steps is None else float(decay_steps))
        return float(step_size) * (b / (b + k)) ** float(gamma)
    if schedule == "cyclical":
        length = math.ceil(n_steps / n_cycles)
        return 0.5 * float(step_size) * (torch.cos(math.pi * (k % length) / length) + 1)
    raise ValueError(f"Unknown schedule {schedule!r}.")


def sampling_steps(schedule, n_steps, *, n_cycles=1, exploration=0.0, burn_in=0):
    """Boolean mask of the steps that add noise and may be kept, (n_steps,).

    Steps before ``burn_in`` add noise but are never kept; in a cyclical
    schedule the first ``exploration`` fraction of each cycle is plain SGD
    (no noise, never kept), except the cycle's last step, which always
    samples.
    """
    k = torch.arange(n_steps)
    noisy = torch.ones(n_steps, dtype=torch.bool)
    if schedule == "cyclical":
        length = math.ceil(n_steps / n_cycles)
        # the last step of a cycle always samples, so that short runs (fewer
        # than 1 / (1 - exploration) steps per cycle) still keep draws
        noisy = ((k % length).double() / length >= exploration) | (k % length
                                                                    == length - 1)
    return noisy, noisy & (k >= burn_in)


class SGLDUpdate(torch.optim.Optimizer):
    """SGLD (or pSGLD) as an update rule for skbdl's engine.

    Parameters
    ----------
    params : iterable of torch.Tensor
        The tensors sampled.
    lr : float
        Ignored (the engine passes its Adam rate); the step sizes are
        ``steps``.
    steps : torch.Tensor of shape (n_steps,)
        Step size per datum of each step (``step_sizes``); steps past the
        end reuse the last one.
    noisy : torch.Tensor of bool, shape (n_steps,)
        Whether step ``k`` adds the Langevin noise.
    n_train : int or float
        ``N`` (the sum of the row weights with weighted rows); the noise
        variance is ``temperature * step_k / N``.
    temperature : float, default=1.0
        ``T``; 1 samples the posterior.
    preconditioner : {None, "rmsprop"}, default=None
        None is SGLD; "rmsprop" is pSGLD.
    alpha : float, default=0.99
        RMSprop decay of the squared-gradient average.
    eps : float, default=1e-5
        ``lambda``, the RMSprop floor.
    generator : torch.Generator, optional
        The only source of the noise.
    step_scale : callable, optional
        ``step_scale() -> float`` multiplies every step size (read at each
        step); the regression method passes the current noise variance.
    """

    def __init__(self, params, lr=None, *, steps, noisy, n_train, temperature=1.0,
                 preconditioner=None, alpha=0.99, eps=1e-5, generator=None,
                 step_scale=None):
        super().__init__(params, {})
        self.steps = torch.as_tensor(steps, dtype=torch.float64)
        self.noisy = torch.as_tensor(noisy, dtype=torch.bool)
        self.n_train = float(n_train)
        self.temperature = float(temperature)
        self.preconditioner = preconditioner
        self.alpha, self.eps = float(alpha), float(eps)
        self.generator = generator
        self.step_scale = step_scale
        self.current_step = 0

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    @torch.no_grad()
    def step(self, closure=None):
        """One SGLD step at the gradient the closure computes.

        Parameters
        ----------
        closure : callable
            Zeroes the gradients, runs forward and backward and returns the
            loss ``U_hat / N``.

        Returns
        -------
        loss : torch.Tensor
            The closure's loss (before the step).
        """
        if closure is None:
            raise ValueError("SGLDUpdate.step needs a closure (forward + backward).")
        with torch.enable_grad():
            loss = closure()
        if not torch.isfinite(loss):
            raise SGLDDivergedError(
                f"non-finite energy at step {self.current_step + 1}")
        k = min(self.current_step, len(self.steps) - 1)
        h = float(self.steps[k])
        if self.step_scale is not None:
            h *= float(self.step_scale())
        noise_var = self.temperature * h / self.n_train if bool(self.noisy[k]) else 0.0
        params = self._params()
        if noise_var:  # one flat draw per step, as the fused rule draws it
            flat_xi = torch.randn(sum(p.numel() for p in params),
                                  generator=self.generator, dtype=params[0].dtype)
            xis = flat_xi.split([p.numel() for p in params])
        for p, xi in zip(params, xis if noise_var else params):
            if p.grad is None:
                continue
            grad = p.grad
            if self.preconditioner == "rmsprop":
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p)
                v = state["square_avg"]
                v.mul_(self.alpha).addcmul_(grad, grad, value=1.0 - self.alpha)
                precond = 1.0 / (self.eps + v.sqrt())
                p.addcmul_(precond, grad, value=-0.5 * h)
                if noise_var:
                    p.add_(xi.view(p.shape).to(p.device) * (noise_var * precond).sqrt())
            else:
                p.add_(grad, alpha=-0.5 * h)
                if noise_var:
                    p.add_(xi.view(p.shape).to(p.device), alpha=math.sqrt(noise_var))
        self.current_step += 1
        return loss


class StackedSGLD:
    """SGLD (or pSGLD) on the fused path: ``S`` chains updated at once.

    The same step as ``SGLDUpdate``, on the flat weights ``(S, P)`` of a
    ``skbdl._nn._fused`` stack: chain ``s`` draws its noise from
    ``generators[s]`` (one flat draw of ``P`` numbers per step, as
    ``SGLDUpdate`` draws it), so a chain's noise does not depend on the
    other chains. Arguments as ``SGLDUpdate``; ``scale_by_noise`` multiplies
    each chain's step by its Gaussian noise variance (``step_scale``).
    """

    def __init__(self, stack, generators, *, steps, noisy, n_train, temperature=1.0,
                 preconditioner=None, alpha=0.99, eps=1e-5, scale_by_noise=False):
        self.stack, self.generators = stack, list(generators)
        self.steps = torch.as_tensor(steps, dtype=torch.float64).tolist()
        self.noisy = torch.as_tensor(noisy, dtype=torch.bool).tolist()
        self.n_train = float(n_train)
        self.temperature = float(temperature)
        self.preconditioner = preconditioner
        self.alpha, self.eps = float(alpha), float(eps)
        self.scale_by_noise = bool(scale_by_noise)
        self.xi = torch.empty_like(stack.flat)
        self.square_avg = torch.zeros_like(stack.flat)
        self.current_step = 0

    def end_epoch(self, losses):
        """Raise ``SGLDDivergedError`` when a chain's epoch energy is not finite."""
        if not np.isfinite(losses).all():
            raise SGLDDivergedError(
                f"non-finite energy in the epoch ending at step {self.current_step}")

    def _noise(self):
        for generator, row in zip(self.generators, self.xi):
            torch.randn(row.shape, generator=generator, out=row)
        return self.xi

    def step(self, closure, noise_var=None):
        """One step of every chain at the gradient ``closure`` leaves."""
        loss = closure()
        k = min(self.current_step, len(self.steps) - 1)
        h = self.steps[k]
        if self.scale_by_noise and noise_var is not None:
            h = h * noise_var  # (S, 1)
        flat, grad = self.stack.flat, self.stack.grad
        temp_over_n = self.temperature / self.n_train
        if self.preconditioner == "rmsprop":
            v = self.square_avg
            v.mul_(self.alpha).addcmul_(grad, grad, value=1.0 - self.alpha)
            precond = 1.0 / (self.eps + v.sqrt())
            flat.addcmul_(precond * h, grad, value=-0.5)
            if self.noisy[k]:
                flat.add_(self._noise() * (precond * (temp_over_n * h)).sqrt())
        elif isinstance(h, float):
            flat.add_(grad, alpha=-0.5 * h)
            if self.noisy[k]:
                flat.add_(self._noise(), alpha=math.sqrt(temp_over_n * h))
        else:
            flat.addcmul_(grad, h, value=-0.5)
            if self.noisy[k]:
                flat.addcmul_(self._noise(), (temp_over_n * h).sqrt())
        self.current_step += 1
        return loss
