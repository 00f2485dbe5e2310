"""MCMC convergence diagnostics: rank-normalised split-R-hat and ESS.

These follow Vehtari, Gelman, Simpson, Carpenter & Buerkner (2021) and agree
with ArviZ (``arviz_stats``) to rounding error on valid input (see the
deviations listed below). They are pure numpy/scipy functions of a
``(n_chains, n_draws)`` array of scalar draws.

Why function-space traces
-------------------------
In skbdl they are meant to be computed on *function-space* traces, scalar
quantities whose value does not depend on how the network is parametrised:
the training energy (negative log joint) of each draw, or the predictive
log-probability of a few fixed probe inputs. They are not meant for the raw
network weights. A neural network's weights are not identifiable: permuting
the hidden units of a layer, or flipping the signs of a unit's incoming and
outgoing weights with an odd activation such as tanh, gives the same function
and so the same posterior density. The weight posterior therefore has many
equivalent modes. Chains that have converged to equivalent modes describe
the same predictive distribution, yet their weights differ, so per-weight
R-hat would flag them as disagreeing; a chain that moves between symmetric
copies looks as if it mixes badly. Function-space quantities are invariant
under these symmetries, so their R-hat and ESS measure what matters for
prediction.

Conventions (as in ArviZ)
-------------------------
* Splitting: each chain is cut into its first and its last ``n_draws // 2``
  draws; with an odd number of draws the middle draw is dropped.
* Rank normalisation: the split draws are ranked jointly (ties get their
  average rank) and mapped to ``ndtri((r - 3/8) / (S + 1/4))``, with ``S``
  the total number of split draws (Blom's offset).
* Folding: the split draws are replaced by their absolute deviation from
  their pooled median before rank normalisation.
* ESS: autocovariances are the biased (divided by ``n``) FFT estimates,
  combined across chains as in Stan; the autocorrelation sum is truncated
  by Geyer's initial positive sequence and made monotone (initial monotone
  sequence); the integrated autocorrelation time is bounded below by
  ``1 / log10(S)``, so the ESS never exceeds ``S * log10(S)``.

Deviations from ArviZ
---------------------
* Where ArviZ returns nan for invalid input, these functions raise
  ``ValueError``: fewer than 4 draws per chain, non-finite draws (ArviZ
  returns nan for nan and accepts inf), or an array that is not 1-D or 2-D.
* One chain: ArviZ's ``rhat`` returns nan for a single chain. Here the
  chain is still split in halves, and R-hat compares the two halves (as in
  Stan's ``posterior`` package), which is the same computation on two split
  chains.
* Constant draws (all equal) are accepted and treated as ArviZ does:
  R-hat is nan (the within- and between-chain variances are both zero) and
  the ESS is the number of split draws.
"""

import numpy as np
from scipy.fft import next_fast_len
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = ["split_rhat", "ess_bulk", "ess_tail"]

MIN_DRAWS = 4


def _as_draws(draws):
    """Validated float array of shape ``(n_chains, n_draws)``."""
    draws = np.asarray(draws, dtype=float)
    if draws.ndim == 1:
        draws = draws[np.newaxis, :]
    if draws.ndim != 2:
        raise ValueError(
            "draws must have shape (n_chains, n_draws), or (n_draws,) for one "
            f"chain; got an array of shape {draws.shape}."
        )
    n_chains, n_draws = draws.shape
    if n_chains < 1:
        raise ValueError("draws must hold at least one chain; got none.")
    if n_draws < MIN_DRAWS:
        raise ValueError(
            f"draws must hold at least {MIN_DRAWS} draws per chain; got {n_draws}."
        )
    if not np.all(np.isfinite(draws)):
        raise ValueError("draws must be finite; got nan or inf values.")
    return draws


def _split(draws):
    """First and last halves of every chain, stacked as separate chains."""
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half :]])


def _rank_normalise(draws):
    """Normal scores of the pooled ranks, ``ndtri((r - 3/8) / (S + 1/4))``."""
    ranks = rankdata(draws, method="average", axis=None).reshape(draws.shape)
    return ndtri((ranks - 0.375) / (draws.size + 0.25))


def _fold(draws):
    """Absolute deviation from the pooled median."""
    return np.abs(draws - np.median(draws))


def _rhat(chains):
    """Classic R-hat of chains that are used as given (no splitting)."""
    n = chains.shape[1]
    within = np.mean(np.var(chains, axis=1, ddof=1))
    between = n * np.var(np.mean(chains, axis=1), ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sqrt((between / within + n - 1) / n))


def _autocov(chains):
    """Biased autocovariance of each chain at lags ``0 .. n - 1`` (by FFT)."""
    n = chains.shape[1]
    centred = chains - chains.mean(axis=1, keepdims=True)
    size = next_fast_len(2 * n, real=True)
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n] / n


def _ess(chains):
    """ESS of chains used as given, by Geyer's initial monotone sequence."""
    n_chains, n = chains.shape
    total = n_chains * n
    if np.ptp(chains) < np.finfo(float).resolution:
        return float(total)
    acov = _autocov(chains)
    mean_acov = acov.mean(axis=0)
    within = mean_acov[0] * n / (n - 1)
    var_plus = within * (n - 1) / n
    if n_chains > 1:
        var_plus += np.var(chains.mean(axis=1), ddof=1)
    rho = 1.0 - (within - mean_acov) / var_plus
    rho[0] = 1.0

    # Sums of consecutive (even, odd) lags; pair 0 is lags 0 and 1. Pairs
    # 1 .. n_pairs are candidates, pair j needing lag 2j + 2 < n.
    n_pairs = max((n - 3) // 2, 0)
    pairs = rho[0 : 2 * n_pairs + 1 : 2] + rho[1 : 2 * n_pairs + 2 : 2]
    # Initial positive sequence: stop at the first pair that is not positive
    # (pair `last`), or at the last candidate.
    not_positive = np.flatnonzero(pairs <= 0)
    last = int(not_positive[0]) if not_positive.size else n_pairs
    # The pairs before `last` enter in full, made monotone non-increasing.
    monotone = np.minimum.accumulate(pairs[:last])
    # Of pair `last`, only its even lag enters: when the pair sum is
    # non-negative, or when the even lag alone is positive.
    even = rho[2 * last]
    tail = even if (pairs[last] >= 0 or even > 0) else 0.0
    tau = -1.0 + 2.0 * np.sum(monotone) + tail
    tau = max(tau, 1.0 / np.log10(total))
    return float(total / tau)


def split_rhat(draws):
    """Rank-normalised split-R-hat (bulk and tail) of MCMC draws.

    The maximum of the split-R-hat of the rank-normalised draws (bulk) and
    of the rank-normalised folded draws (tail), as recommended by Vehtari et
    al. (2021) and computed by ArviZ's ``rhat(method="rank")``.

    Parameters
    ----------
    draws : array-like of shape (n_chains, n_draws) or (n_draws,)
        Draws of one scalar quantity; a 1-D array is one chain. At least 4
        draws per chain, all finite. With an odd number of draws the middle
        draw of each chain is dropped when the chains are split in halves.

    Returns
    -------
    rhat : float
        The potential scale reduction factor; values above about 1.01
        indicate that the chains have not mixed. nan when all draws are
        equal. A single chain is compared between its two halves.

    Raises
    ------
    ValueError
        If ``draws`` is not 1-D or 2-D, has fewer than 4 draws per chain, or
        holds nan or inf values.

    See Also
    --------
    ess_bulk : Bulk effective sample size.

    References
    ----------
    .. [1] A. Vehtari, A. Gelman, D. Simpson, B. Carpenter and P.-C.
       Buerkner (2021). "Rank-normalization, folding, and localization: an
       improved R-hat for assessing convergence of MCMC". Bayesian Analysis
       16(2), 667-718.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.utils._diagnostics import split_rhat
    >>> rng = np.random.default_rng(0)
    >>> bool(split_rhat(rng.normal(size=(4, 500))) < 1.01)
    True
    >>> bool(split_rhat(rng.normal(size=(4, 500)) + np.arange(4)[:, None]) > 1.1)
    True
    """
    split = _split(_as_draws(draws))
    bulk = _rhat(_rank_normalise(split))
    tail = _rhat(_rank_normalise(_fold(split)))
    return float(np.fmax(bulk, tail))


def ess_bulk(draws):
    """Bulk effective sample size of MCMC draws.

    The ESS of the rank-normalised split chains, as in Vehtari et al.
    (2021) and ArviZ's ``ess(method="bulk")``: it measures how well the
    centre of the distribution is explored.

    Parameters
    ----------
    draws : array-like of shape (n_chains, n_draws) or (n_draws,)
        Draws of one scalar quantity; a 1-D array is one chain. At least 4
        draws per chain, all finite.

    Returns
    -------
    ess : float
        The effective number of independent draws, at most
        ``S * log10(S)`` with ``S`` the number of split draws (``n_chains *
        2 * (n_draws // 2)``). Equal to ``S`` when all draws are equal.

    Raises
    ------
    ValueError
        If ``draws`` is not 1-D or 2-D, has fewer than 4 draws per chain, or
        holds nan or inf values.

    See Also
    --------
    split_rhat : Rank-normalised split-R-hat.
    ess_tail : Tail effective sample size.

    References
    ----------
    .. [1] A. Vehtari, A. Gelman, D. Simpson, B. Carpenter and P.-C.
       Buerkner (2021). "Rank-normalization, folding, and localization: an
       improved R-hat for assessing convergence of MCMC". Bayesian Analysis
       16(2), 667-718.
    .. [2] C. J. Geyer (1992). "Practical Markov chain Monte Carlo".
       Statistical Science 7(4), 473-483.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.utils._diagnostics import ess_bulk
    >>> draws = np.random.default_rng(0).normal(size=(4, 500))
    >>> bool(1800 < ess_bulk(draws) < 2200)
    True
    """
    return _ess(_rank_normalise(_split(_as_draws(draws))))


def ess_tail(draws, prob=(0.05, 0.95)):
    """Tail effective sample size of MCMC draws.

    The smaller of the ESS of the indicators ``draws <= q`` for the lower
    and the upper quantile ``q`` of the pooled draws, as in Vehtari et al.
    (2021) and ArviZ's ``ess(method="tail")``.

    Parameters
    ----------
    draws : array-like of shape (n_chains, n_draws) or (n_draws,)
        Draws of one scalar quantity; a 1-D array is one chain. At least 4
        draws per chain, all finite.
    prob : float or (float, float), default=(0.05, 0.95)
        The two tail probabilities; a single float ``p`` means
        ``(p, 1 - p)``. The quantiles are numpy's default ("linear") ones of
        all draws, before splitting.

    Returns
    -------
    ess : float
        The tail effective sample size, bounded as in :func:`ess_bulk`.

    Raises
    ------
    ValueError
        If ``draws`` is not 1-D or 2-D, has fewer than 4 draws per chain, or
        holds nan or inf values.

    See Also
    --------
    ess_bulk : Bulk effective sample size.

    References
    ----------
    .. [1] A. Vehtari, A. Gelman, D. Simpson, B. Carpenter and P.-C.
       Buerkner (2021). "Rank-normalization, folding, and localization: an
       improved R-hat for assessing convergence of MCMC". Bayesian Analysis
       16(2), 667-718.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.utils._diagnostics import ess_tail
    >>> draws = np.random.default_rng(0).normal(size=(4, 500))
    >>> bool(1500 < ess_tail(draws) < 2500)
    True
    """
    draws = _as_draws(draws)
    probs = sorted((prob, 1.0 - prob)) if np.ndim(prob) == 0 else list(prob)
    if len(probs) != 2:
        raise ValueError(f"prob must be a float or a pair of floats; got {prob}.")
    return min(
        _ess(_split((draws <= np.quantile(draws, p)).astype(float))) for p in probs
    )
