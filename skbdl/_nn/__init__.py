"""The training core below the inference methods (private).

The network (``MLP``, ``stacked_forward``), the likelihoods, the training
engine and ``TrainingProblem``. Imports only ``skbdl.utils`` and
``skbdl.priors``; the methods (``skbdl.inference``) and the estimators
(``skbdl.neural_network``) build on it.
"""

from ._fused import Adam
from ._likelihood import (
    MIN_NOISE_VAR,
    Categorical,
    Gaussian,
    HeteroscedasticGaussian,
    Likelihood,
    likelihood_for,
)
from ._mean_field import MeanFieldStack
from ._module import (
    ACTIVATIONS,
    MLP,
    activation,
    chunk_rows,
    count_weights,
    split_weight_bias,
    stack_layers,
    stacked_forward,
)
from ._problem import TrainingCurve, TrainingProblem, TrainState, train_valid_split

__all__ = [
    "ACTIVATIONS", "MIN_NOISE_VAR", "MLP", "Adam", "MeanFieldStack", "Categorical",
    "Gaussian",
    "HeteroscedasticGaussian", "Likelihood", "TrainingCurve", "TrainingProblem",
    "TrainState", "activation",
    "chunk_rows", "count_weights", "likelihood_for", "split_weight_bias",
    "stack_layers", "stacked_forward", "train_valid_split",
]
