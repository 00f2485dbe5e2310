"""Scoring rules against scikit-learn (1e-12) and hand-computed cases."""

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, top_k_accuracy_score

from skbdl.metrics import (
    brier_score,
    negative_log_likelihood,
    ood_auroc,
    top_k_accuracy,
)

RNG = np.random.default_rng(0)
P3 = RNG.dirichlet(np.ones(3), size=40)
Y3 = RNG.integers(0, 3, size=40)
P1 = RNG.uniform(size=40)
Y2 = RNG.integers(0, 2, size=40)
W = RNG.uniform(0.1, 2.0, size=40)
NAMES = np.array(["cat", "dog", "eel"])

CASES = {
    "binary-1d": (Y2, P1, {}),
    "binary-2d": (Y2, np.column_stack([1 - P1, P1]), {}),
    "binary-strings": (NAMES[Y2], P1, {}),  # 1-D: probability of "dog"
    "multiclass": (Y3, P3, {}),
    "multiclass-strings": (NAMES[Y3], P3, {}),
    "missing-class": (np.where(Y3 == 1, 0, Y3), P3, {"labels": [0, 1, 2]}),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scale_by_half", ["auto", True, False])
def test_brier_equals_sklearn(case, weighted, scale_by_half):
    y, p, kw = CASES[case]
    kw = dict(kw, sample_weight=W if weighted else None, scale_by_half=scale_by_half)
    # scikit-learn needs pos_label for 1-D string labels; skbdl, like log_loss,
    # takes the greater label.
    sk_kw = dict(kw, pos_label="dog") if case == "binary-strings" else kw
    assert abs(brier_score(y, p, **kw) - brier_score_loss(y, p, **sk_kw)) <= 1e-12


def test_brier_halving_convention_hand_computed():
    # Binary: mean (y - p)^2. Multiclass: full sum over classes, not halved.
    assert brier_score([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    proba = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1]]
    assert brier_score([0, 1], proba, labels=[0, 1, 2]) == pytest.approx(
        (0.04 + 0.01 + 0.01 + 0.04 + 0.09 + 0.01) / 2)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_equals_log_loss(case, weighted):
    y, p, kw = CASES[case]
    kw = dict(kw, sample_weight=W if weighted else None)
    assert abs(negative_log_likelihood(y, p, **kw) - log_loss(y, p, **kw)) <= 1e-12


def test_nll_clips_zero_probability_like_log_loss():
    proba = np.array([[1.0, 0.0], [0.3, 0.7]])
    for dtype in (np.float64, np.float32):
        ours = negative_log_likelihood([1, 1], proba.astype(dtype), labels=[0, 1])
        theirs = log_loss([1, 1], proba.astype(dtype), labels=[0, 1])
        assert np.isfinite(ours)
        assert ours == pytest.approx(theirs, rel=1e-6)
    eps = np.finfo(np.float64).eps
    assert negative_log_likelihood([1, 1], proba, labels=[0, 1]) == pytest.approx(
        (-np.log(eps) - np.log(0.7)) / 2, abs=1e-12)


def test_top_k_equals_sklearn_with_ties():
    # Probabilities rounded to one decimal create many ties.
    proba = np.round(RNG.dirichlet(np.ones(4), size=60), 1)
    proba /= proba.sum(axis=1, keepdims=True)
    y = RNG.integers(0, 4, size=60)
    for k in (1, 2, 3):
        ours = top_k_accuracy(y, proba, k=k, sample_weight=W[:1].repeat(60))
        theirs = top_k_accuracy_score(y, proba, k=k, labels=[0, 1, 2, 3])
        assert abs(ours - theirs) <= 1e-12


def test_top_k_binary_1d_equals_sklearn_including_half():
    p = np.r_[P1, 0.5, 0.5]
    y = np.r_[Y2, 0, 1]
    assert abs(top_k_accuracy(y, p, k=1) - top_k_accuracy_score(y, p, k=1)) <= 1e-12


def test_top_k_hand_computed():
    proba = [[0.5, 0.2, 0.3], [0.3, 0.4, 0.3], [0.2, 0.4, 0.4]]
    # Row 2 ranks 1 then (2 beats 0 on the tie); row 3 ranks 2, 1, 0.
    assert top_k_accuracy([0, 2, 0], proba, k=2, labels=[0, 1, 2]) == pytest.approx(
        2 / 3)
    assert top_k_accuracy([0, 2, 0], proba, k=1, labels=[0, 1, 2]) == pytest.approx(
        1 / 3)


def test_ood_auroc_hand_computed_and_ties():
    assert ood_auroc([0.1, 0.2, 0.5], [0.4, 0.9]) == pytest.approx(5 / 6)
    assert ood_auroc([1.0, 1.0], [1.0, 2.0]) == pytest.approx(0.75)
    assert ood_auroc([0.0, 0.1], [0.5, 0.6]) == 1.0
    assert ood_auroc([0.5, 0.6], [0.0, 0.1]) == 0.0


def test_ood_auroc_validates_inputs():
    with pytest.raises(ValueError, match="scores_out must be 1-D"):
        ood_auroc([0.1, 0.2], [[0.3, 0.4]])
    with pytest.raises(ValueError, match="NaN"):
        ood_auroc([0.1, np.nan], [0.3])


def test_single_class_y_true_with_1d_proba_asks_for_labels():
    with pytest.raises(ValueError, match="labels"):
        brier_score([1, 1], [0.2, 0.9])
    assert brier_score([1, 1], [0.2, 0.9], labels=[0, 1]) == pytest.approx(
        (0.64 + 0.01) / 2)
