"""Shared base of the two Bayesian MLP estimators."""

from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from .._nn import (
    ACTIVATIONS,
    TrainingProblem,
    chunk_rows,
    count_weights,
    likelihood_for,
    stacked_forward,
    train_valid_split,
)
from ..inference import METHODS
from ..priors import resolve_prior
from ..utils._random import Seeds
from ..utils._sklearn import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    check_sample_weight,
    validate_data,
)
from ..utils._torch import (
    make_generator,
    to_tensor,
    torch_threads,
)


def _check_n_samples(n_samples):
    """The number of draws asked of a prediction method, as a positive int."""
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, Integral)
        or n_samples < 1
    ):
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    return int(n_samples)


class BaseBayesianMLP(BaseEstimator, metaclass=ABCMeta):
    """Fit and posterior draws shared by the classifier and the regressor."""

    _task = None  # "classification" or "regression", set by the subclasses

    _parameter_constraints = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "method": [StrOptions(set(METHODS)), HasMethods(["fit", "sample_f"])],
        "prior": [
            None,
            Interval(Real, 0, None, closed="neither"),
            dict,
            HasMethods(["neg_log_prob", "sample"]),
        ],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "n_samples": [None, Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        *,
        activation,
        method,
        prior,
        max_epochs,
        batch_size,
        lr,
        n_samples,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        device,
        random_state,
        verbose,
        warm_start,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.method = method
        self.prior = prior
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.n_samples = n_samples
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the posterior over the network weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Targets: class labels (classifier) or real values (regressor).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; None weighs every row 1. The data term
            of the energy becomes ``-sum_i w_i log p(y_i | x_i, w)`` and the
            ``N`` that scales the prior is ``sum_i w_i``, so an integer
            weight is the same energy as repeating the row that many times,
            and a weight of 0 as removing it (exactly so with full-batch
            training; minibatches are still drawn over rows). The
            regressor's target standardisation and learned noise use the
            weighted moments. With ``early_stopping`` the weights are split
            with the rows and the validation loss is their weighted mean.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        method = self._resolve_method()
        previous = self._warm_start_from(method)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=self._task == "regression",
            reset=previous is None,
        )
        sample_weight = check_sample_weight(sample_weight, X, type(self).__name__)
        self._check_device()
        if previous is None:
            y_encoded = self._encode_y(y, sample_weight)
        else:
            y_encoded = self._encode_y_warm(y, sample_weight)
        seeds = Seeds.from_random_state(self.random_state)
        problem = self._make_problem(X, y_encoded, seeds, sample_weight)
        if previous is not None:
            self._check_architecture()
            problem.init_modules = previous.warm_modules(seeds)
        self._seeds, self._predict_seed = seeds, seeds.seed("predict")
        self.method_ = method
        with torch_threads(work=problem.work_per_step):
            self.method_.fit(problem)
        self._after_method_fit(self.__dict__.pop("_held_out"))
        self._finish_fit(problem, continued=previous is not None)
        return self

    def _finish_fit(self, problem, continued):
        """Fitted attributes after a training run of ``method_``.

        ``continued`` (warm start, ``partial_fit``): ``loss_curve_`` and
        ``validation_scores_`` continue the previous ones, as scikit-learn's.
        """
        previous = self.loss_curve_ if continued else []
        self.loss_curve_ = [*previous, *self.method_.loss_curve_]
        self.n_iter_ = len(self.loss_curve_)
        self._set_scores(continued, early_stopping=problem.valid is not None)
        self._set_feature_inclusion(problem.prior)
        self._architecture = (self._sizes(), self.activation)

    def _partial_fit(self, X, y, sample_weight=None, classes=None):
        """One pass over ``(X, y)``, continuing the fitted ``method_``."""
        first = not hasattr(self, "method_")
        method = self._resolve_method() if first else self._partial_fit_method()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                             y_numeric=self._task == "regression", reset=first)
        sample_weight = check_sample_weight(sample_weight, X, type(self).__name__)
        self._check_device()
        y_encoded = self._encode_y_partial(y, sample_weight, classes, first)
        if first:
            self._seeds = Seeds.from_random_state(self.random_state)
            self._predict_seed = self._seeds.seed("predict")
        problem = self._make_problem(X, y_encoded, self._seeds, sample_weight,
                                     max_epochs=1, early_stopping=False,
                                     noise_holdout=False)
        del self._held_out
        if not first:
            self._check_architecture()
        with torch_threads(work=problem.work_per_step):
            method.partial_fit(problem)
        self.method_ = method
        self._finish_fit(problem, continued=not first)
        return self

    def _supports_partial_fit(self):
        """Whether ``method`` (a name or an object) defines ``partial_fit``."""
        method = self.method
        method = METHODS.get(method) if isinstance(method, str) else method
        return hasattr(method, "partial_fit")

    def _partial_fit_method(self):
        """The fitted ``method_`` that a later ``partial_fit`` continues."""
        current = self._resolve_method()
        if type(self.method_) is not type(current) or not hasattr(
            self.method_, "partial_fit"
        ):
            raise ValueError(
                f"{type(self).__name__}.partial_fit continues the fitted method_ "
                f"({type(self.method_).__name__}), but method={self.method!r} now; "
                f"partial_fit cannot switch methods. Call fit first to start over "
                f"with the new method."
            )
        return self.method_

    def _warm_start_from(self, method):
        """The fitted ``method_`` a warm fit starts from, or None (cold fit).

        Raises a ``ValueError`` when ``warm_start=True`` and ``method``
        cannot start from a previous fit, or the method changed since.
        """
        if not self.warm_start:
            return None
        name = type(method).__name__
        if not method.supports_warm_start:
            supported = sorted(k for k, c in METHODS.items() if c.supports_warm_start)
            raise ValueError(
                f"warm_start=True is not supported by method={name} "
                f"({type(self).__name__}): its posterior is not one set of network "
                f"weights to restart from. Use warm_start=False, or one of the "
                f"methods {supported}."
            )
        previous = getattr(self, "method_", None)
        if previous is None:
            return None
        if type(previous) is not type(method):
            raise ValueError(
                f"warm_start=True starts from the previous fit, whose method was "
                f"{type(previous).__name__}; method is now {name}. Set "
                f"warm_start=False to fit {name} from a fresh initialisation."
            )
        return previous

    def _check_architecture(self):
        """The network of this fit must have the shapes and activation of the
        previous one (warm start, ``partial_fit``)."""
        old = getattr(self, "_architecture", None)
        new = (self._sizes(), self.activation)
        if old is not None and old != new:
            raise ValueError(
                f"{type(self).__name__} with warm_start=True or partial_fit starts "
                f"from the previous network, layer sizes {old[0]} and activation "
                f"{old[1]!r}; this fit has layer sizes {new[0]} and activation "
                f"{new[1]!r} (hidden_layer_sizes, activation or the number of "
                f"outputs changed). Set warm_start=False or call fit to start over."
            )

    def _set_scores(self, continued=False, early_stopping=None):
        """``best_loss_``, ``validation_scores_``, ``best_validation_score_``.

        As scikit-learn's MLP: without early stopping ``best_loss_`` is the
        lowest training loss and the validation attributes are None; with
        it, ``best_loss_`` is None and the validation score per epoch is
        the method's (the mean held-out log-likelihood, see the class
        docstring), None for a method that does not use the held-out rows.
        ``partial_fit`` never stops early (``early_stopping=False``), as
        scikit-learn's.
        """
        if early_stopping is None:
            early_stopping = self.early_stopping
        scores = getattr(self.method_.loss_curve_, "validation_scores", None)
        previous = getattr(self, "validation_scores_", None) if continued else None
        if scores is not None and previous is not None:
            scores = [*previous, *scores]
        if not early_stopping:
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
            self.validation_scores_ = self.best_validation_score_ = None
            return
        self.best_loss_ = None
        self.validation_scores_ = None if scores is None else list(scores)
        self.best_validation_score_ = max(scores) if scores else None

    def _set_feature_inclusion(self, prior):
        """``feature_inclusion_``: P(gamma_i = 1 | W) averaged over the stored
        weights (one at a mode, every member or kept draw otherwise); absent
        when the prior has no spike-and-slab part."""
        if hasattr(self, "feature_inclusion_"):
            del self.feature_inclusion_
        layers = self.method_.weight_draws()
        if layers is None:
            return
        with torch.no_grad():
            inclusion = prior.feature_inclusion(layers)
        if inclusion is not None:
            self.feature_inclusion_ = inclusion.mean(0).cpu().numpy()

    def _check_device(self):
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"The 'device' parameter of {type(self).__name__} must be a torch "
                f"device such as 'cpu' or 'cuda'; got {self.device!r}."
            ) from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} but this torch has no CUDA device "
                f"(torch.cuda.is_available() is False: torch {torch.__version__}). "
                f"Use device='cpu', or install a CUDA build of torch."
            )

    def set_params(self, **params):
        """Set the estimator's parameters, ``method__*`` ones included.

        A nested ``method__<param>`` needs a method object; when ``method``
        is (or is being set to) a registered name, it is first replaced by
        an instance of that method's class, so
        ``GridSearchCV(est, {"method": ["mc_dropout"], "method__p": [0.1]})``
        works as with a method object.

        Parameters
        ----------
        **params : dict
            Estimator parameters, ``method__<param>`` included.

        Returns
        -------
        self : estimator instance
            The estimator, with the parameters set.
        """
        if any(key.startswith("method__") for key in params):
            method = params.get("method", self.method)
            if isinstance(method, str):
                if method not in METHODS:
                    raise ValueError(
                        f"The 'method' parameter of {type(self).__name__} must be "
                        f"one of {sorted(METHODS)} or a method object; got "
                        f"{method!r}."
                    )
                params["method"] = METHODS[method]()
        return super().set_params(**params)

    def _resolve_method(self):
        """``method_``: a clone of the method object (validated)."""
        method = self.method
        method = METHODS[method]() if isinstance(method, str) else clone(method)
        method._validate_params()
        return method

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = (
            (sizes,) if isinstance(sizes, Integral) else tuple(int(s) for s in sizes)
        )
        if any(s < 1 for s in sizes):
            raise ValueError(
                "The 'hidden_layer_sizes' parameter must contain positive integers; "
                f"got {self.hidden_layer_sizes!r}."
            )
        return sizes

    def _batch_size(self, n_rows):
        """``"auto"``: 64 rows, but at least ~10 batches per epoch on small data.

        Small data sets otherwise get too few optimizer steps to fit (a
        150-row regression reached test R^2 0.46 with batches of 64 and 0.82
        with batches of 15 at the same number of epochs).
        """
        if self.batch_size != "auto":
            return self.batch_size
        return int(min(64, max(8, n_rows // 10)))

    def _likelihood(self):
        return likelihood_for(self._task, getattr(self, "heteroscedastic", False))

    def _make_problem(self, X, y, seeds, sample_weight=None, *, max_epochs=None,
                      early_stopping=None, noise_holdout=True):
        y_dtype = torch.long if self._task == "classification" else torch.float32
        batch_size = self._batch_size(len(X))
        X = to_tensor(X, device=self.device)
        y = to_tensor(y, dtype=y_dtype, device=self.device)
        weights = None
        if sample_weight is not None:
            weights = to_tensor(sample_weight, dtype=torch.float32, device=self.device)
        valid = None
        max_epochs = self.max_epochs if max_epochs is None else max_epochs
        if early_stopping is None:
            early_stopping = self.early_stopping
        for_noise = noise_holdout and self._holds_out_for_noise(len(X))
        if early_stopping or for_noise:  # N: the rows (or weight) trained on
            train, valid = train_valid_split(
                X, y, self.validation_fraction, seeds.generator("split"), weights
            )
            X, y = train[:2]
            if weights is not None:
                weights = train[2]
                self._check_split_weights(weights, valid[2])
        self._held_out = valid
        if not early_stopping:
            valid = None  # held out for the noise only, not monitored
        prior = resolve_prior(self.prior, getattr(self, "feature_names_in_", None))
        prior.check_layers([X.shape[1], *self._hidden_sizes(),
                            self._likelihood().n_latent(self._n_outputs())])
        return TrainingProblem(
            X=X,
            y=y,
            likelihood=self._likelihood(),
            n_outputs=self._n_outputs(),
            hidden_layer_sizes=self._hidden_sizes(),
            activation=self.activation,
            prior=prior,
            seeds=seeds,
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=self.lr,
            valid=valid,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            device=self.device,
            weights=weights,
        )

    def _holds_out_for_noise(self, n_rows):
        """Whether ``fit`` holds out rows for the noise (beyond early stopping)."""
        return False

    def _after_method_fit(self, held_out):
        """Hook after ``method_.fit``; ``held_out`` is the held-out part
        ``(X, y)`` or ``(X, y, weights)`` (tensors) or None."""

    def _check_split_weights(self, train, valid):
        """Both parts of the early-stopping split need some positive weight."""
        for part, w in (("training", train), ("validation", valid)):
            if not bool((w > 0).any()):
                raise ValueError(
                    f"{type(self).__name__} held out "
                    f"validation_fraction={self.validation_fraction} of the rows, "
                    f"and every row of the {part} part has sample_weight 0. Give "
                    f"more rows a positive weight, change validation_fraction, or "
                    f"set early_stopping=False."
                )

    # ----------------------------------------------------------- prediction
    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def _n_draws(self, n_samples):
        if n_samples is not None:
            return _check_n_samples(n_samples)
        if self.n_samples is not None:
            return int(self.n_samples)
        return int(self.method_.default_n_samples)

    def _row_chunks(self, X, n_draws):
        """``(start, tensor)`` row chunks of the validated array ``X``.

        Each chunk is converted and moved to the device on its own, so the
        input is never copied whole; the chunk size bounds the method's
        working memory (``method_.row_floats``) at about 16 MB of floats.
        """
        rows = self._chunk_size(n_draws)
        for start in range(0, max(len(X), 1), rows):
            yield start, to_tensor(X[start : start + rows], device=self.device)

    def _sizes(self):
        return [
            self.n_features_in_,
            *self._hidden_sizes(),
            self._likelihood().n_latent(self._n_outputs()),
        ]

    def _chunk_size(self, n_draws):
        width = max(self._sizes()[1:])
        return chunk_rows(self.method_.row_floats(n_draws, width), 1)

    def _predict_threads(self, X, n_draws):
        """Torch threads for predicting ``X``: sized by one chunk's work."""
        rows = min(len(X), self._chunk_size(n_draws))
        return torch_threads(work=rows * n_draws * count_weights(self._sizes()))

    @staticmethod
    def _gather(X, chunks, compute):
        """Write ``compute(chunk)`` (numpy) of every chunk into one array.

        The output is allocated once, after the first chunk: keeping a small
        output per chunk between the large temporaries fragments the heap
        (measured: 0.7 GB of peak RSS for MC dropout on 300k rows instead
        of 45 MB).
        """
        out = None
        for start, chunk in chunks:
            part = compute(chunk)
            if out is None:
                out = np.empty((len(X), *part.shape[1:]), dtype=np.float64)
            out[start : start + len(part)] = part
        return out

    def _reduce_draws(self, X, n_draws, reduce, seed=None):
        """Apply ``reduce`` to the latent draws (S, rows, k) of each row chunk.

        The generator is re-created from the same seed for every chunk, so
        every chunk sees the same S functions: a draw is a whole function, and
        predictions do not depend on which rows are passed together.
        """
        seed = self._predict_seed if seed is None else seed
        with self._predict_threads(X, n_draws), torch.no_grad():
            return self._gather(
                X,
                self._row_chunks(X, n_draws),
                lambda chunk: reduce(
                    self.method_.sample_f(chunk, n_draws, make_generator(seed))
                ),
            )

    def _closed_form(self, X, reduce):
        """Apply ``reduce`` to (mean, var) of ``predict_f`` chunk by chunk."""
        with self._predict_threads(X, 1), torch.no_grad():
            return self._gather(
                X,
                self._row_chunks(X, 1),
                lambda chunk: reduce(*self.method_.predict_f(chunk)),
            )

    def _use_closed_form(self):
        return bool(self.method_.closed_form)

    def _prior_draws(self, X, n_samples, random_state):
        """Latent outputs (S, n, k) of networks with weights drawn from the prior.

        Works before ``fit`` when the output width is known without data
        (the regressor); after ``fit`` the input width is checked.
        """
        names = getattr(self, "feature_names_in_", None)
        if hasattr(self, "n_features_in_"):
            X = to_tensor(self._validate_X(X), device=self.device)
        else:
            columns = getattr(X, "columns", None)
            names = None if columns is None else np.asarray(columns, dtype=object)
            X = to_tensor(
                validate_data(self, X, dtype=[np.float64, np.float32], reset=False),
                device=self.device,
            )
        n_samples = _check_n_samples(n_samples)
        generator = Seeds.from_random_state(random_state).generator("init")
        prior = resolve_prior(self.prior, names)
        sizes = [
            X.shape[1],
            *self._hidden_sizes(),
            self._likelihood().n_latent(self._n_outputs()),
        ]
        prior.check_layers(sizes)
        layers = [
            (w.to(X.device), b.to(X.device))
            for w, b in prior.sample_layers(sizes, n_samples, generator)
        ]
        work = len(X) * n_samples * count_weights(sizes)
        with torch_threads(work=work), torch.no_grad():
            return stacked_forward(layers, X, self.activation)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    @abstractmethod
    def _n_outputs(self):
        """Width of the latent output (before any noise column)."""

    @abstractmethod
    def _encode_y(self, y, sample_weight=None):
        """Targets as the training problem expects them."""

    @abstractmethod
    def _encode_y_warm(self, y, sample_weight=None):
        """Targets of a warm-started fit (the classes must not change)."""

    @abstractmethod
    def _encode_y_partial(self, y, sample_weight, classes, first):
        """Targets of a ``partial_fit`` call (``first``: the first call)."""
