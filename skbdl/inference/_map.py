"""Maximum a posteriori point estimate (the baseline)."""

import torch

from .._nn import TrainState, stacked_forward
from ..priors import check_prior_support
from ._base import BaseInference


class MAP(BaseInference):
    """Maximum a posteriori network: one set of weights, no epistemic spread.

    Training minimises the energy ``-(N/n) sum log p(y|x, w) - log p(w)``;
    with the default ``GaussianPrior`` this is the mean loss plus weight decay
    ``||w||^2 / (2 N scale^2)``. Every posterior draw is the same function,
    so the epistemic uncertainty is zero; use it as the baseline that the
    Bayesian methods are compared with.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    likelihood_ : Likelihood
        The fitted likelihood (its noise, for regression).
    loss_curve_ : list of float
        Training energy per epoch (of the last ``partial_fit`` call's run
        after one).

    See Also
    --------
    Ensemble : Several MAP networks from different seeds.

    Notes
    -----
    Supports the estimators' ``warm_start`` (training starts from the
    previous ``module_``) and ``partial_fit``: each call trains one more
    epoch, keeping the Adam state and the batch-order stream, so ``k``
    calls on the same data give the weights of one fit with
    ``max_epochs=k``. ``partial_fit`` after ``fit`` continues that fit's
    optimizer, except after early stopping (trained by the generic
    engine; the optimizer then restarts).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbdl import BayesianMLPClassifier
    >>> from skbdl.inference import MAP
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = BayesianMLPClassifier(method=MAP(), random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    closed_form = True
    supports_warm_start = True
    _parameter_constraints = {}

    def __init__(self):
        pass

    def fit(self, problem):
        check_prior_support(problem.prior, "MAP", "log_prob")
        self.module_ = problem.build_module(problem.seeds)
        self.likelihood_ = problem.new_likelihood()
        self._train_state = TrainState()
        self.loss_curve_ = problem.train(self.module_, seeds=problem.seeds,
                                         likelihood=self.likelihood_,
                                         state=self._train_state)
        return self

    def partial_fit(self, problem):
        """Train one more run, continuing the previous one (see ``_base``).

        Parameters
        ----------
        problem : TrainingProblem
            The rows of this call (``max_epochs`` is the number of epochs).

        Returns
        -------
        self : object
            The method, its ``module_`` trained further.
        """
        if not hasattr(self, "module_"):
            return self.fit(problem)
        check_prior_support(problem.prior, "MAP", "log_prob")
        if not hasattr(self, "_train_state"):  # fitted before partial_fit existed
            self._train_state = TrainState()
        self.loss_curve_ = problem.train(self.module_, seeds=problem.seeds,
                                         likelihood=self.likelihood_,
                                         state=self._train_state)
        return self

    def predict_f(self, X):
        with torch.no_grad():
            mean = self.module_(X)
        return mean, torch.zeros_like(mean)

    def sample_f(self, X, n_samples, generator):
        m = self.module_
        with torch.no_grad():
            f = stacked_forward(m.layers(), X, m.activation)
        return f.expand(n_samples, *f.shape[1:])
