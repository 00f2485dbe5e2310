"""GP log marginal likelihoods and predictive posteriors (exact and sparse).

Everything here works on torch float64 tensors in the (normalised) target
units; the estimators convert from and to numpy and undo normalisation.
``Y`` is always 2-D, shape (n, n_targets); ``noise`` is a vector of length n
(``alpha`` plus the white-noise part of the kernel for the sparse bound).
"""

import math

import torch

from ._linalg import cholesky, cholesky_inverse

_CHUNK = 4096  # rows of test inputs per block (bounded memory)


class _GaussianLogLik(torch.autograd.Function):
    """log N(Y | 0, Kf + diag(s)) summed over the columns of Y, with the
    closed-form gradient dL/dK = (a a^T - t K^-1) / 2, a = K^-1 Y (R&W eq. 5.9).

    One Cholesky plus one ``cholesky_inverse`` per gradient, instead of
    autograd through the Cholesky factorisation (about 3x faster here); no
    n x n x p tensor is formed. The noise diagonal ``s`` is added in place,
    so neither ``k(X)`` with its white-noise identity nor ``diag_embed(alpha)``
    is materialised. Returns -inf when K is not positive definite.
    """

    @staticmethod
    def forward(ctx, Kf, s, Y):
        K = Kf.clone()
        K.diagonal().add_(s)
        L, info = torch.linalg.cholesky_ex(K)  # Alg. 2.1 line 2
        del K
        if int(info) != 0:
            ctx.failed = True
            return Kf.new_tensor(-math.inf)
        ctx.failed = False
        a = torch.cholesky_solve(Y, L)  # line 3
        n, t = Y.shape
        ctx.save_for_backward(L, a)
        return (
            -0.5 * (Y * a).sum()  # line 8, data fit
            - t * torch.log(torch.diagonal(L)).sum()  # line 8, complexity
            - 0.5 * n * t * math.log(2.0 * math.pi)
        )

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.failed:
            return None, None, None
        L, a = ctx.saved_tensors
        W = cholesky_inverse(L)  # R&W eq. 5.9, in place: (a a^T - t K^-1) / 2
        W.mul_(-0.5 * a.shape[1] * grad_out)
        W.addmm_(a, a.T, alpha=0.5 * float(grad_out))
        return W, W.diagonal().clone(), None


def exact_lml(tk, theta, X, Y, alpha):
    """log p(Y | X, theta) for K = k(X) + alpha I (-inf if K is not PD)."""
    s = alpha + tk.noise_diag(theta, X)
    return _GaussianLogLik.apply(tk(theta, X, X), s, Y)


class ExactPosterior:
    """p(f* | y) of the exact GP (R&W Alg. 2.1), built with jitter retries."""

    def __init__(self, tk, theta, X, Y, alpha, jitter=True):
        self.tk, self.theta, self.X = tk, theta, X
        K = tk(theta, X) + torch.diag_embed(alpha)
        self.L = cholesky(K, "kernel matrix K(X, X) + alpha", jitter=jitter)  # 2
        self.alpha = torch.cholesky_solve(Y, self.L)  # line 3

    @classmethod
    def from_state(cls, tk, theta, X, L, alpha):
        """Rebuild from a stored Cholesky factor and weights."""
        self = cls.__new__(cls)
        self.tk, self.theta, self.X, self.L, self.alpha = tk, theta, X, L, alpha
        return self

    def _weights(self, Xs):
        return self.tk(self.theta, Xs, self.X)

    def mean_var(self, Xs, return_var=True):
        """Mean (n*, t) and latent-plus-white variance (n*,) in chunks."""
        means, variances = [], []
        for start in range(0, Xs.shape[0], _CHUNK):
            xs = Xs[start : start + _CHUNK]
            Ks = self._weights(xs)
            means.append(Ks @ self.alpha)  # line 4
            if return_var:
                V = torch.linalg.solve_triangular(self.L, Ks.T, upper=False)  # 5
                kss = self.tk.diag(self.theta, xs)
                variances.append(kss - (V * V).sum(0))  # line 6
        mean = torch.cat(means)
        return mean, (torch.cat(variances) if return_var else None)

    def mean_cov(self, Xs):
        """Mean (n*, t) and joint covariance (n*, n*)."""
        Ks = self._weights(Xs)
        V = torch.linalg.solve_triangular(self.L, Ks.T, upper=False)
        return Ks @ self.alpha, self.tk(self.theta, Xs) - V.T @ V


def kuu_cholesky(tk, theta, Z, jitter=1e-10, warn=True):
    """Cholesky of k(Z, Z) (no white noise) plus a small relative jitter."""
    Kuu = tk(theta, Z, Z)
    scale = torch.diagonal(Kuu).mean().detach()
    Kuu = Kuu + jitter * scale * torch.eye(Z.shape[0], dtype=Z.dtype, device=Z.device)
    return cholesky(Kuu, "inducing kernel matrix K(Z, Z)", "n_inducing", warn)


def sgpr_terms(tk, theta, X, Y, Z, alpha, warn=True):
    """Quantities shared by the SGPR bound and its posterior (Titsias 2009).

    With heteroscedastic Gaussian noise s = alpha + white(X):
    A = L^-1 K_uf S^-1/2, B = I + A A^T, c = L_B^-1 A S^-1/2 y.
    """
    s = alpha + tk.noise_diag(theta, X)
    L = kuu_cholesky(tk, theta, Z, warn=warn)
    Kuf = tk(theta, Z, X)
    A = torch.linalg.solve_triangular(L, Kuf, upper=False) / torch.sqrt(s)
    B = A @ A.T + torch.eye(Z.shape[0], dtype=Z.dtype, device=Z.device)
    LB = cholesky(B, "SGPR matrix B = I + A A^T", "alpha", warn)
    c = torch.linalg.solve_triangular(LB, A @ (Y / torch.sqrt(s)[:, None]), upper=False)
    return s, L, A, LB, c


def sgpr_lml(tk, theta, X, Y, Z, alpha, warn=False):
    """Titsias (2009) collapsed bound: log N(y | 0, Q + S) - tr(S^-1 (K - Q))/2."""
    s, L, A, LB, c = sgpr_terms(tk, theta, X, Y, Z, alpha, warn)
    n, t = Y.shape
    kdiag = tk.diag(theta, X, same=False)
    logdet = torch.log(s).sum() + 2.0 * torch.log(torch.diagonal(LB)).sum()
    fit = (Y * Y / s[:, None]).sum() - (c * c).sum()
    trace = (kdiag / s).sum() - (A * A).sum()
    return -0.5 * (t * (n * math.log(2.0 * math.pi) + logdet) + fit + t * trace)


def sgpr_stats(tk, theta, X, Y, Z, alpha, warn=True, chunk=_CHUNK):
    """The SGPR bound and posterior factors (L, LB, c) of ``sgpr_terms``,
    accumulated over row chunks without autograd: B = I + sum_c A_c A_c^T.

    O(n m^2) time and O(chunk m + m^2) memory, so the posterior can condition
    on every training row (n = 10^5 and more) while the hyper-parameters were
    optimised on a subset.
    """
    n, t = Y.shape
    L = kuu_cholesky(tk, theta, Z, warn=warn)
    B = torch.eye(Z.shape[0], dtype=Z.dtype, device=Z.device)
    b = Z.new_zeros(Z.shape[0], t)
    logdet_s = fit = trace = 0.0
    for start in range(0, n, chunk):
        x, y = X[start : start + chunk], Y[start : start + chunk]
        s = alpha[start : start + chunk] + tk.noise_diag(theta, x)
        A = torch.linalg.solve_triangular(L, tk(theta, Z, x), upper=False) / torch.sqrt(
            s
        )
        ys = y / torch.sqrt(s)[:, None]
        B.addmm_(A, A.T)
        b.addmm_(A, ys)
        logdet_s += float(torch.log(s).sum())
        fit += float((ys * ys).sum())
        trace += float((tk.diag(theta, x, same=False) / s).sum() - (A * A).sum())
    LB = cholesky(B, "SGPR matrix B = I + A A^T", "alpha", warn)
    c = torch.linalg.solve_triangular(LB, b, upper=False)
    logdet = logdet_s + 2.0 * float(torch.log(torch.diagonal(LB)).sum())
    fit -= float((c * c).sum())
    bound = -0.5 * (t * (n * math.log(2.0 * math.pi) + logdet) + fit + t * trace)
    return L, LB, c, bound


class SparsePosterior:
    """q(f*) from inducing points Z with whitened q(v) = N(m, R^-1 R^-T) (SGPR)
    or q(v) = N(m, Ls Ls^T) (SVGP); u = L v with L L^T = k(Z, Z).
    """

    def __init__(self, tk, theta, Z, L, m, LB=None, Ls=None):
        self.tk, self.theta, self.Z, self.L, self.m = tk, theta, Z, L, m
        self.LB, self.Ls = LB, Ls

    @classmethod
    def from_sgpr(cls, tk, theta, X, Y, Z, alpha):
        """The SGPR posterior; its ``bound`` attribute is the bound on all rows."""
        L, LB, c, bound = sgpr_stats(tk, theta, X, Y, Z, alpha)
        m = torch.linalg.solve_triangular(LB.T, c, upper=True)  # B^-1 A S^-1/2 y
        self = cls(tk, theta, Z, L, m, LB=LB)
        self.bound = bound
        return self

    def _project(self, xs):
        A = torch.linalg.solve_triangular(
            self.L, self.tk(self.theta, self.Z, xs), upper=False
        )
        if self.LB is not None:
            R = torch.linalg.solve_triangular(self.LB, A, upper=False)
        else:
            R = self.Ls.T @ A
        return A, R

    def mean_var(self, Xs, return_var=True):
        means, variances = [], []
        for start in range(0, Xs.shape[0], _CHUNK):
            xs = Xs[start : start + _CHUNK]
            A, R = self._project(xs)
            means.append(A.T @ self.m)
            if return_var:
                kss = self.tk.diag(self.theta, xs)
                variances.append(kss - (A * A).sum(0) + (R * R).sum(0))
        mean = torch.cat(means)
        return mean, (torch.cat(variances) if return_var else None)

    def mean_cov(self, Xs):
        A, R = self._project(Xs)
        return A.T @ self.m, self.tk(self.theta, Xs) - A.T @ A + R.T @ R
