"""Reference implementations that skbdl's tests compare with.

laplace-torch is a test-only dependency (``requirements-oracles.txt``). It is
applied to a float64 copy of a trained skbdl network, built by
``augmented_network`` from plain ``(W, b)`` arrays: every ``Linear`` is
bias-free and reads its input with a constant 1 appended, so its weight is
``[W | b]``. laplace-torch's Kronecker factors of that weight are then the
factors of the joint weight-and-bias block that skbdl uses (by default
laplace-torch gives the bias its own Kronecker block, a different
approximation); the network computes the same function either way.

The one function here that reads skbdl internals is ``mlp_layers``.
"""

import numpy as np
import torch
from torch import nn


# ------------------------------------------------------ skbdl internals used
def mlp_layers(module):
    """``[(W, b), ...]`` (float64 arrays, head last) and the activation name of
    a skbdl MLP (``est.method_.module_``)."""
    layers = [(w.detach().double().numpy(), b.detach().double().numpy())
              for w, b in module.layers()]
    return layers, module.activation


# ------------------------------------------------------------- the network
class AppendOne(nn.Module):
    """``h -> [h | 1]``."""

    def forward(self, h):
        return torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype)], 1)


_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid,
                "identity": nn.Identity}


def augmented_network(layers, activation):
    """A float64 ``nn.Sequential`` computing the MLP given by ``layers``.

    Parameters
    ----------
    layers : list of (ndarray (out, in), ndarray (out,))
        Weights and biases, head last.
    activation : str
        Hidden activation: "relu", "tanh", "logistic" or "identity".

    Returns
    -------
    net : nn.Sequential
        ``AppendOne, Linear(in + 1, out, bias=False), activation, ...``; the
        weight of each ``Linear`` is ``[W | b]``.
    """
    modules = []
    for i, (W, b) in enumerate(layers):
        linear = nn.Linear(W.shape[1] + 1, W.shape[0], bias=False).double()
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(np.column_stack([W, b])))
        modules += [AppendOne(), linear]
        if i < len(layers) - 1:
            modules.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*modules)


_NP_ACTIVATIONS = {"relu": lambda s: np.maximum(s, 0.0), "tanh": np.tanh,
                   "logistic": lambda s: 1.0 / (1.0 + np.exp(-s)),
                   "identity": lambda s: s}


def hidden_features(layers, activation, X):
    """Output of the last hidden layer, (n, width), by a float64 NumPy forward."""
    h = np.asarray(X, dtype=np.float64)
    for W, b in layers[:-1]:
        h = _NP_ACTIVATIONS[activation](h @ W.T + b)
    return h


def network_jacobian(net, X):
    """Per-row Jacobian of the outputs in all weights, shape (n, k, P).

    The weights are ``vec([W | b])`` of each layer in row-major order (outputs
    outer, inputs inner), layers in order: skbdl's and laplace-torch's layout.
    Computed by autograd in float64.
    """
    X = torch.as_tensor(X, dtype=torch.float64)
    params = dict(net.named_parameters())

    def f(p, x):
        return torch.func.functional_call(net, p, (x[None],))[0]

    jac = torch.func.vmap(torch.func.jacrev(f), in_dims=(None, 0))(params, X)
    return torch.cat([j.flatten(2) for j in jac.values()], 2).detach().numpy()


# ------------------------------------------------------------ laplace-torch
def laplace_torch(net, X, y, likelihood, subset, hessian, prior_precision=1.0,
                  sigma_noise=1.0):
    """laplace-torch's Laplace of ``net`` fitted on all of ``(X, y)`` in one batch.

    Parameters
    ----------
    net : nn.Module
        From ``augmented_network``.
    X : ndarray of shape (n, d)
        Training inputs.
    y : ndarray of shape (n,)
        Class indices or (standardised) regression targets.
    likelihood : {"classification", "regression"}
    subset : {"last_layer", "all"}
    hessian : {"kron", "full", "diag"}
    prior_precision : float or sequence of float (one per layer)
    sigma_noise : float
        Observation noise std (regression).

    Returns
    -------
    la : laplace.baselaplace.BaseLaplace
        Fitted, with laplace-torch's default backend (curvlinops, exact GGN).
    """
    from laplace import Laplace

    X = torch.as_tensor(X, dtype=torch.float64)
    if likelihood == "classification":
        y = torch.as_tensor(y, dtype=torch.long)
    else:
        y = torch.as_tensor(y, dtype=torch.float64)[:, None]
    if not np.isscalar(prior_precision):
        prior_precision = torch.as_tensor(prior_precision, dtype=torch.float64)
    la = Laplace(net, likelihood, subset_of_weights=subset, hessian_structure=hessian,
                 prior_precision=prior_precision, sigma_noise=sigma_noise)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y),
                                         batch_size=len(X))
    la.fit(loader)
    return la


def kron_factors(la):
    """laplace-torch's KFAC factors ``(A, B)`` of each layer, float64 arrays.

    A Kronecker product fixes its factors only up to ``(c B) (x) (A / c)``;
    laplace-torch scales both by ``sqrt(0.5)`` for a Gaussian likelihood.
    They are rescaled here so that ``A``'s bias entry (the mean square of
    the constant input) is 1, which is skbdl's convention: ``A`` the mean
    over rows of ``a a^T``, ``B`` the sum over rows.
    """
    out = []
    for B, A in la.H_facs.kfacs:
        c = float(A[-1, -1])
        out.append(((A / c).numpy(), (B * c).numpy()))
    return out


def glm_predictive(la, X):
    """laplace-torch's linearised latent mean (n, k) and covariance (n, k, k)."""
    mean, cov = la._glm_predictive_distribution(torch.as_tensor(X, dtype=torch.float64))
    return mean.detach().numpy(), cov.detach().numpy()


def kron_eigh(factors):
    """Dense eigen-decomposition ``(eigenvalues, eigenvectors)`` of ``B (x) A``
    of each layer (NumPy ``eigh`` of the explicit Kronecker product)."""
    return [np.linalg.eigh(np.kron(B, A)) for A, B in factors]


# ------------------------------------------------------------- brute force
def grid_argmax(f, axes, refine=None, n_refine=41):
    """Maximise ``f`` by brute force on a grid, then on a finer grid around it.

    Parameters
    ----------
    f : callable
        ``f(*mesh) -> ndarray`` of the mesh's shape (vectorised over
        broadcast arrays, one per axis).
    axes : list of 1-D ndarray
        Grid values of each coordinate; their ends bound the search.
    refine : list of float, optional
        Half-width of the finer grid along each axis (default: two steps of
        the coarse grid).
    n_refine : int
        Points per axis of the finer grid.

    Returns
    -------
    point : tuple of float
        The best grid point.
    value : float
        ``f`` there.
    """
    def best(grid_axes):
        values = f(*np.meshgrid(*grid_axes, indexing="ij"))
        idx = np.unravel_index(int(np.nanargmax(values)), values.shape)
        return tuple(float(a[i]) for a, i in zip(grid_axes, idx)), float(values[idx])

    point, _ = best(axes)
    if refine is None:
        refine = [2 * (a[1] - a[0]) for a in axes]
    fine = [np.linspace(max(a[0], x - h), min(a[-1], x + h), n_refine)
            for a, x, h in zip(axes, point, refine)]
    return best(fine)
