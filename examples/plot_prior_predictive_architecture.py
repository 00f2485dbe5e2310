"""
Prior predictive functions: activation, depth and width
=======================================================

Before seeing any data, a Bayesian network's prior over weights is a prior
over functions, and the architecture shapes it as much as the weight scale
does. Every weight and bias here has the same prior, ``GaussianPrior(1.0)``;
only the activation (tanh or ReLU), the depth (1 or 3 hidden layers) and the
width (10 or 100 units) change. ``sample_prior_predictive`` draws the
functions of an unfitted ``BayesianMLPRegressor`` on a 1-D input, and
``PriorPredictiveDisplay`` plots them (the seed's figure 28.5).

What the panels show: tanh functions are bounded bumps that flatten away
from the origin, ReLU functions are piecewise linear and grow without bound.
Because the prior is not scaled by the fan-in, the amplitude grows with the
width (about ``sqrt(width)`` per layer), and depth makes the tanh functions
wigglier and the ReLU ones much larger. The printed table gives, per panel,
the standard deviation of ``f(x)`` over draws and the mean absolute second
difference of ``f`` on the grid (a roughness measure).

The figure is written to ``docs/images/prior_predictive_architecture.png``.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skbdl import BayesianMLPRegressor  # noqa: E402
from skbdl.plotting import PriorPredictiveDisplay  # noqa: E402
from skbdl.priors import GaussianPrior  # noqa: E402

ACTIVATIONS = ("tanh", "relu")
ARCHITECTURES = ((10,), (100,), (10, 10, 10), (100, 100, 100))
OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def main(n_draws=8, n_stats=500, n_points=200,
         path=OUT / "prior_predictive_architecture.png"):
    """Draw, print the spread and roughness, and save the figure to ``path``."""
    X = np.linspace(-3, 3, n_points)[:, None]
    fig, axes = plt.subplots(len(ACTIVATIONS), len(ARCHITECTURES),
                             figsize=(3.2 * len(ARCHITECTURES), 5.6))
    print(f"{'activation':>10} {'hidden':>16} {'std f(x)':>9} {'roughness':>10}")
    for row, activation in zip(axes, ACTIVATIONS):
        for ax, hidden in zip(row, ARCHITECTURES):
            net = BayesianMLPRegressor(hidden, activation=activation,
                                       prior=GaussianPrior(1.0))
            name = f"{activation}, {'-'.join(map(str, hidden))}"
            PriorPredictiveDisplay.from_estimator(net, X, n_samples=n_draws,
                                                  random_state=0, name=name, ax=ax)
            ax.title.set_fontsize("small")
            f = net.sample_prior_predictive(X, n_samples=n_stats, random_state=1)
            rough = np.abs(np.diff(f, 2, axis=0)).mean()
            print(f"{activation:>10} {str(hidden):>16} {f.std():9.2f} {rough:10.4f}")
    fig.suptitle("Prior predictive functions under GaussianPrior(1.0) on every weight")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print("wrote", path)


if __name__ == "__main__":
    main()
