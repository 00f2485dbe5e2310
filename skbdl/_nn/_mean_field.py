"""The fused training path's stack for VI: a mean-field Gaussian MLP.

``train_fused`` (``_fused.py``) runs VI through this stack instead of the
plain ``_Stack``: the same closure, batches and noise refit, with the local
reparameterisation's forward and backward passes written out by hand.
"""

import torch

from ._fused import layer_views
from ._module import ACTIVATIONS


class MeanFieldStack:
    """A mean-field Gaussian MLP (VI) trained with local reparameterisation.

    The fused counterpart of VI's ``MeanFieldMLP`` (one network: the noise
    of a forward is drawn once, as ``MeanFieldMLP`` draws it, so stacked
    networks would share it). ``flat`` ``(1, 2P)`` holds the means ``mu``
    and then the ``rho`` (``sigma =
    softplus(rho)``), in ``MeanFieldMLP``'s flat order, and ``grad`` their
    gradients. In training the pre-activation of a layer with inputs ``h``
    is drawn as ``h mu_W^T + mu_b + sqrt(h^2 sigma_W^2^T + sigma_b^2) eps``
    (Kingma, Salimans and Welling, 2015), with ``eps`` drawn from
    ``generator`` as ``MeanFieldMLP`` draws it (one ``(n, sum of widths)``
    tensor per forward); the backward pass writes the gradients of both
    halves. Outside training the means alone (the mean network) are used.
    The prior's KL term is not here: the update rule adds it.
    """

    dropout = 0.0

    def __init__(self, modules, generator=None):
        if len(modules) != 1:  # one noise draw per forward
            raise ValueError("MeanFieldStack trains one network at a time.")
        (first,) = modules
        P = first.mu.numel()
        self.P, self.generator = P, generator
        self.flat = torch.cat([first.mu.detach(), first.rho.detach()])[None].clone()
        self.grad = torch.zeros_like(self.flat)
        self.rows, self.grad_rows = [self.flat[0]], [self.grad[0]]
        # the halves as views made once (a slice per step costs about what a
        # small op does): mu, rho and their gradients
        self.mu, self.rho = self.flat[:, :P], self.flat[:, P:]
        self.grad_mu, self.grad_rho = self.grad[:, :P], self.grad[:, P:]
        self.sigma = torch.empty_like(self.mu)
        self.var = torch.empty_like(self.sigma)
        self.grad_var = torch.zeros_like(self.sigma)
        self.dsigma = torch.empty_like(self.sigma)  # sigmoid(rho) = d sigma / d rho
        self.shapes = list(first.shapes)
        self.name = first.activation
        self.activation = ACTIVATIONS[self.name]
        # views are made once: the buffers are updated in place
        self.means = layer_views(self.mu, self.shapes)
        self.variances = layer_views(self.var, self.shapes)
        self.grad_means = layer_views(self.grad_mu, self.shapes)
        self.grad_vars = layer_views(self.grad_var, self.shapes)
        self._means_t = [w.transpose(1, 2) for w, _ in self.means]
        self._variances_t = [w.transpose(1, 2) for w, _ in self.variances]
        self.widths = [out for out, _ in self.shapes]

    def forward(self, xt, keep=False, train=False):
        """Latent outputs ``(S, k, n)``; drawn by local reparameterisation
        when ``train``, else the mean network's. A training forward also
        sets ``sigma`` (``softplus(rho)``) for the backward pass and the
        update rule."""
        if train:
            torch.nn.functional.softplus(self.rho, out=self.sigma)
            torch.square(self.sigma, out=self.var)
            eps = torch.randn((xt.shape[2], sum(self.widths)), generator=self.generator,
                              dtype=xt.dtype, device=xt.device).split(self.widths, -1)
        inputs, squares, pre, acts, noise = [xt], [], [], [], []
        h, last = xt, len(self.shapes) - 1
        for i, (w, b) in enumerate(self.means):
            s = torch.baddbmm(b, w, h)
            if train:
                vw, vb = self.variances[i]
                h2 = h * h
                squares.append(h2)
                sd = torch.baddbmm(vb, vw, h2).sqrt_()
                e = eps[i].t()
                s = torch.addcmul(s, sd, e)
                noise.append((sd, e))
            if i < last:
                pre.append(s)
                h = self.activation.fn(s)
                acts.append(h)
                inputs.append(h)
            else:
                h = s
        return (h, (inputs, squares, pre, acts, noise)) if keep else h

    def backward(self, grad_f, saved, ones, coef=0.0):
        """Fill ``grad`` (both halves) from ``grad_f`` ``(S, k, n)``."""
        inputs, squares, pre, acts, noise = saved
        grad_mu, grad_var = self.grad_means, self.grad_vars
        g = grad_f
        for i in range(len(self.shapes) - 1, -1, -1):
            sd, e = noise[i]
            # twice dL/d(variance of the pre-activation), so grad_var holds
            # 2 dL/d(sigma^2) = dL/d(sigma) / sigma
            gv = g * e / sd
            torch.bmm(g, inputs[i].transpose(1, 2), out=grad_mu[i][0])
            torch.bmm(g, ones, out=grad_mu[i][1])
            torch.bmm(gv, squares[i].transpose(1, 2), out=grad_var[i][0])
            torch.bmm(gv, ones, out=grad_var[i][1])
            if i > 0:
                g = torch.bmm(self._means_t[i], g)
                g.addcmul_(torch.bmm(self._variances_t[i], gv), inputs[i])
                if self.name == "relu":
                    g = torch.ops.aten.threshold_backward(g, pre[i - 1], 0)
                else:
                    g = g * self.activation.grad(pre[i - 1], acts[i - 1])
        # dL/d rho = dL/d sigma sigmoid(rho); dsigma is kept for the KL's
        torch.sigmoid(self.rho, out=self.dsigma)
        torch.mul(self.grad_var, self.sigma, out=self.grad_rho).mul_(self.dsigma)

    def write_back(self, modules):
        (module,) = modules
        module.mu.data.copy_(self.mu[0])
        module.rho.data.copy_(self.rho[0])
