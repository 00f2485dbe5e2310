"""scikit-learn's estimator checks for both Bayesian MLPs and every method.

The configurations iterate ``skbdl.inference.METHODS``, so a newly
registered method is checked automatically.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skbdl.inference import METHODS
from skbdl.neural_network import BayesianMLPClassifier, BayesianMLPRegressor

# Small configurations keep CI time down: 16 hidden units, 2 ensemble members
# and 20 epochs at lr=1e-2 instead of 200 at 1e-3 (the default batch size).
# The checks' data have 20-300 rows, so this is still real training and the
# ``poor_score`` checks (accuracy > 0.83, R^2 > 0.5) stay meaningful; 20 epochs
# at the default lr=1e-3 fail check_regressors_train (R^2 < 0.5) by
# under-training. The full defaults run in the doctests.
_SMALL_METHOD = {"n_members": 2}
_FAST = {"hidden_layer_sizes": (16,), "max_epochs": 20, "lr": 1e-2,
         "random_state": 0}


def _small_method(cls):
    method = cls()
    params = method.get_params(deep=False)
    method.set_params(**{k: v for k, v in _SMALL_METHOD.items() if k in params})
    return method


def _estimators():
    for cls in METHODS.values():
        for Est in (BayesianMLPClassifier, BayesianMLPRegressor):
            yield Est(method=_small_method(cls), **_FAST)


# check_methods_subset_invariance compares predictions on row batches with
# rtol=atol=1e-7. The network runs in float32 and MKL's float32 matmul rounds
# a row differently depending on how many rows are in the call, so a
# prediction can move by a few float32 ulps of the standardised mean times
# the target scale. The draws are the same functions for any rows
# (tests/inference/test_contract.py), and subset, order and chunk
# invariance is tested at float32 precision in test_sklearn_integration.py.
# Only the configurations measured to trip it are listed (every other
# configuration runs the check for real):
FLOAT32_SUBSET = {
    ("BayesianMLPRegressor", "Laplace()"):
        "predict differs by up to 3.7e-7 (absolute) between row batches: float32 "
        "rounding of the network's mean, not a change of the posterior draw.",
}


def float32_subset_failures(estimator, known):
    """The expected failure of ``estimator`` if its configuration is in ``known``."""
    key = (type(estimator).__name__, repr(estimator.method))
    return {"check_methods_subset_invariance": known[key]} if key in known else {}


# check_sample_weight_equivalence_on_dense_data fits 15 rows with integer
# weights and their repeats (about 30 rows), shuffled, and compares the
# predictions at rtol=1e-7. The energies are the same, but the training is
# not: measured for MAP, batch_size="auto" gives 8-row minibatches over 15
# rows against 8-row minibatches over about 30 (other batches, twice the
# steps per epoch), and predictions differ by up to 0.37 (probabilities) and
# 0.98 (regression); with one full batch they agree to float32 rounding
# (4e-8 absolute on the probabilities, which still fails rtol=1e-7).
# tests/neural_network/test_sample_weight.py tests the equivalence with full
# batches at 1e-5 for every method whose training allows it.
_SW_REASON = (
    "Minibatches are drawn over rows: the weighted rows and their repeats give "
    "different batches and steps per epoch (full-batch fits agree to 1e-5 in "
    "test_sample_weight.py, not to this check's rtol=1e-7 in float32)."
)
_SW_EXTRA = {
    "VI": " VI also draws its training noise per row.",
    "MCDropout": " MC dropout also draws its training masks per row.",
    "Laplace": " Laplace's held-out split (prior_precision='holdout') is over rows.",
}


def sample_weight_failures(estimator):
    """Expected failure of the sample-weight equivalence check, with its reason."""
    name = type(estimator.method).__name__
    extra = _SW_EXTRA.get(name, "")
    if name == "Laplace" and estimator.method.prior_precision != "holdout":
        extra = ""
    return {"check_sample_weight_equivalence_on_dense_data": _SW_REASON + extra}


def _expected_failed_checks(estimator):
    return {**float32_subset_failures(estimator, FLOAT32_SUBSET),
            **sample_weight_failures(estimator)}


@parametrize_with_checks(list(_estimators()),
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
