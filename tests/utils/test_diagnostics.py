"""R-hat and ESS against ArviZ (arviz-stats), and their behaviour on known chains.

The oracle is ``arviz_stats.base.array_stats``, ArviZ's numpy layer:
``rhat(ary, method="rank")``, ``ess(ary, method="bulk")`` and
``ess(ary, method="tail", prob=(0.05, 0.95))`` on an array of shape
``(chain, draw)``.
"""

import warnings

import numpy as np
import pytest

from skbdl.utils._diagnostics import ess_bulk, ess_tail, split_rhat

RTOL = 1e-10


def _ar1(phi, n_chains, n_draws, seed):
    """Stationary Gaussian AR(1) chains ``x_t = phi x_{t-1} + e_t``."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n_chains, n_draws))
    x = np.empty((n_chains, n_draws))
    x[:, 0] = noise[:, 0] / np.sqrt(1.0 - phi**2)
    for t in range(1, n_draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def _cases():
    rng = np.random.default_rng(20210101)
    return {
        "iid": rng.normal(size=(4, 500)),
        "separated": rng.normal(size=(4, 500)) + np.arange(4.0)[:, None],
        "ar1_0.95": _ar1(0.95, 4, 500, seed=1),
        "odd_draws": rng.normal(size=(4, 501)),
        "two_chains": rng.normal(size=(2, 400)),
        "cauchy": rng.standard_cauchy(size=(4, 500)),
        "antithetic": _ar1(-0.7, 3, 201, seed=2),
        "four_draws": rng.normal(size=(3, 4)),
        # Ties: ranks are averaged.
        "discrete": rng.integers(0, 3, size=(4, 100)).astype(float),
        # Its Geyer sum runs to the last admissible pair of lags, whose even
        # lag has a negative autocorrelation (and still counts).
        "short_to_last_lag": _ar1(0.0, 4, 21, seed=25),
    }


CASES = _cases()


@pytest.fixture(scope="module")
def az():
    return pytest.importorskip("arviz_stats.base").array_stats


@pytest.mark.parametrize("name", sorted(CASES))
def test_split_rhat_matches_arviz(az, name):
    draws = CASES[name]
    expected = float(az.rhat(draws, method="rank"))
    assert np.isfinite(expected)
    np.testing.assert_allclose(split_rhat(draws), expected, rtol=RTOL)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ess_bulk_matches_arviz(az, name):
    draws = CASES[name]
    expected = float(az.ess(draws, method="bulk"))
    np.testing.assert_allclose(ess_bulk(draws), expected, rtol=RTOL)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ess_tail_matches_arviz(az, name):
    draws = CASES[name]
    expected = float(az.ess(draws, method="tail", prob=(0.05, 0.95)))
    np.testing.assert_allclose(ess_tail(draws), expected, rtol=RTOL)
    np.testing.assert_allclose(ess_tail(draws, prob=0.05), expected, rtol=RTOL)


def test_random_short_chains_match_arviz(az):
    """Short chains reach every branch of the Geyer truncation."""
    rng = np.random.default_rng(7)
    for seed in range(60):
        n_chains = int(rng.integers(1, 5))
        n_draws = int(rng.integers(4, 40))
        draws = _ar1(rng.uniform(-0.9, 0.98), n_chains, n_draws, seed=seed)
        np.testing.assert_allclose(
            ess_bulk(draws), float(az.ess(draws, method="bulk")), rtol=RTOL
        )
        if n_chains > 1:
            np.testing.assert_allclose(
                split_rhat(draws), float(az.rhat(draws, method="rank")), rtol=RTOL
            )


def test_one_chain(az):
    """One chain: ESS as ArviZ; R-hat between the two halves of the chain.

    ArviZ's ``rhat`` returns nan for one chain, so the R-hat oracle is built
    from its (private) steps: split, rank-normalise, classic R-hat, for the
    draws and for the folded draws.
    """
    draws = _ar1(0.5, 1, 301, seed=3)
    np.testing.assert_allclose(
        ess_bulk(draws), float(az.ess(draws, method="bulk")), rtol=RTOL
    )
    split = az._split_chains(draws)
    folded = np.abs(split - np.median(split))
    expected = max(az._rhat(az._z_scale(split)), az._rhat(az._z_scale(folded)))
    np.testing.assert_allclose(split_rhat(draws), expected, rtol=RTOL)
    # A 1-D array is one chain.
    assert split_rhat(draws[0]) == split_rhat(draws)
    assert ess_bulk(draws[0]) == ess_bulk(draws)
    # A chain whose halves disagree is flagged.
    drifting = draws[0] + np.linspace(0.0, 6.0, draws.shape[1])
    assert split_rhat(drifting) > 1.1


def test_constant_draws_as_arviz(az):
    """All draws equal: R-hat nan, ESS the number of split draws (as ArviZ)."""
    draws = np.full((4, 11), 2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(float(az.rhat(draws, method="rank")))
        expected_ess = float(az.ess(draws, method="bulk"))
    assert np.isnan(split_rhat(draws))
    assert ess_bulk(draws) == expected_ess == 4 * 10
    assert ess_tail(draws) == 4 * 10


def test_rhat_flags_separated_chains():
    assert split_rhat(CASES["separated"]) > 1.1
    assert split_rhat(CASES["iid"]) < 1.01


def test_ess_of_iid_draws_is_close_to_their_number():
    draws = CASES["iid"]
    assert abs(ess_bulk(draws) / draws.size - 1.0) < 0.1
    assert abs(ess_tail(draws) / draws.size - 1.0) < 0.2


def test_ess_of_ar1_matches_theory():
    """For AR(1), ESS ~= n (1 - phi) / (1 + phi)."""
    phi = 0.9
    draws = _ar1(phi, 4, 2000, seed=4)
    theory = draws.size * (1.0 - phi) / (1.0 + phi)
    assert abs(ess_bulk(draws) / theory - 1.0) < 0.3


def test_ess_is_capped():
    """Antithetic chains: ESS capped at S log10(S), S the number of draws."""
    draws = _ar1(-0.9, 4, 500, seed=5)
    size = draws.size
    assert ess_bulk(draws) > size
    assert ess_bulk(draws) <= size * np.log10(size) * (1 + 1e-12)


@pytest.mark.parametrize("func", [split_rhat, ess_bulk, ess_tail])
@pytest.mark.parametrize(
    "draws, match",
    [
        (np.zeros((4, 3)), "at least 4 draws"),
        (np.zeros(3), "at least 4 draws"),
        (np.zeros((0, 10)), "at least one chain"),
        (np.zeros((2, 3, 10)), "shape"),
        (np.zeros(()), "shape"),
    ],
)
def test_bad_shapes_raise(func, draws, match):
    with pytest.raises(ValueError, match=match):
        func(draws)


@pytest.mark.parametrize("func", [split_rhat, ess_bulk, ess_tail])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_draws_raise(func, bad):
    draws = np.random.default_rng(0).normal(size=(2, 50))
    draws[1, 7] = bad
    with pytest.raises(ValueError, match="finite"):
        func(draws)
