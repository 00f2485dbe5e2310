"""Hand-computed fixtures for the binned calibration metrics."""

import numpy as np
import pytest

from skbdl.metrics import (
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    reliability_curve,
)

# Five binary predictions whose confidences sit on the edges 0.6, 0.8 and 1.0
# of five uniform bins [0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1]:
#   conf 0.6 correct, 0.8 wrong, 1.0 correct, 0.7 correct, 0.5 wrong (tie -> 0).
# Bins 0 and 1 are empty; bin 2 = {0.6, 0.5}: acc 1/2, conf 0.55, gap 0.05;
# bin 3 = {0.8, 0.7}: acc 1/2, conf 0.75, gap 0.25; bin 4 = {1.0}: gap 0.
Y_EDGE = np.array([1, 0, 1, 0, 1])
P_EDGE = np.array([[0.4, 0.6], [0.2, 0.8], [0.0, 1.0], [0.7, 0.3], [0.5, 0.5]])


def test_ece_right_closed_bins_and_empty_bins():
    ece = expected_calibration_error(Y_EDGE, P_EDGE, n_bins=5)
    assert ece == pytest.approx(2 / 5 * 0.05 + 2 / 5 * 0.25, abs=1e-15)


def test_reliability_curve_places_edge_confidences_in_lower_bin():
    acc, conf, counts, edges = reliability_curve(Y_EDGE, P_EDGE, n_bins=5)
    np.testing.assert_array_equal(counts, [0, 0, 2, 2, 1])
    np.testing.assert_allclose(acc, [np.nan, np.nan, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(conf, [np.nan, np.nan, 0.55, 0.75, 1.0])
    np.testing.assert_array_equal(edges, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_mce_is_largest_gap_of_non_empty_bins():
    assert maximum_calibration_error(Y_EDGE, P_EDGE, n_bins=5) == pytest.approx(0.25)


def test_ece_sample_weight_hand_computed():
    # Weight 2 on the 0.7-confidence correct sample: bin 3 acc 2/3,
    # conf (0.8 + 2 * 0.7) / 3, total weight 6.
    weight = [1, 1, 1, 2, 1]
    ece = expected_calibration_error(Y_EDGE, P_EDGE, n_bins=5, sample_weight=weight)
    expected = 2 / 6 * 0.05 + 3 / 6 * abs(2 / 3 - 2.2 / 3)
    assert ece == pytest.approx(expected, abs=1e-15)


def test_integer_weights_equal_repeated_rows():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4), size=30)
    y = rng.integers(0, 4, size=30)
    weight = rng.integers(0, 4, size=30)
    y_rep, p_rep = np.repeat(y, weight), np.repeat(proba, weight, axis=0)
    for metric in (expected_calibration_error, maximum_calibration_error,
                   classwise_calibration_error):
        assert metric(y, proba, sample_weight=weight, n_bins=7) == pytest.approx(
            metric(y_rep, p_rep, n_bins=7), abs=1e-12)


def test_ece_quantile_strategy_edges_at_quantiles():
    # Confidences 0.5, 0.6, 0.6, 0.9: the median 0.6 is the inner edge and the
    # two 0.6 samples fall in the lower bin. Correct: no, yes, yes, yes.
    proba = np.array([[0.5, 0.5], [0.4, 0.6], [0.4, 0.6], [0.1, 0.9]])
    y = np.array([1, 1, 1, 1])
    ece = expected_calibration_error(y, proba, n_bins=2, strategy="quantile",
                                     labels=[0, 1])
    lower = 3 / 4 * abs(2 / 3 - 1.7 / 3)
    upper = 1 / 4 * abs(1.0 - 0.9)
    assert ece == pytest.approx(lower + upper, abs=1e-15)
    _, _, counts, edges = reliability_curve(y, proba, n_bins=2, strategy="quantile",
                                            labels=[0, 1])
    np.testing.assert_array_equal(edges, [0.0, 0.6, 1.0])
    np.testing.assert_array_equal(counts, [3, 1])


def test_ece_multiclass_string_labels_and_15_bins():
    # Three classes; confidences 0.8 (bin 11, (11/15, 12/15]), 0.6 (bin 8),
    # 0.6 (bin 8), 0.5 (bin 7). Row 4 predicts "a" for "c": wrong.
    y = np.array(["a", "b", "c", "c"])
    proba = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6], [0.5, 0.2, 0.3]]
    acc, conf, counts, _ = reliability_curve(y, proba)
    assert counts.sum() == 4 and counts[11] == 1 and counts[8] == 2
    assert counts[7] == 1
    expected = 1 / 4 * 0.2 + 2 / 4 * 0.4 + 1 / 4 * 0.5
    assert expected_calibration_error(y, proba) == pytest.approx(expected)


def test_perfectly_calibrated_predictions_have_zero_ece():
    # In each confidence group the accuracy equals the confidence.
    proba = np.array([[0.75, 0.25]] * 4 + [[1.0, 0.0]] * 2)
    y = np.array([0, 0, 0, 1, 0, 0])
    assert expected_calibration_error(y, proba, labels=[0, 1]) == 0.0
    assert maximum_calibration_error(y, proba, labels=[0, 1]) == 0.0


def test_binary_1d_equals_two_columns():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=50)
    y = rng.integers(0, 2, size=50)
    two = np.column_stack([1 - p, p])
    for metric in (expected_calibration_error, maximum_calibration_error,
                   classwise_calibration_error):
        assert metric(y, p) == metric(y, two)


def test_classwise_hand_computed():
    # Class 1 probs 0.1, 0.7, 0.4, 0.45 with outcomes 0, 1, 1, 0:
    # [0, .5]: freq 1/3 vs 0.95/3 (weight 3/4); (.5, 1]: 1 vs 0.7 (weight 1/4).
    # Class 0 is the mirror image and has the same error.
    y = [0, 1, 1, 0]
    proba = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]
    expected = 3 / 4 * abs(1 / 3 - 0.95 / 3) + 1 / 4 * 0.3
    assert classwise_calibration_error(y, proba, n_bins=2) == pytest.approx(expected)


def test_classwise_three_classes_probability_zero_in_first_bin():
    # p = 0 must land in the first bin: class 2 probs 0, 0, 1 with outcomes
    # 0, 0, 1 is perfectly calibrated; classes 0 and 1 are hand computed.
    y = [0, 1, 2]
    proba = [[0.6, 0.4, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]
    # class 0, bins of width 1/2: [0, .5] = {0.5 (out 0), 0 (out 0)} gap 0.25,
    # (.5, 1] = {0.6 (out 1)} gap 0.4 -> 2/3 * .25 + 1/3 * .4
    # class 1: [0, .5] = {.4 (0), .5 (1), 0 (0)} -> |1/3 - .3| = 1/30.
    expected = ((2 / 3 * 0.25 + 1 / 3 * 0.4) + 1 / 30 + 0.0) / 3
    assert classwise_calibration_error(y, proba, n_bins=2) == pytest.approx(expected)


@pytest.mark.parametrize("metric", [expected_calibration_error,
                                    maximum_calibration_error,
                                    classwise_calibration_error,
                                    reliability_curve])
@pytest.mark.parametrize("kwargs, match", [
    ({"n_bins": 0}, "n_bins"),
    ({"strategy": "equal"}, "strategy"),
    ({"y_prob": [[0.5, 0.6], [0.5, 0.5]]}, "sum to 1"),
    ({"y_prob": [[np.nan, 1.0], [0.5, 0.5]]}, "NaN"),
    ({"y_prob": [[1.5, -0.5], [0.5, 0.5]]}, r"\[0, 1\]"),
    ({"y_prob": [[0.5, 0.5]]}, "inconsistent numbers of samples"),
    ({"y_prob": [[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]]}, "labels"),
    ({"labels": [0, 2]}, "not in `labels`"),
    ({"sample_weight": [1.0]}, "sample_weight"),
])
def test_invalid_inputs_raise(metric, kwargs, match):
    args = {"y_true": [0, 1], "y_prob": [[0.5, 0.5], [0.1, 0.9]]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        metric(**args)


def test_float32_probabilities_within_float32_precision_are_accepted():
    # Rows that sum to 1 only to float32 precision. Confidences 0.85 (bin 12
    # of 15, (0.8, 0.867]): one right, one wrong, gap |0.5 - 0.85|; 0.55 (bin
    # 8, (0.533, 0.6]): both right, gap 0.45. Far from the bin edges, so the
    # float32 rounding (relative 6e-8) only moves the value by ~1e-7.
    proba = np.array([[0.85, 0.1, 0.05], [0.1, 0.85, 0.05], [0.55, 0.3, 0.15],
                      [0.3, 0.15, 0.55]], dtype=np.float32)
    assert np.any(proba.astype(np.float64).sum(axis=1) != 1.0)
    y = [0, 0, 0, 2]
    expected = 2 / 4 * abs(0.5 - 0.85) + 2 / 4 * abs(1.0 - 0.55)
    ece = expected_calibration_error(y, proba, labels=[0, 1, 2])
    assert ece == pytest.approx(expected, abs=1e-6)
    rng = np.random.default_rng(2)  # and a larger float32 case equals float64
    proba = rng.dirichlet(np.ones(10), size=200).astype(np.float32)
    y = rng.integers(0, 10, size=200)
    ece32 = expected_calibration_error(y, proba, labels=np.arange(10))
    p64 = proba.astype(np.float64)
    ece64 = expected_calibration_error(y, p64 / p64.sum(1, keepdims=True),
                                       labels=np.arange(10))
    assert ece32 == pytest.approx(ece64, abs=1e-6)
