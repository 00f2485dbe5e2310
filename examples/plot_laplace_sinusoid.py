"""
Laplace approximation on a noisy sinusoid
=========================================

A one-hidden-layer tanh network is trained to the MAP, then a full-Hessian
Laplace approximation over all weights is fitted and its prior precision and
observation noise are chosen by the Laplace marginal likelihood. The
predictive standard deviation includes the noise (about 0.3 here) and grows
away from the data, where the network has seen nothing.
"""

import matplotlib.pyplot as plt
import numpy as np

from skbdl import BayesianMLPRegressor
from skbdl.inference import Laplace

rng = np.random.RandomState(1)
X = rng.uniform(0, 8, size=(150, 1))
y = np.sin(X[:, 0]) + 0.3 * rng.randn(150)

reg = BayesianMLPRegressor(
    50, activation="tanh", max_epochs=300, lr=1e-2, random_state=0,
    method=Laplace("all", "full", prior_precision="marglik"),
).fit(X, y)
noise = np.sqrt(reg.predict_uncertainty(X[:1]).aleatoric[0])
print(f"learned noise std: {noise:.3f} (true 0.3)")

grid = np.linspace(-5, 13, 500)[:, None]
mean, std = reg.predict(grid, return_std=True)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.scatter(X[:, 0], y, s=8, color="k", label="data")
ax.plot(grid[:, 0], mean, label="predictive mean")
ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, alpha=0.3,
                label="±2 std (noise included)")
ax.set_ylim(-4, 4)
ax.legend(loc="upper left")
ax.set_title("Laplace (all weights, full GGN, marginal-likelihood tuning)")
plt.show()
