"""Monte-Carlo dropout (Gal and Ghahramani, 2016)."""

from numbers import Integral, Real

import torch

from .._nn import stacked_forward
from ..priors import check_prior_support
from ..utils._sklearn import Interval
from ._base import BaseInference


class MCDropout(BaseInference):
    """Monte-Carlo dropout: dropout kept on at prediction time.

    The network is trained with dropout rate ``p`` after every hidden layer
    (and the shared prior as weight decay). Each posterior draw is one
    dropout mask per hidden unit, shared by every row, so a draw is a whole
    function and predictions do not depend on which rows are passed
    together. All draws are evaluated as one batched tensor op.

    Parameters
    ----------
    p : float, default=0.1
        Dropout rate of the hidden units, in [0, 1).
    n_samples : int, default=32
        Number of dropout masks for the predictive when the estimator's
        ``n_samples`` is None.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    likelihood_ : Likelihood
        The fitted likelihood (its noise, for regression).
    loss_curve_ : list of float
        Training energy per epoch.

    See Also
    --------
    Ensemble : Independent networks instead of masks.

    References
    ----------
    .. [1] Y. Gal and Z. Ghahramani, "Dropout as a Bayesian Approximation:
       Representing Model Uncertainty in Deep Learning", ICML 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbdl import BayesianMLPClassifier
    >>> from skbdl.inference import MCDropout
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BayesianMLPClassifier(method=MCDropout(p=0.2), random_state=0)
    >>> clf.fit(X, y).predict_proba_samples(X[:2], n_samples=8).shape
    (2, 3, 8)
    """

    supports_warm_start = True
    _parameter_constraints = {
        "p": [Interval(Real, 0, 1, closed="left")],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, p=0.1, *, n_samples=32):
        self.p = p
        self.n_samples = n_samples

    @property
    def default_n_samples(self):
        return self.n_samples

    def fit(self, problem):
        check_prior_support(problem.prior, "MCDropout", "log_prob")
        self.module_ = problem.build_module(problem.seeds, dropout=self.p)
        self.likelihood_ = problem.new_likelihood()
        self.loss_curve_ = problem.train(self.module_, seeds=problem.seeds,
                                         likelihood=self.likelihood_)
        return self

    def sample_f(self, X, n_samples, generator):
        m = self.module_
        keep = 1.0 - float(self.p)
        masks = [
            (torch.bernoulli(torch.full((n_samples, 1, layer.out_features), keep),
                             generator=generator) / keep).to(X.device)
            for layer in m.hidden
        ]
        with torch.no_grad():
            return stacked_forward(m.layers(), X, m.activation, masks=masks)
