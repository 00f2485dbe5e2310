"""Confidence binning shared by the calibration metrics and the displays.

Bin convention (used everywhere in skbdl): bins are right-closed,
``[e_0, e_1], (e_1, e_2], ..., (e_{B-1}, e_B]``, so a confidence equal to an
inner edge falls in the lower bin, a confidence of 0 falls in the first bin and
a confidence of 1.0 in the last bin. Uniform edges are computed as ``b / B``
(a correctly rounded division), so that a confidence written as a decimal
literal such as ``0.6`` sits exactly on the edge ``3 / 5``.
"""

import numpy as np


def bin_edges(confidence, n_bins, strategy):
    """Edges of shape (n_bins + 1,) spanning [0, 1].

    ``"uniform"``: equal-width bins. ``"quantile"``: equal-mass bins whose inner
    edges are the (unweighted) quantiles of ``confidence``; repeated quantiles
    give empty bins, which every metric skips.
    """
    if strategy == "uniform":
        return np.arange(n_bins + 1) / n_bins
    edges = np.quantile(confidence, np.arange(n_bins + 1) / n_bins)
    edges[0], edges[-1] = 0.0, 1.0
    return edges


def bin_statistics(confidence, outcome, weight, edges):
    """Per-bin mean outcome, mean confidence, total weight and sample count.

    Parameters
    ----------
    confidence, outcome, weight : ndarray of shape (n_samples,)
        Predicted probability, 0/1 outcome and sample weight.
    edges : ndarray of shape (n_bins + 1,)
        Bin edges, see the module docstring for the convention.

    Returns
    -------
    frequency, mean_confidence : ndarray of shape (n_bins,)
        Weighted means in each bin; NaN in bins with no weight.
    mass : ndarray of shape (n_bins,)
        Sum of the sample weights in each bin.
    count : ndarray of shape (n_bins,)
        Number of samples in each bin.
    """
    n_bins = edges.shape[0] - 1
    index = np.searchsorted(edges[1:-1], confidence, side="left")
    mass = np.bincount(index, weights=weight, minlength=n_bins)
    conf_sum = np.bincount(index, weights=weight * confidence, minlength=n_bins)
    outcome_sum = np.bincount(index, weights=weight * outcome, minlength=n_bins)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        frequency = np.where(mass > 0, outcome_sum / mass, np.nan)
        mean_confidence = np.where(mass > 0, conf_sum / mass, np.nan)
    return frequency, mean_confidence, mass, count


def binned_gaps(confidence, outcome, weight, n_bins, strategy):
    """Bin weights (summing to 1) and |frequency - confidence| of non-empty bins."""
    edges = bin_edges(confidence, n_bins, strategy)
    frequency, mean_confidence, mass, _ = bin_statistics(
        confidence, outcome, weight, edges
    )
    keep = mass > 0
    gaps = np.abs(frequency[keep] - mean_confidence[keep])
    return mass[keep] / weight.sum(), gaps
