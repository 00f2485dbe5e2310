"""Generalised Gauss-Newton curvature of an MLP and Gaussian posteriors over
its linear layers with a full, Kronecker-factored (KFAC) or diagonal
precision.

Notation. Layer ``l`` maps its input ``a`` (augmented with a constant 1, so
the bias is the last column of ``[W | b]``) to the pre-activation ``s``. Its
parameters are ``vec([W | b])`` in row-major order (outputs outer, inputs
inner). The likelihood Hessian in the latent output of row ``i`` is factored
as ``Lambda_i = L_i L_i^T`` (the likelihood's ``hessian_sqrt``); ``g_i = L_i^T ds/...``,
the output-Jacobian columns back-propagated to ``s`` (``backprop``), so that
the GGN block of layer ``l`` is ``sum_i sum_m (g_im g_im^T) (x) (a_i a_i^T)``.
KFAC replaces it by ``B (x) A`` with ``B = sum_i sum_m g_im g_im^T`` and
``A = mean_i a_i a_i^T`` (Martens and Grosse, 2015): one pass over the data,
no per-row Jacobian of the whole network.

All linear algebra runs in float64.
"""

import torch

from .._nn import activation

_DTYPE = torch.float64


def _augment(a):
    return torch.cat([a, torch.ones(len(a), 1, dtype=a.dtype, device=a.device)], 1)


def layer_params(module, dtype=_DTYPE):
    """``[W | b]`` of each linear layer (head last), detached."""
    return [
        torch.cat([w, b[:, None]], 1).detach().to(dtype) for w, b in module.layers()
    ]


def forward_cache(module, X, first, dtype=_DTYPE):
    """Augmented inputs of layers ``first..`` and activation derivatives.

    Returns ``(inputs, grads, out)``: ``inputs[l]`` of shape (n, in_l + 1) for
    each layer from ``first``, ``grads[l]`` of shape (n, out_l) for each
    hidden layer from ``first`` and ``out`` the head output (n, k_head).
    """
    act = activation(module.activation)
    h = X.to(dtype)
    inputs, grads = [], []
    params = layer_params(module, dtype)
    for i, wb in enumerate(params):
        if i >= first:
            inputs.append(_augment(h))
        s = h @ wb[:, :-1].T + wb[:, -1]
        if i == len(params) - 1:
            return inputs, grads, s
        h = act.fn(s)
        if i >= first:
            grads.append(act.grad(s, h))


def backprop(module, grads, L):
    """Back-propagate the columns of ``L`` (n, k_head, m) to every layer.

    Returns a list (same layers as ``grads`` plus the head) of tensors of
    shape (n, m, out_l): ``g[l][i, j]`` is ``d(L_i[:, j]^T f_i) / d s_l``.
    """
    params = layer_params(module, L.dtype)
    g = L.transpose(1, 2)
    out = [g]
    for depth, d_act in enumerate(reversed(grads)):
        weight = params[len(params) - 1 - depth][:, :-1]
        g = (g @ weight) * d_act[:, None, :]
        out.insert(0, g)
    return out


def ggn_factors(module, X, likelihood, first):
    """Per-layer ``(inputs, g)`` for layers ``first..``; see the module doc."""
    inputs, grads, f = forward_cache(module, X, first)
    g = backprop(module, grads, likelihood.hessian_sqrt(f))
    return inputs, g


def _jacobian_rows(inputs, g):
    """Rows ``vec(g_im (x) a_i)`` over all layers: shape (n * m, P)."""
    n, m = g[0].shape[:2]
    return torch.cat(
        [
            torch.einsum("nmo,nj->nmoj", gl, a).reshape(n * m, -1)
            for a, gl in zip(inputs, g)
        ],
        1,
    )


class Curvature:
    """GGN of the chosen layers accumulated over row chunks.

    Parameters
    ----------
    structure : {"full", "kron", "diag"}
    shapes : list of (out, in + 1)
        Shapes of ``[W | b]`` of each layer in the posterior.
    """

    def __init__(self, structure, shapes):
        self.structure, self.shapes = structure, shapes
        self.n_rows = 0
        sizes = [o * i for o, i in shapes]
        if structure == "full":
            self.H = torch.zeros(sum(sizes), sum(sizes), dtype=_DTYPE)
        elif structure == "kron":
            self.A = [torch.zeros(i, i, dtype=_DTYPE) for _, i in shapes]
            self.B = [torch.zeros(o, o, dtype=_DTYPE) for o, _ in shapes]
        else:
            self.h = [torch.zeros(o, i, dtype=_DTYPE) for o, i in shapes]

    def update(self, inputs, g, weights=None):
        """Add the contribution of one chunk of rows.

        With row ``weights`` (n,) the caller has scaled ``g`` by their square
        root; here they weight KFAC's ``A`` and count as rows.
        """
        if weights is not None:
            self.n_rows += float(weights.sum())
        else:
            self.n_rows += len(inputs[0])
        if self.structure == "full":
            if len(inputs) == 1:  # last layer: sum_i Lambda_i (x) a_i a_i^T
                lam = g[0].transpose(1, 2) @ g[0]
                a = inputs[0]
                k, d = lam.shape[1], a.shape[1]
                H = self.H.view(k, d, k, d)
                for c in range(k):  # one GEMM per block of the symmetric (c, c') pairs
                    for c2 in range(c, k):
                        block = a.T @ (lam[:, c, c2, None] * a)
                        H[c, :, c2] += block
                        if c2 != c:
                            H[c2, :, c] += block
            else:
                rows = _jacobian_rows(inputs, g)
                self.H += rows.T @ rows
        elif self.structure == "kron":
            for i, (a, gl) in enumerate(zip(inputs, g)):
                self.A[i] += (a if weights is None else a * weights[:, None]).T @ a
                flat = gl.reshape(-1, gl.shape[-1])  # one GEMM, not a slow einsum
                self.B[i] += flat.T @ flat
        else:
            for i, (a, gl) in enumerate(zip(inputs, g)):
                self.h[i] += torch.einsum("nmo,nj->oj", gl * gl, a * a)

    def finalize(self):
        """KFAC convention: ``A`` is the mean, ``B`` the sum over rows."""
        if self.structure == "kron":
            self.A = [A / max(self.n_rows, 1) for A in self.A]
        return self
