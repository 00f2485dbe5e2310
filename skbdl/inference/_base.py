"""The contract between the estimators and the inference methods.

An inference method is a small ``BaseEstimator`` that holds only its
hyper-parameters. The estimator clones it into ``method_`` and calls:

``fit(problem) -> self``
    Learn the posterior. ``problem`` is a ``skbdl._nn.TrainingProblem``:
    the training rows as tensors, the prior, the likelihood, ``N``
    (``problem.n_train``), a seed, ``build_module`` and ``train`` (the
    hooks below). Fitted state is stored on the method object with a
    trailing underscore, and must include ``likelihood_``: the fitted
    likelihood (with its learned noise) that the estimator applies to the
    latent draws, and ``loss_curve_``: the ``TrainingCurve`` that
    ``train`` returned (or, for several runs, one averaging them; its
    ``validation_scores`` become the estimator's ``validation_scores_``).

    Row weights (the estimator's ``sample_weight``): ``problem.weights``
    is None or a tensor (n,); then ``N = problem.n_train = sum_i w_i`` and
    the data term is ``sum_i w_i nll_i``, so an integer weight must act as
    that many copies of the row. ``train`` applies them; a method that
    sums over rows itself (Laplace's curvature and evidence, SGLD's energy
    traces) weights those sums, and uses ``problem.n_rows`` (``len(X)``)
    where it counts rows. A method that cannot honour them must raise a
    ``ValueError`` naming itself and ``sample_weight`` rather than ignore
    them.
``sample_f(X, n_samples, generator) -> Tensor (S, n, k)``
    Latent outputs of ``S`` posterior draws of the whole function (one
    weight draw or dropout mask per draw, shared by every row), computed as
    batched tensor ops. ``k`` is the likelihood's latent width: logits, the
    regression mean, or mean and log noise variance (heteroscedastic). No
    noise column is appended: the likelihood adds the noise. The randomness
    must not depend on ``X``: the same generator state gives the same ``S``
    functions for any rows, which is how the estimators evaluate large
    inputs chunk by chunk. A method with several stored noise values (one
    per member or kept draw) makes draw ``i`` the function of stored item
    ``i mod M``, as ``Gaussian.stack`` orders the noise.
``predict_f(X) -> (mean, var)`` of shape ``(n, k)`` each
    The closed-form latent mean and marginal variance, only where
    ``closed_form`` is True (the estimator then uses it for the predictive);
    otherwise the predictive is the Monte-Carlo average over ``sample_f``.
``draw_weights(n_samples) -> Tensor (S,) or None``
    Weights of the draws in the predictive average (None: equal). A
    mixture of ``M`` stored items asked for ``S`` draws that are not a
    multiple of ``M`` weights each draw so every item counts ``1 / M``.
``supports_warm_start`` and ``warm_modules(seeds) -> {key: module}``
    Optional (default: not supported): the estimator's ``warm_start``.
    When True the estimator passes the previous fit's ``warm_modules``
    as ``problem.init_modules``, and every ``problem.build_module(s)``
    whose seed tree ``s`` has a key there starts from those weights
    instead of a fresh initialisation (the optimizer starts afresh, as
    in scikit-learn). The default maps ``seeds.key`` to ``module_``; a
    method with several networks keys each by its own seed tree
    (Ensemble: ``seeds.child(k).key``). The estimator refuses
    ``warm_start=True`` for a method without support, with a
    ``ValueError`` naming the method.
``partial_fit(problem) -> self``
    Optional: one more training run continuing the previous one (the
    estimator's ``partial_fit``; ``problem.max_epochs`` is 1). The first
    call on an unfitted method initialises as ``fit``; later calls keep
    the weights, the likelihood and the optimizer and batch-order state
    (a ``TrainState`` passed as ``problem.train(..., state=...)``), so
    ``k`` calls on the same data are the run of ``fit`` with
    ``max_epochs=k``. ``loss_curve_`` is the last call's curve (the
    estimator appends it to its own). The estimator offers
    ``partial_fit`` only for methods that define it.
``default_n_samples``
    Number of draws used when the estimator's ``n_samples`` is None.
``weight_draws() -> [(W, b), ...] or None``
    Optional: the stored weights stacked on a leading axis (a mode, the
    members, the kept draws); the estimators read ``feature_inclusion_``
    of a spike-and-slab prior from them. The default is ``module_``.

The training hooks, all explicit arguments (``TrainingProblem``):

``problem.build_module(seed, dropout=0.0, factory=MLP)``
    A freshly initialised network; ``factory`` builds another module class
    with the same signature (e.g. mean-field layers for VI). With warm
    start, the previous weights of that seed tree (``init_modules``).
``problem.new_likelihood()``
    A fresh likelihood for one training run (its own noise state).
``problem.train(module, *, seed, likelihood, optimizer, optimizer_kwargs,
params, noise, extra_energy, callbacks, on_step, state)``
    Minimise the energy ``U(w)/N = mean_batch(-log p(y|x,w)) +
    extra_energy(module)/N`` over minibatches drawn without replacement (a
    new permutation per epoch). ``optimizer`` is a ``torch.optim.Optimizer``
    class or a custom update rule with the same interface; if it takes a
    ``generator`` argument it receives the run's own ``torch.Generator``
    for training-time noise, never the global RNG. ``params`` selects the
    tensors it updates (default: the module's parameters plus the
    likelihood's trainable noise). ``noise`` is the likelihood's noise
    policy (``"refit"``, ``"gradient"``, ``"fixed"``). ``extra_energy`` is
    ``-log p(w)`` by default (a KL term for VI). ``on_step`` callables
    ``fn(module, step)`` run after every optimizer step, e.g. to keep
    weight snapshots. ``state`` (a ``TrainState``, optional) resumes the
    optimizer and batch-order stream of the run that wrote it and is
    overwritten with this run's. Returns a ``TrainingCurve``: the list of the mean
    training energy per epoch, with ``validation_scores``, the per-epoch
    mean log-likelihood of ``problem.valid`` (``-valid_loss``; None
    without held-out rows).

A new method is one new file defining such a class plus one line in
``skbdl.inference.METHODS``; the estimators need no change.
"""

import torch
from sklearn.base import BaseEstimator

from .._nn import stack_layers


def equal_mixture_weights(n_samples, n_items):
    """Weights of ``n_samples`` draws of an equal mixture of ``n_items``.

    Draw ``i`` is item ``i mod n_items``. None (equal weights) when
    ``n_samples`` is a multiple of ``n_items``; otherwise ``1 / (c m)`` for
    a draw of an item drawn ``c`` times, with ``m`` the number of items
    drawn, so every item present counts equally.
    """
    if n_samples % n_items == 0:
        return None
    items = torch.arange(n_samples) % n_items
    counts = torch.bincount(items, minlength=n_items).double()
    return 1.0 / (counts[items] * int((counts > 0).sum()))


class BaseInference(BaseEstimator):
    """Base class of the inference methods (see the module docstring).

    A subclass holds only hyper-parameters in ``__init__`` and implements
    ``fit``, ``sample_f`` and, where it has a closed-form predictive,
    ``predict_f``; the estimators do the rest. Subclass it to add a method,
    then register the class in ``skbdl.inference.METHODS``.

    See Also
    --------
    MAP : The simplest method, a point estimate.

    Examples
    --------
    >>> from skbdl.inference import METHODS, BaseInference
    >>> all(issubclass(cls, BaseInference) for cls in METHODS.values())
    True
    """

    #: True when ``predict_f`` gives the predictive in closed form.
    closed_form = False
    #: Number of posterior draws when the estimator's ``n_samples`` is None.
    default_n_samples = 1
    #: Whether the estimator's ``warm_start=True`` may start from ``warm_modules``.
    supports_warm_start = False

    def warm_modules(self, seeds):
        """Return the trained networks a warm fit starts from, by seed key.

        Parameters
        ----------
        seeds : Seeds
            The seed tree of the new fit (only its keys are used).

        Returns
        -------
        modules : dict
            ``{seeds.key: module_}`` by default (one network).
        """
        return {seeds.key: self.module_}

    def fit(self, problem):  # pragma: no cover - abstract
        """Learn the posterior; called by the estimator's ``fit``.

        Parameters
        ----------
        problem : TrainingProblem
            The data as tensors, the prior, the likelihood, ``N``, a seed and
            the hooks ``build_module``, ``new_likelihood`` and ``train``.

        Returns
        -------
        self : object
            The fitted method; its fitted state ends in ``_``.
        """
        raise NotImplementedError

    def sample_f(self, X, n_samples, generator):  # pragma: no cover - abstract
        """Latent outputs of posterior draws of the whole function.

        Parameters
        ----------
        X : torch.Tensor of shape (n, n_features)
            Input rows (float32, on the estimator's device).
        n_samples : int
            Number of draws ``S``.
        generator : torch.Generator
            The only source of randomness; the same state gives the same
            ``S`` functions for any rows.

        Returns
        -------
        f : torch.Tensor of shape (S, n, k)
            Latent outputs under each draw (the likelihood's latent width).
        """
        raise NotImplementedError

    def predict_f(self, X):
        """Closed-form latent mean and variance (only if ``closed_form``).

        Parameters
        ----------
        X : torch.Tensor of shape (n, n_features)
            Input rows (float32, on the estimator's device).

        Returns
        -------
        mean : torch.Tensor of shape (n, k)
            Posterior mean of the latent outputs.
        var : torch.Tensor of shape (n, k)
            Their marginal posterior variance.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form predictive; use sample_f."
        )

    def row_floats(self, n_draws, width):
        """Return the floats of working memory per input row at prediction.

        The estimators size their row chunks with it. The default is one
        ``(n_draws, width)`` activation per row; a method with larger
        intermediates (per-row Jacobians) overrides it.

        Parameters
        ----------
        n_draws : int
            Number of draws evaluated together (1 for the closed form).
        width : int
            Widest layer of the network (hidden or latent).

        Returns
        -------
        floats : int
            Number of float32-equivalent values held per row.
        """
        return n_draws * width

    def weight_draws(self):
        """Return the network weights the posterior stores, stacked on draws.

        The estimators read the posterior inclusion probabilities of a
        spike-and-slab prior from them (``feature_inclusion_``). The default
        is the trained ``module_`` (a point estimate, ``M = 1``): MAP, the
        mode of Laplace, the weights of MC dropout.

        Returns
        -------
        layers : list of (torch.Tensor, torch.Tensor) or None
            Weights ``(M, out, in)`` and biases ``(M, out)``; None when the
            method stores no weights.
        """
        module = getattr(self, "module_", None)
        if module is None or not hasattr(module, "layers"):
            return None
        return stack_layers([module.layers()])

    def draw_weights(self, n_samples):
        """Return the weights of ``n_samples`` draws in the predictive average.

        Parameters
        ----------
        n_samples : int
            Number of draws ``S``.

        Returns
        -------
        weights : torch.Tensor of shape (S,) or None
            None when every draw counts equally.
        """
        return None

