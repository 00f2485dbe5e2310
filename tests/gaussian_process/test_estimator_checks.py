"""scikit-learn's estimator checks for the GP estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skbdl.gaussian_process import GPRegressor


@parametrize_with_checks([GPRegressor()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
