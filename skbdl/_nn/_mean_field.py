"""The fused training path's stack for VI: a mean-field Gaussian MLP.

``train_fused`` (``_fused.py``) runs VI through this stack instead of the
plain ``_Stack``: the same closure, batches and noise refit, with the local
reparameterisation's forward and backward passes written out by hand.
"""

import torch

from ._module import ACTIVATIONS


class MeanFieldStack:
    """``S`` mean-field Gaussian MLPs (VI) trained with local reparameterisation.

    The fused counterpart of VI's ``MeanFieldMLP``: ``flat`` ``(S, 2P)``
    holds each network's means ``mu`` and then its ``rho`` (``sigma =
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
        S, first = len(modules), modules[0]
        if S != 1:  # one noise draw per forward, broadcast over the stack
            raise ValueError("MeanFieldStack trains one network at a time.")
        P = first.mu.numel()
        self.P, self.generator = P, generator
        self.flat = torch.cat([torch.stack([m.mu.detach() for m in modules]),
                               torch.stack([m.rho.detach() for m in modules])], 1)
        self.grad = torch.zeros_like(self.flat)
        self.rows, self.grad_rows = list(self.flat.unbind(0)), list(self.grad.unbind(0))
        self.sigma = torch.empty(S, P, dtype=self.flat.dtype, device=self.flat.device)
        self.var = torch.empty_like(self.sigma)
        self.grad_var = torch.zeros_like(self.sigma)
        self.shapes = list(first.shapes)
        self.name = first.activation
        self.activation = ACTIVATIONS[self.name]
        # views are made once: the buffers are updated in place
        self.means = self._views(self.flat[:, :P])
        self.variances = self._views(self.var)
        self.grad_means = self._views(self.grad[:, :P])
        self.grad_vars = self._views(self.grad_var)
        self.widths = [out for out, _ in self.shapes]

    def _views(self, flat):
        views, offset = [], 0
        for out, n_in in self.shapes:
            w = flat[:, offset:offset + out * n_in].view(-1, out, n_in)
            offset += out * n_in
            views.append((w, flat[:, offset:offset + out].view(-1, out, 1)))
            offset += out
        return views

    def forward(self, xt, keep=False, train=False):
        """Latent outputs ``(S, k, n)``; drawn by local reparameterisation
        when ``train``, else the mean network's. A training forward also
        sets ``sigma`` (``softplus(rho)``) for the backward pass and the
        update rule."""
        if train:
            torch.nn.functional.softplus(self.flat[:, self.P:], out=self.sigma)
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
            gv = g * e / (2.0 * sd)  # dL/d(variance of the pre-activation)
            torch.bmm(g, inputs[i].transpose(1, 2), out=grad_mu[i][0])
            torch.bmm(g, ones, out=grad_mu[i][1])
            torch.bmm(gv, squares[i].transpose(1, 2), out=grad_var[i][0])
            torch.bmm(gv, ones, out=grad_var[i][1])
            if i > 0:
                g = torch.bmm(self.means[i][0].transpose(1, 2), g)
                g.addcmul_(torch.bmm(self.variances[i][0].transpose(1, 2), gv),
                           inputs[i], value=2.0)
                if self.name == "relu":
                    g = torch.ops.aten.threshold_backward(g, pre[i - 1], 0)
                else:
                    g = g * self.activation.grad(pre[i - 1], acts[i - 1])
        # d var / d rho = 2 sigma sigmoid(rho)
        dvar = torch.sigmoid(self.flat[:, self.P:]).mul_(self.sigma).mul_(2.0)
        torch.mul(self.grad_var, dvar, out=self.grad[:, self.P:])

    def write_back(self, modules):
        for k, module in enumerate(modules):
            module.mu.data.copy_(self.flat[k, :self.P])
            module.rho.data.copy_(self.flat[k, self.P:])
