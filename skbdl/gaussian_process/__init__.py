"""Gaussian processes in torch with scikit-learn kernels.

``GPRegressor`` is a drop-in for scikit-learn's ``GaussianProcessRegressor``
(exact, or inducing points beyond a few thousand samples);
``DeepKernelRegressor`` puts the same GP on features learned by an MLP.
"""

from ._dkl import DeepKernelRegressor
from ._gpr import GPRegressor

__all__ = ["DeepKernelRegressor", "GPRegressor"]
