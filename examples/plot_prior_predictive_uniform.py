"""
Uniform priors on weights are not uninformative about functions
===============================================================

A uniform prior ``U(-a, a)`` on each weight looks like the least committal
choice, but it is uninformative only marginally, weight by weight. Jointly,
the network's output is a sum of many such weights passed through the
layers, so its prior is neither uniform nor flat. For a narrow interval
the prior predictive concentrates tightly around zero: the functions are
nearly constant, and what spread there is comes mostly from the output
bias (hence the flat-topped histogram). For wider intervals it spreads out
with a bell shape (a central-limit effect), and its width grows faster
than the interval. The seed's figure 28.3.

Each column uses ``UniformPrior(-a, a)`` on every weight and bias of an
unfitted ``BayesianMLPRegressor`` with two tanh hidden layers of 20 units.
Top: the prior of one weight. Middle: functions drawn with
``sample_prior_predictive``, plotted by ``PriorPredictiveDisplay``. Bottom:
the prior predictive distribution of ``f(1)`` over many draws, with its
standard deviation and the Gaussian of the same mean and variance.
Uniform priors are for prior predictive checks: no method trains under
them (``fit`` raises a ``ValueError``).

The figure is written to ``docs/images/prior_predictive_uniform.png``.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skbdl import BayesianMLPRegressor  # noqa: E402
from skbdl.plotting import PriorPredictiveDisplay  # noqa: E402
from skbdl.priors import UniformPrior  # noqa: E402

HALF_WIDTHS = (0.1, 0.5, 1.0, 3.0)
HIDDEN = (20, 20)
OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def _weight_density(ax, a, limit):
    ax.fill_between([-a, a], 0, 1 / (2 * a), step="pre", alpha=0.4)
    ax.set(xlim=(-limit, limit), title=f"weight prior U({-a:g}, {a:g})",
           xlabel="w", ylabel="density")


def _output_histogram(ax, f, x0):
    std = f.std()
    ax.hist(f, bins=40, density=True, alpha=0.6)
    grid = np.linspace(f.min(), f.max(), 200)
    gauss = np.exp(-0.5 * ((grid - f.mean()) / std) ** 2) / (std * np.sqrt(2 * np.pi))
    ax.plot(grid, gauss, color="k", linewidth=1)
    ax.set(title=f"f({x0:g}) over draws: std {std:.3g}", xlabel=f"f({x0:g})",
           ylabel="density")
    return std


def main(n_draws=8, n_stats=2000, n_points=200,
         path=OUT / "prior_predictive_uniform.png"):
    """Draw, print the spread of f(1), and save the figure to ``path``."""
    X = np.linspace(-3, 3, n_points)[:, None]
    x0 = np.array([[1.0]])
    fig, axes = plt.subplots(3, len(HALF_WIDTHS), figsize=(3.2 * len(HALF_WIDTHS), 8))
    print(f"{'a':>5} {'std f(1)':>9} {'5%':>8} {'95%':>8}")
    for col, a in zip(axes.T, HALF_WIDTHS):
        net = BayesianMLPRegressor(HIDDEN, activation="tanh",
                                   prior=UniformPrior(-a, a))
        _weight_density(col[0], a, max(HALF_WIDTHS) * 1.1)
        PriorPredictiveDisplay.from_estimator(net, X, n_samples=n_draws,
                                              random_state=0, name=f"U(-{a:g}, {a:g})",
                                              ax=col[1])
        f = net.sample_prior_predictive(x0, n_samples=n_stats, random_state=1)[0]
        std = _output_histogram(col[2], f, x0[0, 0])
        lo, hi = np.percentile(f, [5, 95])
        print(f"{a:5g} {std:9.3f} {lo:8.3f} {hi:8.3f}")
    fig.suptitle("Uniform weight priors of several widths, tanh MLP 20-20")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print("wrote", path)


if __name__ == "__main__":
    main()
