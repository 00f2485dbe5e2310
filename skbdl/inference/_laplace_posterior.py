"""Gaussian posteriors ``N(theta_MAP, (s H + diag(delta))^-1)`` over the
linear layers of an MLP, for a full, Kronecker-factored or diagonal GGN ``H``
(see ``_curvature``). ``delta`` holds one prior precision per layer and ``s``
is the noise precision of a homoscedastic Gaussian likelihood (1 otherwise).

Each posterior offers the differentiable log-determinant ratio needed by the
Laplace log marginal likelihood, draws of the weight deviations, and the
marginal variance of the linearised latent output.
"""

import torch

_DTYPE = torch.float64
_PROJ_FLOATS = 2**24  # 128 MB of float64 for the held-out eigen-projection


def _jacobian_rows(inputs, g, start, stop):
    """Rows ``stop - start`` of the per-output Jacobians, shape (rows, k, P)."""
    return torch.cat(
        [
            torch.einsum("nco,nj->ncoj", gl[start:stop], a[start:stop]).flatten(2)
            for a, gl in zip(inputs, g)
        ],
        2,
    )


def _row_blocks(n_rows, floats_per_row):
    """``(start, stop)`` row blocks holding at most ``_PROJ_FLOATS / 2`` floats."""
    step = max(1, _PROJ_FLOATS // 2 // max(1, floats_per_row))
    return [(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def _per_param(delta, shapes):
    """Expand one precision per layer to one per parameter."""
    return torch.cat([d.expand(o * i) for d, (o, i) in zip(delta, shapes)])


class _Posterior:
    def variance_fn(self, inputs, g):
        """``(delta, s) -> latent_var(inputs, g)`` for repeated ``delta``, ``s``."""

        def variance(delta, s):
            self.set(delta, s)
            return self.latent_var(inputs, g)

        return variance


class FullPosterior(_Posterior):
    """Dense precision over all parameters of the chosen layers."""

    def __init__(self, curvature):
        self.shapes = curvature.shapes
        self.H = curvature.H
        self._eig_cache = None

    @property
    def _eig(self):
        """Eigenvalues of ``H`` (computed once, by whichever path needs them first)."""
        if self._eig_cache is None:
            self._eig_cache = torch.linalg.eigvalsh(self.H).clamp_min(0.0)
        return self._eig_cache

    def log_det_ratio(self, delta, s):
        """``log det(s H + D) - log det(D)``, differentiable in delta and s."""
        if len(self.shapes) == 1 or bool((delta == delta[0]).all()):
            return torch.log1p(s * self._eig / delta[0]).sum()
        d = _per_param(delta, self.shapes)
        precision = s * self.H + torch.diag(d)
        return torch.linalg.slogdet(precision)[1] - torch.log(d).sum()

    def set(self, delta, s):
        precision = s * self.H + torch.diag(_per_param(delta, self.shapes))
        self._chol = torch.linalg.cholesky(precision)
        self.cov = torch.cholesky_inverse(self._chol)

    def sample(self, n_samples, generator):
        z = torch.randn(self.H.shape[0], n_samples, generator=generator, dtype=_DTYPE)
        dev = torch.linalg.solve_triangular(self._chol.T, z, upper=True).T
        out, start = [], 0
        for o, i in self.shapes:
            out.append(dev[:, start : start + o * i].reshape(n_samples, o, i))
            start += o * i
        return out

    def latent_var(self, inputs, g):
        """Variance of each latent output: ``diag(J Sigma J^T)``, shape (n, k)."""
        if g is None:  # last layer: J = I (x) a, so var_c = a^T Sigma_cc a
            ((o, i),) = self.shapes
            blocks = self.cov.reshape(o, i, o, i).diagonal(dim1=0, dim2=2)  # (i, i, o)
            a = inputs[0]
            blocks = blocks.to(a.dtype)
            return torch.einsum("nj,jlc,nl->nc", a, blocks, a)
        n, k, P = len(inputs[0]), g[0].shape[1], self.H.shape[0]
        out = []
        for start, stop in _row_blocks(n, 2 * k * P):  # rows and rows @ cov
            rows = _jacobian_rows(inputs, g, start, stop)
            out.append(((rows @ self.cov.to(rows.dtype)) * rows).sum(-1))
        return torch.cat(out)

    def variance_fn(self, inputs, g):
        """``(delta, s) -> latent_var(inputs, g)``.

        For one shared precision the Jacobian rows are projected once on the
        eigenvectors of ``H``; each call is then a weighted sum, not a
        Cholesky of the precision, so a held-out search over ``delta`` costs
        one eigendecomposition. Per-layer precisions, or projections larger
        than ``_PROJ_FLOATS``, go through ``set`` and ``latent_var``.
        """
        generic = super().variance_fn(inputs, g)
        if len(inputs[0]) * self.shapes[-1][0] * self.H.shape[0] > _PROJ_FLOATS:
            return generic
        eig, vec = torch.linalg.eigh(self.H)
        eig = self._eig_cache = eig.clamp_min(0.0)
        if g is None:
            ((o, i),) = self.shapes
            proj = (
                torch.einsum("nj,cjk->nck", inputs[0].to(_DTYPE), vec.reshape(o, i, -1))
                ** 2
            )
        else:  # built block by block: one (n, k, P) tensor, not two
            n, k = len(inputs[0]), g[0].shape[1]
            proj = torch.empty(n, k, self.H.shape[0], dtype=_DTYPE)
            for start, stop in _row_blocks(n, k * self.H.shape[0]):
                proj[start:stop] = (
                    _jacobian_rows(inputs, g, start, stop).to(_DTYPE) @ vec
                ) ** 2

        def variance(delta, s):
            if not bool((delta == delta[0]).all()):
                return generic(delta, s)
            return proj @ (1.0 / (s * eig + delta[0]))

        return variance


class KronPosterior(_Posterior):
    """Block-diagonal precision, one ``s B (x) A + delta (I (x) P)`` block per layer.

    ``P = I`` (isotropic prior) or ``P = A + r I`` (Zellner's g-prior). With
    ``A = Q_A diag(a) Q_A^T`` and ``B = Q_B diag(b) Q_B^T`` the block's
    eigenvalues are ``s b_o a_j + delta p_j`` (``p_j = 1`` or ``a_j + r``)
    with eigenvectors ``Q_B (x) Q_A``, so log-determinants, draws and
    predictive variances are exact for the Kronecker-factored precision at
    any ``delta`` and ``s``.
    """

    def __init__(self, curvature, zellner_ridge=None):
        self.shapes = curvature.shapes
        self._eigA = [torch.linalg.eigh(A) for A in curvature.A]
        self._eigB = [torch.linalg.eigh(B) for B in curvature.B]
        self._ab = [
            torch.outer(b.clamp_min(0), a.clamp_min(0))
            for (b, _), (a, _) in zip(self._eigB, self._eigA)
        ]
        # prior precision delta * (I (x) P) with P diagonal in A's eigenbasis:
        # P = I (isotropic) or P = A + ridge I (Zellner's g-prior)
        self._p = [torch.ones(1, len(a), dtype=_DTYPE) for a, _ in self._eigA]
        if zellner_ridge is not None:
            self._p = [
                (a.clamp_min(0) + zellner_ridge * a.clamp_min(0).mean())[None, :]
                for a, _ in self._eigA
            ]

    def prior_sq_norms(self, theta):
        """``vec(W_l)^T (I (x) P_l) vec(W_l)`` of each layer, shape (n_layers,)."""
        return torch.stack(
            [
                (((t @ qa) ** 2) * p).sum()
                for t, (_, qa), p in zip(theta, self._eigA, self._p)
            ]
        )

    def prior_matrix(self, layer=-1):
        """``P`` of one layer as a dense (in, in) matrix."""
        _, qa = self._eigA[layer]
        return (qa * self._p[layer]) @ qa.T

    def log_det_ratio(self, delta, s):
        return sum(
            torch.log1p(s * ab / (d * p)).sum()
            for ab, d, p in zip(self._ab, delta, self._p)
        )

    def _variances(self, delta, s):
        return [1.0 / (s * ab + d * p) for ab, d, p in zip(self._ab, delta, self._p)]

    def set(self, delta, s):
        self._var = self._variances(delta, s)

    def sample(self, n_samples, generator):
        out = []
        for var, (_, qa), (_, qb) in zip(self._var, self._eigA, self._eigB):
            z = torch.randn(n_samples, *var.shape, generator=generator, dtype=_DTYPE)
            out.append(qb @ (z * var.sqrt()) @ qa.T)
        return out

    def _project(self, inputs, g):
        """Squared projections of the rows on each layer's eigenvectors."""
        out = []
        for idx, ((_, qa), (_, qb)) in enumerate(zip(self._eigA, self._eigB)):
            dtype = inputs[idx].dtype
            v2 = (inputs[idx] @ qa.to(dtype)) ** 2
            if g is None:  # last layer: the output Jacobian is the identity
                out.append((v2, (qb**2).to(dtype)))
            else:
                out.append((v2, (g[idx] @ qb.to(dtype)) ** 2))
        return out

    @staticmethod
    def _combine(projections, variances, last_layer):
        total = 0.0
        for (v2, u2), var in zip(projections, variances):
            var = var.to(v2.dtype)
            if last_layer:
                total = total + v2 @ (u2 @ var).T
            else:
                total = total + torch.einsum("nco,oj,nj->nc", u2, var, v2)
        return total

    def latent_var(self, inputs, g):
        return self._combine(self._project(inputs, g), self._var, g is None)

    def variance_fn(self, inputs, g):
        """``(delta, s) -> latent_var(inputs, g)``, projecting the rows once."""
        projections = self._project(inputs, g)
        return lambda delta, s: self._combine(
            projections, self._variances(delta, s), g is None
        )


class DiagPosterior(_Posterior):
    """Diagonal precision ``s diag(H) + delta`` (exact GGN diagonal)."""

    def __init__(self, curvature):
        self.shapes = curvature.shapes
        self._h = [h.clamp_min(0) for h in curvature.h]

    def log_det_ratio(self, delta, s):
        return sum(torch.log1p(s * h / d).sum() for h, d in zip(self._h, delta))

    def set(self, delta, s):
        self._var = [1.0 / (s * h + d) for h, d in zip(self._h, delta)]

    def sample(self, n_samples, generator):
        return [
            torch.randn(n_samples, *var.shape, generator=generator, dtype=_DTYPE)
            * var.sqrt()
            for var in self._var
        ]

    def latent_var(self, inputs, g):
        total = 0.0
        for idx, var in enumerate(self._var):
            a2 = inputs[idx] ** 2
            var = var.to(a2.dtype)
            if g is None:
                total = total + a2 @ var.T
            else:
                total = total + torch.einsum("nco,oj,nj->nc", g[idx] ** 2, var, a2)
        return total


POSTERIORS = {"full": FullPosterior, "kron": KronPosterior, "diag": DiagPosterior}
