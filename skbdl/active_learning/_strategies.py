"""Acquisition functions: scores and batch selections from predictions.

Every function here is pure: it takes class probabilities ``proba`` of shape
(n_samples, n_classes), posterior draws ``draws`` of shape (n_samples,
n_classes, n_draws) (what ``predict_proba_samples`` returns), or predictive
standard deviations, and returns one score per row (higher means "label this
row first") or the indices of a batch.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ..utils._math import entropy as _entropy

# Floats of one (configurations x rows x classes) block of BatchBALD's
# joint-entropy computation (16 MB of float64).
_BLOCK_FLOATS = 2_000_000


def _as_generator(random_state):
    """A ``numpy.random.Generator`` from an int, RandomState, Generator or None.

    None draws the seed from numpy's global RNG, as scikit-learn does.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    rs = check_random_state(random_state)
    return np.random.default_rng(rs.randint(0, 2**31 - 1))


def _check_proba(proba):
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(
            f"proba must have shape (n_samples, n_classes); got {proba.shape}."
        )
    return proba


def _check_draws(draws):
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim != 3:
        raise ValueError(
            "draws must have shape (n_samples, n_classes, n_draws), as "
            f"predict_proba_samples returns; got {draws.shape}."
        )
    return draws


def least_confidence(proba):
    """One minus the probability of the most likely class.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Predictive class probabilities.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Higher for less confident rows.

    Examples
    --------
    >>> from skbdl.active_learning import least_confidence
    >>> least_confidence([[0.9, 0.1], [0.6, 0.4]]).round(2)
    array([0.1, 0.4])
    """
    return 1.0 - _check_proba(proba).max(axis=1)


def margin(proba):
    """One minus the gap between the two most likely classes.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Predictive class probabilities (at least two classes).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``1 - (p_first - p_second)``: 1 for a tie, 0 for a certain row.

    Examples
    --------
    >>> from skbdl.active_learning import margin
    >>> margin([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]]).round(2)
    array([0.5 , 0.95])
    """
    proba = _check_proba(proba)
    if proba.shape[1] < 2:
        raise ValueError("margin needs at least two classes.")
    top = np.partition(proba, -2, axis=1)[:, -2:]
    return 1.0 - (top[:, 1] - top[:, 0])


def entropy(proba):
    """Predictive entropy in nats.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Predictive class probabilities.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``-sum_c p_c log p_c``.

    Examples
    --------
    >>> from skbdl.active_learning import entropy
    >>> entropy([[0.5, 0.5], [1.0, 0.0]]).round(4)
    array([0.6931, 0.    ])
    """
    return _entropy(_check_proba(proba), axis=1)


def variation_ratios(draws):
    """Fraction of posterior draws that disagree with the modal class.

    Freeman's variation ratio over the draws' most likely classes (Gal et
    al., 2017): 0 when every draw predicts the same class.

    Parameters
    ----------
    draws : array-like of shape (n_samples, n_classes, n_draws)
        Class probabilities under each posterior draw.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``1 - (votes of the modal class) / n_draws``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.active_learning import variation_ratios
    >>> draws = np.array([[[0.9, 0.8, 0.3, 0.6], [0.1, 0.2, 0.7, 0.4]]])
    >>> variation_ratios(draws)
    array([0.25])
    """
    draws = _check_draws(draws)
    n, k, s = draws.shape
    votes = draws.argmax(axis=1)  # (n, S)
    counts = np.zeros((n, k))
    np.add.at(counts, (np.repeat(np.arange(n), s), votes.ravel()), 1.0)
    return 1.0 - counts.max(axis=1) / s


def bald(draws):
    """Mutual information between the label and the weights (BALD).

    Entropy of the mean prediction minus the mean entropy of the draws
    (Houlsby et al., 2011): high where the draws disagree, not where each
    draw is merely uncertain.

    Parameters
    ----------
    draws : array-like of shape (n_samples, n_classes, n_draws)
        Class probabilities under each posterior draw.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Mutual information in nats (non-negative).

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.active_learning import bald
    >>> agree = [[0.5, 0.5], [0.5, 0.5]]      # two classes x two draws
    >>> disagree = [[1.0, 0.0], [0.0, 1.0]]
    >>> bald(np.array([agree, disagree])).round(4)
    array([0.    , 0.6931])
    """
    draws = _check_draws(draws)
    total = _entropy(draws.mean(axis=2), axis=1)
    aleatoric = _entropy(draws, axis=1).mean(axis=1)
    return np.maximum(total - aleatoric, 0.0)


def max_std(std):
    """The predictive standard deviation itself, for regression.

    Parameters
    ----------
    std : array-like of shape (n_samples,)
        Predictive standard deviations (``predict(X, return_std=True)[1]``).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        A copy of ``std`` as float64.

    Examples
    --------
    >>> from skbdl.active_learning import max_std
    >>> max_std([0.5, 2.0])
    array([0.5, 2. ])
    """
    std = np.array(std, dtype=np.float64)
    if std.ndim != 1:
        raise ValueError(f"std must have shape (n_samples,); got {std.shape}.")
    return std


def top_k(scores, k, random_state=None):
    """Indices of the ``k`` highest scores, ties broken at random.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        One score per row.
    k : int
        Number of indices, at most ``n_samples``.
    random_state : int, RandomState, Generator or None, default=None
        Breaks ties.

    Returns
    -------
    indices : ndarray of shape (k,)
        Row indices, highest score first.

    Examples
    --------
    >>> from skbdl.active_learning import top_k
    >>> top_k([0.1, 0.9, 0.5], 2)
    array([1, 2])
    """
    scores = _check_scores(scores)
    _check_k(k, len(scores))
    rng = _as_generator(random_state)
    return _select(scores, k, lambda chunk: (chunk, rng.random(len(chunk))))


# Rows per chunk of the selection: its working memory is O(k + chunk), not O(n).
_SELECT_CHUNK = 1 << 16


def _select(scores, k, keys):
    """Positions of the ``k`` largest keys, highest first, in bounded memory.

    ``keys(chunk)`` maps a slice of ``scores`` to ``(key, tiebreak)``
    arrays; rows are ranked by key, then by tiebreak (both descending). The
    running best ``k`` are merged with one chunk at a time, so the extra
    memory is ``O(k + _SELECT_CHUNK)`` whatever the pool size, and the
    result does not depend on the chunk size (the tiebreaks are drawn in row
    order).
    """
    best_key = best_tie = np.empty(0)
    best_idx = np.empty(0, dtype=np.intp)
    for start in range(0, len(scores), _SELECT_CHUNK):
        key, tie = keys(scores[start : start + _SELECT_CHUNK])
        best_key = np.concatenate([best_key, key])
        best_tie = np.concatenate([best_tie, tie])
        best_idx = np.concatenate([best_idx, np.arange(start, start + len(key))])
        if len(best_key) > k:
            keep = _largest(best_key, best_tie, k)
            best_key, best_tie = best_key[keep], best_tie[keep]
            best_idx = best_idx[keep]
    order = np.lexsort((-best_tie, -best_key))
    return best_idx[order]


def _largest(key, tie, k):
    """Positions of the ``k`` largest ``(key, tie)`` pairs (unordered)."""
    kth = np.partition(key, len(key) - k)[len(key) - k]
    above = np.flatnonzero(key > kth)
    tied = np.flatnonzero(key == kth)
    tied = tied[np.argsort(-tie[tied], kind="stable")[: k - len(above)]]
    return np.concatenate([above, tied])


def _check_scores(scores):
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one-dimensional; got shape {scores.shape}.")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; every pool row needs a score.")
    return scores


def _check_k(k, n):
    if not isinstance(k, Integral) or isinstance(k, bool) or not 1 <= k <= n:
        raise ValueError(f"Cannot select {k!r} rows from a pool of {n}.")


def stochastic_batch(scores, k, *, mode="power", temperature=1.0, random_state=None):
    """Sample ``k`` rows without replacement, favouring high scores.

    Stochastic batch acquisition (Kirsch et al., 2023): row ``i`` is drawn
    with probability proportional to ``scores_i ** beta`` (``"power"``),
    ``exp(beta * scores_i)`` (``"softmax"``) or ``rank_i ** -beta``
    (``"softrank"``, rank 1 for the highest score), with
    ``beta = 1 / temperature``, sequentially without replacement (the
    Gumbel-top-k trick). A low temperature approaches top-k; a high one,
    random sampling. Unlike top-k it does not fill a batch with near
    copies of the single best row.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Non-negative scores for ``"power"`` (e.g. BALD, entropy).
    k : int
        Batch size.
    mode : {"power", "softmax", "softrank"}, default="power"
        How scores become sampling weights.
    temperature : float, default=1.0
        Positive temperature.
    random_state : int, RandomState, Generator or None, default=None
        Seed of the sampling.

    Returns
    -------
    indices : ndarray of shape (k,)
        The sampled rows, in the order drawn.

    Examples
    --------
    >>> from skbdl.active_learning import stochastic_batch
    >>> sorted(stochastic_batch([0.0, 1.0, 2.0, 0.0], 2, temperature=1e-3,
    ...                         random_state=0))
    [np.int64(1), np.int64(2)]
    """
    scores = _check_scores(scores)
    _check_k(k, len(scores))
    if not isinstance(temperature, Real) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number; got {temperature!r}.")
    beta = 1.0 / float(temperature)
    if mode == "power":
        if np.any(scores < 0):
            raise ValueError("mode='power' needs non-negative scores.")

        def logits(chunk):
            with np.errstate(divide="ignore"):
                return beta * np.log(chunk)

    elif mode == "softmax":

        def logits(chunk):
            return beta * chunk

    elif mode == "softrank":
        # ranks need the whole order: the one strategy whose selection keeps
        # n-sized bookkeeping (one float per row)
        ranks = np.empty(len(scores))
        ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
        scores = -beta * np.log(ranks)
        del ranks

        def logits(chunk):
            return chunk

    else:
        raise ValueError(
            f"mode must be 'power', 'softmax' or 'softrank'; got {mode!r}."
        )
    rng = _as_generator(random_state)

    def keys(chunk):
        # Gumbel-top-k; rows of zero weight (-inf) come last in random order,
        # so a batch larger than the rows with positive weight still fills up
        gumbel = rng.gumbel(size=len(chunk))
        z = logits(chunk)
        return np.where(np.isneginf(z), -np.inf, z + gumbel), gumbel

    return _select(scores, k, keys)


def _joint_entropies(configs, weights, draws):
    """``H(y_batch, y_i)`` for every candidate row ``i`` (BatchBALD).

    ``configs`` (M, S) holds ``prod_j p_s(y_j | x_j)`` for M labellings of
    the batch so far; ``weights`` (M,) makes ``-sum_m w_m sum_y q log q``
    the joint entropy (1 for an exact enumeration, ``1 / (M P(config))``
    for configurations sampled from the joint).
    """
    n, k, s = draws.shape
    m = configs.shape[0]
    rows = max(1, _BLOCK_FLOATS // (m * k))
    out = np.empty(n)
    for start in range(0, n, rows):
        block = draws[start : start + rows]  # (r, k, S)
        q = configs @ block.reshape(-1, s).T / s  # (M, r * k), one matmul
        plogp = q * np.log(np.clip(q, 1e-300, None))
        out[start : start + rows] = -(weights @ plogp).reshape(-1, k).sum(axis=1)
    return out


def _sample_configs(chosen_draws, n_configs, rng):
    """Labellings of the chosen rows drawn from their joint predictive.

    Returns ``configs`` (M, S) = ``prod_j p_s(y_j^m | x_j)`` and the
    importance weights ``1 / (M p(y^m))``.
    """
    s = chosen_draws[0].shape[1]
    which = rng.integers(0, s, size=n_configs)  # the draw behind each labelling
    configs = np.ones((n_configs, s))
    for p in chosen_draws:  # p: (k, S)
        probs = p[:, which].T  # (M, k)
        u = rng.random(n_configs)[:, None]
        y = np.minimum((np.cumsum(probs, axis=1) < u).sum(axis=1), p.shape[0] - 1)
        configs *= p[y]  # (M, S): p_s(y_m | x) for every draw s
    return configs, 1.0 / (n_configs * configs.mean(axis=1))


def batch_bald(draws, k, *, n_configurations=1000, random_state=None):
    """Greedy BatchBALD: a batch with high joint mutual information.

    Picks rows one at a time, each maximising ``I(y_batch, y_i; theta)``
    given the rows already picked (Kirsch et al., 2019). The joint entropy
    of the batch is summed exactly over all labellings while there are at
    most ``n_configurations`` of them, and estimated from
    ``n_configurations`` labellings sampled from the joint predictive
    afterwards (the paper's Monte-Carlo estimator). A copy of a row already
    in the batch adds only what a second label of the same input can tell,
    so top-k BALD's near-duplicate batches are avoided. Time and memory per
    pick are
    ``O(n_configurations * n_samples * n_classes * n_draws)`` and
    ``O(n_configurations * n_draws)`` plus a fixed 16 MB block.

    Parameters
    ----------
    draws : array-like of shape (n_samples, n_classes, n_draws)
        Class probabilities under each posterior draw.
    k : int
        Batch size.
    n_configurations : int, default=1000
        Budget of labellings of the batch.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the sampled labellings and breaks ties.

    Returns
    -------
    indices : ndarray of shape (k,)
        The rows, in the order picked.
    gains : ndarray of shape (k,)
        The mutual information each pick added (nats); the first is its
        BALD score, and their sum is the batch's joint mutual information.

    Examples
    --------
    >>> import numpy as np
    >>> from skbdl.active_learning import batch_bald
    >>> # two classes x four draws; a and c split the draws differently
    >>> a = [[1, 1, 0, 0], [0, 0, 1, 1]]
    >>> c = [[1, 0, 1, 0], [0, 1, 0, 1]]
    >>> idx, gains = batch_bald(np.array([a, a, c], dtype=float), 2,
    ...                         random_state=0)
    >>> sorted(idx.tolist()) in ([0, 2], [1, 2]), gains.round(4)
    (True, array([0.6931, 0.6931]))
    """
    draws = _check_draws(draws)
    n, k_classes, s = draws.shape
    _check_k(k, n)
    if not isinstance(n_configurations, Integral) or n_configurations < 1:
        raise ValueError(
            f"n_configurations must be a positive integer; got {n_configurations!r}."
        )
    rng = _as_generator(random_state)
    conditional = _entropy(draws, axis=1).mean(axis=1)  # E_theta H(y_i | theta)
    configs, weights = np.ones((1, s)), np.ones(1)  # the empty batch
    exact = True
    chosen, gains = [], []
    for _ in range(k):
        # I(batch + i) - I(batch) = H(batch, y_i) - H(batch) - E H(y_i | theta)
        gain = _joint_entropies(configs, weights, draws) - conditional
        gain -= _entropy_of(configs, weights)
        gain[chosen] = -np.inf
        best = int(top_k(gain, 1, rng)[0])
        chosen.append(best)
        gains.append(max(float(gain[best]), 0.0))
        if exact and configs.shape[0] * k_classes <= n_configurations:
            configs = (configs[:, None, :] * draws[best][None]).reshape(-1, s)
            weights = np.ones(configs.shape[0])
        else:
            exact = False
            configs, weights = _sample_configs(
                [draws[i] for i in chosen], n_configurations, rng
            )
    return np.array(chosen), np.array(gains)


def _entropy_of(configs, weights):
    """Joint entropy of the batch so far from its labellings."""
    p = configs.mean(axis=1)
    return float(-(weights * p * np.log(np.clip(p, 1e-300, None))).sum())
