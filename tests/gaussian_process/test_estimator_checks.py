"""scikit-learn's estimator checks for the GP estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skbdl.gaussian_process import DeepKernelRegressor, GPRegressor


@parametrize_with_checks(
    [GPRegressor(), DeepKernelRegressor(hidden_layer_sizes=(16,), max_epochs=25)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
