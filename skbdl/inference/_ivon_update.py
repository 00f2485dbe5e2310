"""The IVON update rule (Shen, Daheim et al., 2024, Algorithm 1).

A ``torch.optim.Optimizer`` whose state is the posterior
``q(w) = N(m, diag(1 / (ess (h + delta))))``: the mean ``m`` (the
parameters themselves), the Hessian estimate ``h`` and the gradient
momentum. Unlike the reference ``ivon-opt`` it samples the weights inside
``step``, from the ``generator`` it is given (never the global RNG), so it
runs inside skbdl's closure-based training engine unchanged::

    for each of mc_samples:   w = m + eps / sqrt(ess (h + delta)),  eps ~ N(0, I)
                              g = grad of the mean batch NLL at w   (closure)
    gbar = mean g;   hhat = mean(eps' g) * ess (h + delta)          ("price")
    momentum <- beta1 momentum + (1 - beta1) gbar
    h <- beta2 h + (1 - beta2) hhat + (1 - beta2)^2 / 2 (h - hhat)^2 / (h + delta)
    m <- m - lr' clip((momentum / (1 - beta1^t) + delta m) / (h + delta), r)

with ``eps' = eps / sqrt(ess (h + delta))`` the weight perturbation and
``lr' = lr (hess_init + delta)`` when ``rescale_lr``. The arithmetic follows
``ivon-opt`` 0.1.3 operation by operation (Welford means over the samples,
the same order of the updates), so both give the same iterates on the same
draws and gradients (tests/inference/test_ivon.py).
"""

import math

import numpy as np
import torch


class IVONDivergedError(FloatingPointError):
    """IVON produced a non-finite loss, gradient or Hessian estimate."""


def _welford(avg, new, count):
    return new if avg is None else avg + (new - avg) / count


class IVONUpdate(torch.optim.Optimizer):
    """IVON as an update rule for skbdl's engine (see the module docstring).

    ``weight_decay`` is ``delta``, the prior precision per datum; the
    closure must return the mean batch negative log-likelihood without a
    prior term.
    """

    def __init__(self, params, lr, *, ess, hess_init=1.0, beta1=0.9, beta2=0.99999,
                 weight_decay=0.0, mc_samples=1, hess_approx="price",
                 clip_radius=math.inf, debias=True, rescale_lr=True, generator=None):
        if hess_approx not in ("price", "gradsq"):
            raise ValueError(
                f"hess_approx must be 'price' or 'gradsq'; got {hess_approx!r}."
            )
        defaults = dict(lr=lr, ess=ess, hess_init=hess_init, beta1=beta1,
                        beta2=beta2, weight_decay=weight_decay,
                        clip_radius=clip_radius)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("IVONUpdate takes a single parameter group.")
        self.mc_samples = int(mc_samples)
        self.hess_approx = hess_approx
        self.debias, self.rescale_lr = bool(debias), bool(rescale_lr)
        self.generator = generator
        group = self.param_groups[0]
        first = group["params"][0]
        numel = sum(p.numel() for p in group["params"])
        self.momentum = torch.zeros(numel, dtype=first.dtype, device=first.device)
        self.hess = torch.full((numel,), float(hess_init), dtype=first.dtype,
                               device=first.device)
        self.current_step = 0

    # -------------------------------------------------------------- helpers
    def _params(self):
        return self.param_groups[0]["params"]

    def _flat(self, tensors):
        return torch.cat([t.reshape(-1) for t in tensors])

    def _assign(self, flat):
        offset = 0
        for p in self._params():
            p.copy_(flat[offset:offset + p.numel()].view(p.shape))
            offset += p.numel()

    def _grad(self):
        """The flat gradient the closure left (zeros where it left none)."""
        return self._flat(torch.zeros_like(p) if p.grad is None else p.grad
                          for p in self._params())

    def _noise(self):
        """A weight perturbation ``eps / sqrt(ess (h + delta))``."""
        g = self.param_groups[0]
        eps = torch.randn(self.hess.shape, generator=self.generator,
                          dtype=self.hess.dtype, device=self.hess.device)
        return eps / (g["ess"] * (self.hess + g["weight_decay"])).sqrt()

    def posterior_std(self):
        """Standard deviation of every weight under ``q``, flat tensor."""
        g = self.param_groups[0]
        return 1.0 / (g["ess"] * (self.hess + g["weight_decay"])).sqrt()

    # ----------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure=None):
        """Sample ``mc_samples`` weights, call ``closure`` at each, update.

        Parameters
        ----------
        closure : callable
            Zeroes the gradients, runs forward and backward at the current
            parameters and returns the loss.

        Returns
        -------
        loss : torch.Tensor
            The mean of the closure's losses.
        """
        if closure is None:
            raise ValueError("IVONUpdate.step needs a closure (forward + backward).")
        mean = self._flat(p.data for p in self._params()).clone()
        avg_grad = avg_nxg = avg_gsq = None
        losses = []
        for count in range(1, self.mc_samples + 1):
            noise = self._noise()
            self._assign(mean + noise)
            with torch.enable_grad():
                losses.append(closure())
            grad = self._grad()
            self._assign(mean)
            avg_grad = _welford(avg_grad, grad, count)
            if self.hess_approx == "price":
                avg_nxg = _welford(avg_nxg, noise * grad, count)
            else:
                avg_gsq = _welford(avg_gsq, grad.square(), count)
        loss = sum(losses) / self.mc_samples
        if not (torch.isfinite(loss) and torch.isfinite(avg_grad).all()):
            raise IVONDivergedError(f"non-finite loss or gradient at step "
                                    f"{self.current_step + 1}")
        self._update(mean, avg_grad, avg_nxg, avg_gsq)
        return loss

    def _update(self, mean, avg_grad, avg_nxg, avg_gsq):
        g = self.param_groups[0]
        self.current_step += 1
        b1, b2, wd = g["beta1"], g["beta2"], g["weight_decay"]
        self.momentum = b1 * self.momentum + (1.0 - b1) * avg_grad
        if self.hess_approx == "price":
            hhat = avg_nxg * (self.hess + wd) * g["ess"]
        else:
            hhat = avg_gsq * g["ess"]
        h = self.hess
        self.hess = (b2 * h + (1.0 - b2) * hhat
                     + (0.5 * (1 - b2) ** 2) * (h - hhat).square() / (h + wd))
        if not torch.isfinite(self.hess).all() or (self.hess + wd <= 0).any():
            raise IVONDivergedError(
                f"non-finite or non-positive Hessian estimate at step "
                f"{self.current_step}"
            )
        lr = g["lr"] * (g["hess_init"] + wd) if self.rescale_lr else g["lr"]
        debias = 1.0 - math.pow(b1, float(self.current_step)) if self.debias else 1.0
        direction = (self.momentum / debias + wd * mean) / (self.hess + wd)
        r = g["clip_radius"]
        self._assign(mean - lr * torch.clip(direction, min=-r, max=r))


class StackedIVON:
    """IVON on the fused path (``skbdl._nn._fused``), its samples stacked.

    The update of ``IVONUpdate`` on a stack of ``mc_samples`` rows: every
    row holds the same mean, each is perturbed by its own draw (drawn from
    ``generator`` in the order ``IVONUpdate`` draws them), one batched
    forward and backward gives the gradient at every draw (the closure
    leaves them in ``stack.grad``), and their means update the shared
    posterior, so ``mc_samples`` draws cost about what an ensemble of that
    many networks costs, not ``mc_samples`` sequential steps. The update is
    written with in-place ops on preallocated buffers (a step on a small MLP
    costs its number of ops), and the loss and the Hessian estimate are
    checked once per epoch (``end_epoch``) instead of after every step. Arguments as
    ``IVONUpdate``; the iterates agree with it to float rounding
    (tests/_nn/test_fused.py).
    """

    def __init__(self, stack, *, lr, ess, hess_init=1.0, beta1=0.9, beta2=0.99999,
                 weight_decay=0.0, mc_samples=1, hess_approx="price",
                 clip_radius=math.inf, debias=True, rescale_lr=True, generator=None):
        if stack.flat.shape[0] != mc_samples:
            raise ValueError("StackedIVON needs one stacked row per MC sample.")
        if hess_approx not in ("price", "gradsq"):
            raise ValueError(
                f"hess_approx must be 'price' or 'gradsq'; got {hess_approx!r}."
            )
        self.flat, self.grad = stack.flat, stack.grad
        self.lr, self.ess, self.hess_init = float(lr), float(ess), float(hess_init)
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.wd = float(weight_decay)
        self.mc_samples, self.hess_approx = int(mc_samples), hess_approx
        self.clip_radius, self.debias = float(clip_radius), bool(debias)
        self.rescale_lr, self.generator = bool(rescale_lr), generator
        row = self.flat[0]
        buf = [torch.zeros_like(row) for _ in range(4)]
        self.momentum, self.avg_grad, self.avg_h, self.tmp = buf
        self.mean = row.clone()  # the posterior mean; the rows get perturbed
        self.noise = torch.zeros_like(self.flat)
        self.hess = torch.full_like(row, self.hess_init)
        # prec = ess (h + delta), kept current by _update: the posterior
        # precision, from which hhat (price), the h update and the mean
        # step all scale, and std = prec^-1/2
        self.prec = torch.full_like(row, self.ess * (self.hess_init + self.wd))
        self.std = self.prec.rsqrt()
        # Views and constants made once: indexing a row, iterating the
        # stack, and a Python float operand (wrapped into a float64 tensor
        # and converted, ~1.3 us) each cost about what a 7k-element op does.
        self._noise_rows = list(self.noise)
        self._grad0, self._noise0 = self.grad[0], self.noise[0]

        def const(value):
            return torch.tensor(value, dtype=row.dtype, device=row.device)

        self._ess, self._wd = const(self.ess), const(self.wd)
        self._one_minus_b1 = const(1.0 - self.beta1)
        self._one_minus_b2 = const(1.0 - self.beta2)
        self.current_step = 0

    def posterior_std(self):
        """Standard deviation of every weight under ``q``, flat tensor."""
        return 1.0 / (self.ess * (self.hess + self.wd)).sqrt()

    def step(self, closure, noise_var=None):
        """Perturb every row by its own draw, call ``closure`` once, update.

        The stack's rows hold the perturbed weights until ``end_epoch``
        writes the mean back (the noise refit and ``write_back`` read it);
        ``self.mean`` is the posterior mean throughout.
        """
        flat, grad, noise = self.flat, self.grad, self.noise
        for row in self._noise_rows:
            torch.randn(row.shape, generator=self.generator, out=row)
        noise.mul_(self.std)
        torch.add(self.mean, noise, out=flat)
        loss = closure()
        if self.mc_samples == 1:
            avg_grad = self._grad0
            torch.mul(self._noise0 if self.hess_approx == "price" else avg_grad,
                      avg_grad, out=self.avg_h)
        else:
            avg_grad = torch.mean(grad, 0, out=self.avg_grad)
            factor = noise if self.hess_approx == "price" else grad
            torch.mean(factor * grad, 0, out=self.avg_h)
        self._update(avg_grad)
        return loss

    def _update(self, avg_grad):
        # IVONUpdate's update, with h + delta carried as prec / ess
        self.current_step += 1
        b2, wd, h, tmp, prec = self.beta2, self.wd, self.hess, self.tmp, self.prec
        self.momentum.lerp_(avg_grad, self._one_minus_b1)
        hhat = self.avg_h  # becomes hhat in place: ess (h + delta) g eps sigma
        hhat.mul_(prec if self.hess_approx == "price" else self._ess)
        torch.sub(h, hhat, out=tmp)
        tmp.mul_(tmp)
        h.lerp_(hhat, self._one_minus_b2)  # b2 h + (1 - b2) hhat
        # + (1 - b2)^2 (h - hhat)^2 / (2 (h + delta)), with h + delta = prec / ess
        h.addcdiv_(tmp, prec, value=0.5 * (1 - b2) ** 2 * self.ess)
        lr = self.lr * (self.hess_init + wd) if self.rescale_lr else self.lr
        debias = 1.0
        if self.debias:
            debias -= math.pow(self.beta1, float(self.current_step))
        torch.add(h, self._wd, out=prec).mul_(self._ess)  # the new ess (h + delta)
        if math.isfinite(self.clip_radius):
            direction = torch.add(self.momentum, self.mean, alpha=wd * debias)
            direction.div_(prec).mul_(self._ess).div_(debias)
            direction.clamp_(-self.clip_radius, self.clip_radius)
            self.mean.add_(direction, alpha=-lr)
        else:  # mean -= lr (m / debias + delta mean) / (h + delta), in two
            # in-place steps that each read the old mean elementwise
            if wd:
                self.mean.addcdiv_(self.mean, prec, value=-lr * wd * self.ess)
            self.mean.addcdiv_(self.momentum, prec, value=-lr * self.ess / debias)
        torch.rsqrt(prec, out=self.std)

    def end_epoch(self, losses):
        """Write the mean back to every row; raise ``IVONDivergedError`` on a
        non-finite epoch loss or a non-finite or non-positive ``h``."""
        self.flat.copy_(self.mean.expand_as(self.flat))
        if not np.isfinite(losses).all():
            raise IVONDivergedError(
                f"non-finite loss in the epoch ending at step {self.current_step}")
        if not torch.isfinite(self.hess).all() or (self.hess + self.wd <= 0).any():
            raise IVONDivergedError(
                f"non-finite or non-positive Hessian estimate by step "
                f"{self.current_step}"
            )
