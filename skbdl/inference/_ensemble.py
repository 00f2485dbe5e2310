"""Deep ensembles (Lakshminarayanan et al., 2017)."""

from numbers import Integral

import torch
from joblib import Parallel, delayed

from ..neural_network._module import stacked_forward
from ..utils._sklearn import Interval
from ..utils._torch import torch_threads
from ._base import BaseInference


def _train_member(problem, seed):
    with torch_threads():
        module = problem.build_module(seed)
        curve = problem.train(module, seed=seed)
    return module, curve


class Ensemble(BaseInference):
    """Deep ensemble: ``n_members`` MAP networks trained from different seeds.

    The members differ in initialisation and batch order only (each is the
    MAP of the same energy); the predictive is their equally weighted
    mixture. Draw ``i`` is member ``i mod n_members``, so asking for a
    multiple of ``n_members`` draws gives the exact mixture.

    Parameters
    ----------
    n_members : int, default=5
        Number of networks.
    n_jobs : int, default=None
        Members trained in parallel with joblib (``None`` means 1, ``-1`` all
        cores). Results do not depend on ``n_jobs``.

    Attributes
    ----------
    modules_ : list of torch.nn.Module
        The trained members.
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
        seeds = [problem.seed + 7919 * k for k in range(self.n_members)]
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_train_member)(problem, s) for s in seeds
        )
        self.modules_ = [m for m, _ in results]
        curves = [c for _, c in results]
        length = min(len(c) for c in curves)
        self.loss_curve_ = [sum(c[i] for c in curves) / len(curves) for i in range(length)]
        self._stack()
        return self

    def _stack(self):
        """Stack member weights on a leading axis for vectorised evaluation."""
        per_member = [m.layers() for m in self.modules_]
        self._layers = [
            tuple(torch.stack([layers[i][j].detach() for layers in per_member])
                  for j in range(2))
            for i in range(len(per_member[0]))
        ]
        noise = [m.log_noise_var for m in self.modules_]
        self._log_noise = None if noise[0] is None else torch.cat([n.detach() for n in noise])

    def sample_f(self, X, n_samples, generator):
        idx = torch.arange(n_samples) % self.n_members
        layers = [(w[idx], b[idx]) for w, b in self._layers]
        noise = None if self._log_noise is None else self._log_noise[idx]
        with torch.no_grad():
            return stacked_forward(layers, X, self.modules_[0].activation,
                                   log_noise_var=noise)
