"""Helpers shared by the displays: lazy matplotlib import, axes, 1-D inputs."""

import numpy as np
from sklearn.utils import check_array


def import_pyplot(caller):
    """Import ``matplotlib.pyplot`` or raise an ImportError that says how to fix it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib. Install it with "
            "`pip install matplotlib` or `pip install skbdl[plot]`."
        ) from exc
    return plt


def axes_and_figure(ax, caller):
    """Return ``(ax, figure)``, creating a new figure when ``ax`` is None."""
    plt = import_pyplot(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax, ax.figure


def column_input(X, name="X"):
    """Validate a one-feature input; return it as (n_rows, 1) and as (n_rows,)."""
    X = check_array(X, ensure_2d=False, dtype=np.float64, input_name=name)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != 1:
        raise ValueError(
            f"{name} must have a single feature, shape (n_rows,) or (n_rows, 1); "
            f"got shape {X.shape}. This display plots functions of a 1-D input."
        )
    return X, X[:, 0]


def regular_grid(x, n_points=200, margin=0.1):
    """Evenly spaced grid over the range of ``x`` widened by ``margin`` per side."""
    lo, hi = float(np.min(x)), float(np.max(x))
    pad = margin * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, n_points)


def draws_matrix(draws, n_rows, name="draws"):
    """Validate draws of shape (n_rows, n_draws)."""
    draws = check_array(draws, dtype=np.float64, input_name=name)
    if draws.shape[0] != n_rows:
        raise ValueError(
            f"{name} must have shape (n_rows, n_draws) with n_rows={n_rows} (draws "
            f"on the last axis, as sample_y returns them); got {draws.shape}."
        )
    return draws
