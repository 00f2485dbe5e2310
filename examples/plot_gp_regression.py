"""
Gaussian process regression with scikit-learn kernels, in torch
================================================================

``skbdl.GPRegressor`` takes the same kernels and parameters as scikit-learn's
``GaussianProcessRegressor`` and returns the same predictions, computed in
torch. Beyond a few thousand points it switches to inducing points (SGPR).
``DeepKernelRegressor`` puts the GP on features learned by a small MLP.
"""

import numpy as np
from sklearn.gaussian_process.kernels import RBF, WhiteKernel
from sklearn.gaussian_process.kernels import ConstantKernel as C

from skbdl import DeepKernelRegressor, GPRegressor

rng = np.random.RandomState(0)
X = rng.uniform(0, 10, (200, 1))
y = np.sin(X[:, 0]) + 0.1 * rng.randn(200)
X_test = np.linspace(0, 12, 5).reshape(-1, 1)

gpr = GPRegressor(
    C(1.0) * RBF(1.0) + WhiteKernel(0.1), normalize_y=True, random_state=0
)
gpr.fit(X, y)
mean, std = gpr.predict(X_test, return_std=True)
print("fitted kernel:", gpr.kernel_)
print("LML:", round(gpr.log_marginal_likelihood_value_, 2))
for x, m, s in zip(X_test[:, 0], mean, std):
    print(
        f"x={x:5.1f}  mean={m:+.3f}  "
        f"95% interval=[{m - 1.96 * s:+.3f}, {m + 1.96 * s:+.3f}]"
    )

# Joint posterior draws, one column per draw.
print("draws shape:", gpr.sample_y(X_test, n_samples=3, random_state=0).shape)

# Inducing points: same API, 20 optimised inducing inputs.
sparse = GPRegressor(
    C(1.0) * RBF(1.0) + WhiteKernel(0.1),
    inference="sgpr",
    n_inducing=20,
    random_state=0,
).fit(X, y)
print("SGPR R^2:", round(sparse.score(X, y), 3))

dkl = DeepKernelRegressor(hidden_layer_sizes=(32,), max_epochs=100, random_state=0).fit(
    X, y
)
print("DKL R^2:", round(dkl.score(X, y), 3))
