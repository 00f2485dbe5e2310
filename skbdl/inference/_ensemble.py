"""Deep ensembles (Lakshminarayanan et al., 2017)."""

from numbers import Integral

import torch
from joblib import Parallel, delayed, effective_n_jobs

from .._nn import TrainingCurve, stack_layers, stacked_forward
from ..priors import check_prior_support
from ..utils._sklearn import Interval
from ..utils._torch import torch_threads
from ._base import BaseInference, equal_mixture_weights


def _train_members(problem, members):
    """Train the members ``members`` (indices) together; their results."""
    with torch_threads(work=problem.work_per_step * len(members)):
        seeds = [problem.seeds.child(k) for k in members]
        modules = [problem.build_module(s) for s in seeds]
        likelihoods = [problem.new_likelihood() for _ in members]
        curves = problem.train_members(modules, seeds=seeds, likelihoods=likelihoods,
                                       labels=[f"member {k + 1}" for k in members])
    return list(zip(modules, likelihoods, curves))


def _mean_curve(curves):
    """Members' curves averaged epoch by epoch, up to the shortest one.

    The validation scores (early stopping) are averaged the same way, so
    the best of the mean need not be the mean of each member's best.
    """
    length = min(len(c) for c in curves)
    losses = [sum(c[i] for c in curves) / len(curves) for i in range(length)]
    scores = [getattr(c, "validation_scores", None) for c in curves]
    if any(s is None for s in scores):
        return TrainingCurve(losses)
    return TrainingCurve(
        losses, [sum(s[i] for s in scores) / len(scores) for i in range(length)]
    )


class Ensemble(BaseInference):
    """Deep ensemble: ``n_members`` MAP networks trained from different seeds.

    The members differ in initialisation and batch order only (each is the
    MAP of the same energy); the predictive is their equally weighted
    mixture. Plain MLP members are trained together as one stacked network
    (batched ops over a leading member axis), so five members cost much
    less than five fits; a member's weights are the same as if it were
    trained alone. Draw ``i`` is member ``i mod n_members``; when the number of
    draws is not a multiple of ``n_members`` the predictive weights the
    draws so that every member counts ``1 / n_members`` (the exact mixture).

    Parameters
    ----------
    n_members : int, default=5
        Number of networks.
    n_jobs : int, default=None
        Members trained in parallel with joblib (``None`` means 1, ``-1``
        all cores) when they are trained one by one. Plain MLP members
        with the default training are trained as one stacked network in
        this process instead, which torch's threads parallelise, and
        ``n_jobs`` is not used. Results do not depend on ``n_jobs``.

    Attributes
    ----------
    modules_ : list of torch.nn.Module
        The trained members.
    likelihood_ : Likelihood
        The members' fitted likelihoods stacked (one noise per member).
    loss_curve_ : list of float
        Mean over members of the training energy per epoch.

    See Also
    --------
    MAP : A single member.
    MCDropout : A cheaper approximate ensemble.

    References
    ----------
    .. [1] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and
       Scalable Predictive Uncertainty Estimation using Deep Ensembles",
       NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbdl import BayesianMLPClassifier
    >>> from skbdl.inference import Ensemble
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BayesianMLPClassifier(method=Ensemble(n_members=3), random_state=0)
    >>> clf.fit(X, y).predict_proba_samples(X[:2]).shape
    (2, 3, 3)
    """

    supports_warm_start = True
    _parameter_constraints = {
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [None, Integral],
    }

    def __init__(self, n_members=5, *, n_jobs=None):
        self.n_members = n_members
        self.n_jobs = n_jobs

    @property
    def default_n_samples(self):
        return self.n_members

    def fit(self, problem):
        check_prior_support(problem.prior, "Ensemble", "log_prob")
        if problem.trains_stacked:  # one stack whatever n_jobs: same results
            groups = [list(range(self.n_members))]
        else:
            groups = [[k] for k in range(self.n_members)]
        n_jobs = min(len(groups), effective_n_jobs(self.n_jobs))
        results = [
            member
            for group in Parallel(n_jobs=n_jobs)(
                delayed(_train_members)(problem, members) for members in groups
            )
            for member in group
        ]
        self.modules_ = [m for m, _, _ in results]
        self.likelihood_ = type(results[0][1]).stack([lik for _, lik, _ in results])
        curves = [c for _, _, c in results]
        self.loss_curve_ = _mean_curve(curves)
        self._stack()
        return self

    def warm_modules(self, seeds):
        """Return each member keyed by its seed tree (warm start).

        With a larger ``n_members`` than before, the new members start from
        a fresh initialisation.

        Parameters
        ----------
        seeds : Seeds
            The seed tree of the new fit.

        Returns
        -------
        modules : dict
            ``{seeds.child(k).key: modules_[k]}``.
        """
        return {seeds.child(k).key: m for k, m in enumerate(self.modules_)}

    def _stack(self):
        """Stack member weights on a leading axis for vectorised evaluation."""
        self._layers = stack_layers([m.layers() for m in self.modules_])

    def weight_draws(self):
        """Return the members' weights stacked (see ``BaseInference``).

        Returns
        -------
        layers : list of (torch.Tensor, torch.Tensor)
            Weights ``(n_members, out, in)`` and biases ``(n_members, out)``.
        """
        return self._layers

    def _members(self, n_samples):
        return torch.arange(n_samples) % self.n_members

    def draw_weights(self, n_samples):
        """Return weights making every member count equally in the predictive.

        Parameters
        ----------
        n_samples : int
            Number of draws ``S``; draw ``i`` is member ``i mod n_members``.

        Returns
        -------
        weights : torch.Tensor of shape (S,) or None
            None when ``S`` is a multiple of ``n_members``; else ``1 / (c m)``
            for a draw of a member drawn ``c`` times, with ``m`` the number of
            members drawn.
        """
        return equal_mixture_weights(n_samples, self.n_members)

    def sample_f(self, X, n_samples, generator):
        idx = self._members(n_samples).to(X.device)
        layers = [(w[idx], b[idx]) for w, b in self._layers]
        with torch.no_grad():
            return stacked_forward(layers, X, self.modules_[0].activation)
