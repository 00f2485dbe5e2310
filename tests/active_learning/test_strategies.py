"""Acquisition functions against hand-computed values and brute force."""

import itertools
import math

import numpy as np
import pytest

from skbdl.active_learning import (
    _strategies,
    bald,
    batch_bald,
    entropy,
    least_confidence,
    margin,
    max_std,
    stochastic_batch,
    top_k,
    variation_ratios,
)
from skbdl.active_learning._strategies import _joint_entropies, _sample_configs
from skbdl.utils._math import entropy as entropy_nd

# Four rows, three classes, two draws: draws[i, :, s] is draw s of row i.
DRAWS = np.array(
    [
        [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]],  # certain, draws agree
        [[0.5, 0.5], [0.5, 0.5], [0.0, 0.0]],  # uncertain, draws agree
        [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]],  # draws certain but disagree
        [[0.6, 0.2], [0.3, 0.3], [0.1, 0.5]],  # both
    ]
)
MEAN = DRAWS.mean(axis=2)  # [1,0,0], [.5,.5,0], [.5,.5,0], [.4,.3,.3]
L = math.log
H3 = -(0.4 * L(0.4) + 2 * 0.3 * L(0.3))  # entropy of row 3's mean
H3_DRAWS = (
    -(0.6 * L(0.6) + 0.3 * L(0.3) + 0.1 * L(0.1))
    - (0.2 * L(0.2) + 0.3 * L(0.3) + 0.5 * L(0.5))
) / 2


def test_single_row_strategies_on_a_hand_computed_example():
    np.testing.assert_allclose(least_confidence(MEAN), [0.0, 0.5, 0.5, 0.6])
    np.testing.assert_allclose(margin(MEAN), [0.0, 1.0, 1.0, 0.9])
    np.testing.assert_allclose(entropy(MEAN), [0.0, L(2), L(2), H3])
    # row 1's draws tie between classes 0 and 1; argmax takes class 0 for both
    np.testing.assert_allclose(variation_ratios(DRAWS), [0.0, 0.0, 0.5, 0.5])
    np.testing.assert_allclose(bald(DRAWS), [0.0, 0.0, L(2), H3 - H3_DRAWS])
    np.testing.assert_array_equal(max_std([0.1, 3.0]), [0.1, 3.0])


def test_bald_is_entropy_of_mean_minus_mean_entropy():
    rng = np.random.default_rng(0)
    draws = rng.dirichlet(np.ones(4), size=(50, 7)).transpose(0, 2, 1)
    expected = entropy(draws.mean(2)) - np.mean(
        [entropy(draws[:, :, s]) for s in range(7)], axis=0
    )
    np.testing.assert_allclose(bald(draws), expected, rtol=1e-12)
    assert np.all(bald(draws) >= 0)


def test_top_k_breaks_ties_at_random_and_reproducibly():
    scores = np.array([1.0, 5.0, 5.0, 5.0, 0.0])
    picks = {tuple(top_k(scores, 2, random_state=s)) for s in range(30)}
    assert all(set(p) <= {1, 2, 3} for p in picks) and len(picks) > 1
    np.testing.assert_array_equal(top_k(scores, 2, 3), top_k(scores, 2, 3))
    np.testing.assert_array_equal(top_k([0.1, 0.9, 0.5], 3, 0), [1, 2, 0])


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
@pytest.mark.parametrize("mode", [None, "power", "softmax", "softrank"])
def test_chunked_selection_equals_a_full_sort_for_any_chunk_size(
    monkeypatch, chunk, mode
):
    # many ties and zero-weight rows: the selection must equal the full
    # lexicographic sort by (key, tiebreak) with the same tiebreaks, and must
    # not depend on the chunk it merges at a time
    scores = np.random.default_rng(0).integers(0, 4, size=50).astype(float)
    monkeypatch.setattr(_strategies, "_SELECT_CHUNK", chunk)
    rng = np.random.default_rng(5)
    if mode is None:
        got = top_k(scores, 20, random_state=np.random.default_rng(5))
        key, tie = scores, rng.random(50)
    else:
        got = stochastic_batch(scores, 20, mode=mode,
                               random_state=np.random.default_rng(5))  # fmt: skip
        tie = rng.gumbel(size=50)
        ranks = np.empty(50)
        ranks[np.argsort(-scores, kind="stable")] = np.arange(1, 51)
        with np.errstate(divide="ignore"):
            logit = {"power": np.log(scores), "softmax": scores,
                     "softrank": -np.log(ranks)}[mode]  # fmt: skip
        key = np.where(np.isneginf(logit), -np.inf, logit + tie)
    np.testing.assert_array_equal(got, np.lexsort((-tie, -key))[:20])


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        top_k([0.1, np.nan], 1)
    with pytest.raises(ValueError, match="NaN"):
        stochastic_batch([0.1, np.nan], 1)


def _brute_joint_mi(draws, rows):
    """I(y_rows; theta) by enumerating every labelling of the rows."""
    n, k, s = draws.shape
    h = 0.0
    for labels in itertools.product(range(k), repeat=len(rows)):
        p = np.mean(np.prod([draws[r, y] for r, y in zip(rows, labels)], axis=0))
        h -= p * math.log(p) if p > 0 else 0.0
    conditional = sum(entropy_nd(draws[r], axis=0).mean() for r in rows)
    return h - conditional


def test_batch_bald_of_one_row_is_bald():
    rng = np.random.default_rng(1)
    draws = rng.dirichlet(np.ones(3), size=(40, 6)).transpose(0, 2, 1)
    idx, gains = batch_bald(draws, 1, random_state=0)
    assert idx[0] == np.argmax(bald(draws))
    assert gains[0] == pytest.approx(bald(draws).max(), rel=1e-12)


def test_batch_bald_is_greedy_joint_mutual_information():
    rng = np.random.default_rng(2)
    draws = rng.dirichlet(np.full(3, 0.3), size=(12, 5)).transpose(0, 2, 1)
    # 3^2 = 9 labellings stay below the budget: every step is exact
    idx, gains = batch_bald(draws, 3, n_configurations=100, random_state=0)
    for j in range(3):
        brute = [
            _brute_joint_mi(draws, [*idx[:j], i]) if i not in idx[:j] else -np.inf
            for i in range(12)
        ]
        assert idx[j] == int(np.argmax(brute))
        assert gains[:j + 1].sum() == pytest.approx(max(brute), rel=1e-10)


def test_sampled_joint_entropy_matches_the_exact_sum():
    rng = np.random.default_rng(3)
    draws = rng.dirichlet(np.full(3, 0.5), size=(6, 8)).transpose(0, 2, 1)
    chosen = [draws[0], draws[1], draws[2]]
    exact = np.ones((1, 8))
    for p in chosen:
        exact = (exact[:, None, :] * p[None]).reshape(-1, 8)
    h_exact = _joint_entropies(exact, np.ones(len(exact)), draws[3:])
    m = 200_000
    configs, weights = _sample_configs(chosen, m, np.random.default_rng(0))
    h_mc = _joint_entropies(configs, weights, draws[3:])
    # the estimator averages m i.i.d. terms sum_y -q log q / P(config); its
    # standard error is their std / sqrt(m); allow 5 of them
    for r in range(3):
        q = configs @ draws[3 + r].T / 8  # (m, k)
        terms = -(q * np.log(q)).sum(1) / configs.mean(1)
        assert abs(h_mc[r] - h_exact[r]) < 5 * terms.std() / math.sqrt(m)


def test_batch_bald_never_repeats_an_exact_duplicate_while_top_k_bald_does():
    # 8 inputs whose draws are one-hot labels (each draw is certain), each
    # in the pool three times: a copy's label is fixed once the original's
    # is, so it adds no information; a new input adds some as long as the
    # batch's labels have not singled out one draw (4 picks carry at most
    # 4 log 3 = 4.4 nats < log 512 = 6.2).
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=(8, 512))
    base = np.eye(3)[labels].transpose(0, 2, 1)  # (8, 3, 512)
    pool = np.repeat(base, 3, axis=0)  # rows 3i, 3i+1, 3i+2 are input i
    for budget in (1000, 20):  # exact, then sampled labellings
        idx, gains = batch_bald(pool, 4, n_configurations=budget, random_state=0)
        assert len(set(idx // 3)) == 4
        assert np.all(gains > 0.1)
    naive = top_k(bald(pool), 4, random_state=0)
    assert len(set(naive // 3)) < 4


def test_stochastic_batch_frequencies_and_cold_limit():
    # P(row 1) = 3/4 under power (1 vs 3), softmax (e^0 vs e^ln3); 2/3 under
    # softrank (1 vs 1/2). 4000 draws: 4 binomial standard errors.
    for mode, scores, p in [
        ("power", [1.0, 3.0], 0.75),
        ("softmax", [0.0, math.log(3)], 0.75),
        ("softrank", [1.0, 3.0], 2 / 3),
    ]:
        rng = np.random.default_rng(5)
        hits = np.mean(
            [stochastic_batch(scores, 1, mode=mode, random_state=rng)[0] == 1
             for _ in range(4000)]
        )  # fmt: skip
        assert abs(hits - p) < 4 * math.sqrt(p * (1 - p) / 4000)
    scores = np.random.default_rng(6).random(50)
    cold = stochastic_batch(scores, 5, temperature=1e-6, random_state=0)
    np.testing.assert_array_equal(cold, top_k(scores, 5))
    # zero-weight rows still fill a batch larger than the positive ones
    assert sorted(stochastic_batch([0.0, 2.0, 0.0], 3, random_state=0)) == [0, 1, 2]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: margin([[1.0], [1.0]]), "two classes"),
        (lambda: bald(np.ones((3, 2))), "n_draws"),
        (lambda: entropy(np.ones(3)), "n_classes"),
        (lambda: top_k([1.0, 2.0], 3), "pool of 2"),
        (lambda: stochastic_batch([1.0], 1, temperature=0), "temperature"),
        (lambda: stochastic_batch([-1.0], 1), "non-negative"),
        (lambda: stochastic_batch([1.0], 1, mode="x"), "mode"),
        (lambda: batch_bald(np.ones((2, 2, 2)) / 2, 1, n_configurations=0),
         "n_configurations"),
    ],
)  # fmt: skip
def test_bad_arguments_are_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
