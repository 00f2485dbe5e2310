"""Regression metrics: hand values, numerical integration and brute force."""

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from skbdl.metrics import (
    crps_ensemble,
    crps_gaussian,
    gaussian_nll,
    interval_coverage,
    interval_width,
    regression_calibration_curve,
    regression_calibration_error,
)


def _crps_by_quadrature(cdf, y, lo, hi, breaks=()):
    """Integral of (F(x) - 1[x >= y])^2 over [lo, hi], split at y and breaks."""
    points = np.unique(np.r_[lo, hi, y, breaks])
    return sum(
        integrate.quad(lambda x: (cdf(x) - (x >= y)) ** 2, a, b, limit=200,
                       epsabs=1e-13, epsrel=1e-12)[0]
        for a, b in zip(points[:-1], points[1:])
    )


def test_crps_gaussian_sanity_value():
    expected = 2 / np.sqrt(2 * np.pi) - 1 / np.sqrt(np.pi)
    assert crps_gaussian([0.0], [0.0], [1.0]) == pytest.approx(expected, abs=1e-15)
    assert round(expected, 4) == 0.2337


@pytest.mark.parametrize("y, mu, sigma", [(0.0, 0.0, 1.0), (1.3, 0.2, 0.7),
                                          (-4.0, 1.0, 2.5), (10.0, 0.0, 0.3)])
def test_crps_gaussian_matches_numerical_integration(y, mu, sigma):
    cdf = norm(mu, sigma).cdf
    numeric = _crps_by_quadrature(cdf, y, mu - 40 * sigma, max(y, mu) + 40 * sigma)
    assert crps_gaussian([y], [mu], [sigma]) == pytest.approx(numeric, abs=1e-8)


def test_crps_gaussian_averages_and_weights():
    y, mu, sigma = [0.0, 1.0], [0.0, 0.0], [1.0, 2.0]
    single = [crps_gaussian([a], [b], [c]) for a, b, c in zip(y, mu, sigma)]
    assert crps_gaussian(y, mu, sigma) == pytest.approx(np.mean(single))
    weighted = crps_gaussian(y, mu, sigma, sample_weight=[1, 3])
    assert weighted == pytest.approx((single[0] + 3 * single[1]) / 4)


def test_crps_ensemble_equals_brute_force_double_sum():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(7, 13))
    y = rng.normal(size=7)
    brute = np.mean(np.abs(draws - y[:, None]), axis=1) - 0.5 * np.mean(
        np.abs(draws[:, :, None] - draws[:, None, :]), axis=(1, 2))
    assert crps_ensemble(y, draws) == pytest.approx(brute.mean(), abs=1e-13)


def test_crps_ensemble_matches_integral_of_empirical_cdf():
    draws = np.array([-1.0, 0.3, 0.3, 2.0])
    y = 0.5

    def ecdf(x):
        return np.mean(draws <= x)

    numeric = _crps_by_quadrature(ecdf, y, -5.0, 5.0, breaks=draws)
    assert crps_ensemble([y], [draws]) == pytest.approx(numeric, abs=1e-10)


def test_crps_ensemble_hand_values_and_gaussian_limit():
    assert crps_ensemble([0.0], [[-1.0, 1.0]]) == pytest.approx(1 - 0.5 * 1)
    assert crps_ensemble([2.0], [[0.5]]) == pytest.approx(1.5)  # |x - y|
    # Draws at the quantiles of N(0.2, 0.7^2) reproduce the closed form.
    m = 4000
    draws = norm(0.2, 0.7).ppf((np.arange(m) + 0.5) / m)
    assert crps_ensemble([1.3], [draws]) == pytest.approx(
        crps_gaussian([1.3], [0.2], [0.7]), abs=1e-4)


def test_crps_ensemble_shape_error():
    with pytest.raises(ValueError, match=r"\(n_samples, n_draws\)"):
        crps_ensemble([0.0, 1.0], [[0.0, 1.0]])


def test_gaussian_nll_hand_and_scipy():
    half_log_2pi = 0.5 * np.log(2 * np.pi)
    assert gaussian_nll([0.0], [0.0], [1.0]) == pytest.approx(half_log_2pi, abs=1e-15)
    # y = 1, mu = 0, sigma = 2: 0.5 log 2 pi + log 2 + 1 / 8
    assert gaussian_nll([1.0], [0.0], [2.0]) == pytest.approx(
        half_log_2pi + np.log(2) + 0.125, abs=1e-15)
    rng = np.random.default_rng(1)
    y, mu, sd = rng.normal(size=(3, 20))
    sd = np.abs(sd) + 0.1
    assert gaussian_nll(y, mu, sd) == pytest.approx(
        -norm.logpdf(y, mu, sd).mean(), abs=1e-12)


def test_multioutput_is_uniform_average():
    y = np.array([[0.0, 1.0], [2.0, -1.0]])
    mu = np.zeros((2, 2))
    sd = np.array([[1.0, 2.0], [0.5, 1.0]])
    for metric in (gaussian_nll, crps_gaussian):
        per_output = [metric(y[:, j], mu[:, j], sd[:, j]) for j in range(2)]
        assert metric(y, mu, sd) == pytest.approx(np.mean(per_output))


@pytest.mark.parametrize("metric", [gaussian_nll, crps_gaussian,
                                    regression_calibration_error])
def test_gaussian_metrics_validate_std_and_shapes(metric):
    with pytest.raises(ValueError, match="std must be strictly positive"):
        metric([0.0, 1.0], [0.0, 0.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="shape of y_true"):
        metric([0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        metric([0.0, np.nan], [0.0, 0.0], [1.0, 1.0])


def test_interval_coverage_closed_intervals_hand():
    # y on both ends counts as covered; 3.0 > 2 is outside.
    y = [0.0, 1.0, 3.0, 2.0]
    assert interval_coverage(y, [0, 0, 0, 2], [1, 1, 2, 4]) == 0.75
    assert interval_coverage(y, [0, 0, 0, 2], [1, 1, 2, 4],
                             sample_weight=[1, 1, 2, 0]) == 0.5
    with pytest.raises(ValueError, match="lower must not exceed upper"):
        interval_coverage([0.0], [1.0], [0.0])


def test_interval_width_hand():
    assert interval_width([-1.0, 0.0], [1.0, 3.0]) == 2.5
    assert interval_width([-1.0, 0.0], [1.0, 3.0], sample_weight=[3, 1]) == 2.25


def test_regression_calibration_curve_hand():
    # PIT values 0.5, Phi(1), Phi(-2), Phi(2); a PIT on a level counts (<=).
    y, mu, sd = [0.0, 1.0, -2.0, 2.0], [0.0] * 4, [1.0] * 4
    expected, observed = regression_calibration_curve(y, mu, sd,
                                                      levels=[0.25, 0.5, 0.75])
    np.testing.assert_array_equal(expected, [0.25, 0.5, 0.75])
    np.testing.assert_array_equal(observed, [0.25, 0.5, 0.5])
    # Central intervals: |PIT - .5| <= level / 2; Phi(1) - .5 = 0.3413.
    _, covered = regression_calibration_curve(y, mu, sd, levels=[0.5, 0.7, 0.99],
                                              kind="interval")
    np.testing.assert_array_equal(covered, [0.25, 0.5, 1.0])
    error = regression_calibration_error(y, mu, sd, levels=[0.25, 0.5, 0.75])
    assert error == pytest.approx(0.25**2 / 3)


def test_regression_calibration_default_levels_and_large_sample():
    # y ~ N(0, 1). Predicting N(0, sd^2), the fraction below the p-quantile
    # is q = Phi(sd * Phi^-1(p)), estimated from n draws with standard error
    # s = sqrt(q (1 - q) / n); every bound below allows 5 standard errors.
    n = 20000
    rng = np.random.default_rng(3)
    y = rng.normal(size=n)
    expected, observed = regression_calibration_curve(y, np.zeros_like(y),
                                                      np.ones_like(y))
    p = np.arange(1, 20) / 20
    np.testing.assert_allclose(expected, p)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(observed - p) <= 5 * se)
    # Calibrated: CE = mean_j e_j^2 with |e_j| <= 5 s_j.
    calibrated = regression_calibration_error(y, 0 * y, 0 * y + 1)
    assert calibrated <= np.mean((5 * se) ** 2)
    # Over-confident (sd 0.5): CE = mean_j (p_j - q_j - e_j)^2 differs from
    # mean_j (p_j - q_j)^2 by at most mean_j (2 |p_j - q_j| 5 s_j + (5 s_j)^2).
    q = norm.cdf(norm.ppf(p) / 0.5)
    s_q = np.sqrt(q * (1 - q) / n)
    overconfident = regression_calibration_error(y, 0 * y, 0 * y + 0.5)
    tol = np.mean(2 * np.abs(p - q) * 5 * s_q + (5 * s_q) ** 2)
    assert overconfident == pytest.approx(np.mean((p - q) ** 2), abs=tol)


def test_regression_calibration_invalid_levels():
    with pytest.raises(ValueError, match="levels"):
        regression_calibration_curve([0.0], [0.0], [1.0], levels=[0.0, 0.5])
    with pytest.raises(ValueError, match="kind"):
        regression_calibration_curve([0.0], [0.0], [1.0], kind="two-sided")
