"""Stochastic variational GP (Hensman et al., 2013) with whitened inducing
variables, for minibatch training of the deep kernel on large data sets."""


import torch
from torch import nn

from ..utils._math import gaussian_nll
from ._posterior import kuu_cholesky


class WhitenedVariational(nn.Module):
    """q(v) = N(m, Ls Ls^T) over whitened inducing values, u = L v.

    Parameters
    ----------
    Z : Tensor of shape (n_inducing, n_features)
        Initial inducing inputs (learned).
    n_targets : int
        Number of output columns; they share Z, the kernel and Ls.
    """

    def __init__(self, Z, n_targets):
        super().__init__()
        M = Z.shape[0]
        self.Z = nn.Parameter(Z.clone())
        self.m = nn.Parameter(Z.new_zeros(M, n_targets))
        self.ls_offdiag = nn.Parameter(Z.new_zeros(M, M))
        self.ls_logdiag = nn.Parameter(Z.new_zeros(M))

    def Ls(self):
        """Lower Cholesky factor of the whitened covariance S."""
        return torch.tril(self.ls_offdiag, -1) + torch.diag_embed(
            torch.exp(self.ls_logdiag)
        )

    def kl(self):
        """KL(q(v) || N(0, I)), summed over the targets."""
        M, t = self.m.shape
        Ls = self.Ls()
        trace = (Ls * Ls).sum()
        logdet = 2.0 * self.ls_logdiag.sum()
        return 0.5 * (t * (trace - M - logdet) + (self.m * self.m).sum())

    def marginals(self, tk, theta, F):
        """Mean (b, t) and latent variance (b,) of q(f) at features F (no white)."""
        L = kuu_cholesky(tk, theta, self.Z, jitter=1e-6, warn=False)
        A = torch.linalg.solve_triangular(L, tk(theta, self.Z, F), upper=False)
        R = self.Ls().T @ A
        var = tk.diag(theta, F, same=False) - (A * A).sum(0) + (R * R).sum(0)
        return A.T @ self.m, var.clamp_min(0.0), L


def svgp_loss(q, tk, theta, F, Y, alpha, n_total):
    """Negative ELBO per data point on a minibatch (Hensman 2013, eq. 4).

    The Gaussian expected log-likelihood is in closed form; the noise is
    ``alpha`` plus the kernel's white-noise part at F.
    """
    mean, var, _ = q.marginals(tk, theta, F)
    s = (alpha + tk.noise_diag(theta, F))[:, None]
    ell = -gaussian_nll(Y, mean, s) - 0.5 * var[:, None] / s
    elbo = n_total / F.shape[0] * ell.sum() - q.kl()
    return -elbo / n_total
