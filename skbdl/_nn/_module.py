"""The MLP module and its vectorised evaluation under many posterior draws.

The network outputs the latent ``f`` the likelihood interprets: logits of
shape ``(n, n_classes)``, the regression mean ``(n, 1)``, or the mean and
log noise variance ``(n, 2)`` of a heteroscedastic Gaussian. The
homoscedastic noise belongs to the likelihood, not to the network.
"""

from collections import namedtuple

import torch
from torch import nn

#: An activation ``fn`` and its derivative ``grad(s, a)`` at the
#: pre-activation ``s`` with output ``a = fn(s)``. The forward pass, the
#: forward-mode linearisation and the GGN back-propagation all read this one
#: table, so an activation added here is correct everywhere.
Activation = namedtuple("Activation", ["fn", "grad"])

ACTIVATIONS = {
    "relu": Activation(torch.relu, lambda s, a: (s > 0).to(s.dtype)),
    "tanh": Activation(torch.tanh, lambda s, a: 1.0 - a * a),
    "logistic": Activation(torch.sigmoid, lambda s, a: a * (1.0 - a)),
    "identity": Activation(lambda x: x, lambda s, a: torch.ones_like(s)),
}

# Rows per chunk are chosen so that one chunk's widest activation tensor,
# (n_draws, rows, width), holds about this many floats (16 MB in float32).
_CHUNK_FLOATS = 2**22


def activation(name):
    """The ``Activation`` called ``name``; a clear error for unknown names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}."
        ) from None


class MLP(nn.Module):
    """Fully connected network ``n_in -> hidden... -> n_out``.

    Parameters
    ----------
    n_in : int
        Number of input features.
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers (may be empty: a linear model).
    n_out : int
        Number of outputs of the last linear layer (the latent width).
    activation : str
        Key of ``ACTIVATIONS``.
    dropout : float
        Dropout rate after each hidden activation (0 disables it).
    """

    def __init__(self, n_in, hidden_layer_sizes, n_out, activation="relu", dropout=0.0):
        super().__init__()
        sizes = [n_in, *hidden_layer_sizes]
        self.hidden = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.head = nn.Linear(sizes[-1], n_out)
        self.activation = activation
        self.dropout = float(dropout)

    def features(self, x):
        """Output of the last hidden layer (the input of ``head``)."""
        act = activation(self.activation).fn
        for layer in self.hidden:
            x = act(layer(x))
            if self.dropout > 0:
                x = nn.functional.dropout(x, self.dropout, self.training)
        return x

    def forward(self, x):
        return self.head(self.features(x))

    def layers(self):
        """``[(weight, bias), ...]`` for every linear layer, head last."""
        return [(m.weight, m.bias) for m in (*self.hidden, self.head)]


def stack_layers(per_draw):
    """Stack the layers of several networks on a leading draw axis.

    Parameters
    ----------
    per_draw : list of list of (weight, bias)
        ``S`` networks of the same architecture (``MLP.layers()`` of each).

    Returns
    -------
    layers : list of (weight, bias)
        Weights of shape ``(S, out, in)`` and biases ``(S, out)``, detached.
    """
    return [
        tuple(
            torch.stack([layers[i][j].detach() for layers in per_draw])
            for j in range(2)
        )
        for i in range(len(per_draw[0]))
    ]


def split_weight_bias(stacked):
    """``(W, b)`` of stacked augmented layers ``[W | b]``, shape (..., out, in + 1)."""
    return [(wb[..., :-1], wb[..., -1]) for wb in stacked]


def stacked_forward(layers, x, activation_name, masks=None):
    """Evaluate S networks (or one network under S dropout masks) at once.

    Parameters
    ----------
    layers : list of (weight, bias)
        Each weight has shape ``(out, in)`` (shared by every draw) or
        ``(S, out, in)`` (one per draw); biases ``(out,)`` or ``(S, out)``.
    x : Tensor of shape (n, n_in)
        Input rows.
    activation_name : str
        Key of ``ACTIVATIONS``.
    masks : list of Tensor of shape (S, 1, width), optional
        One scaled dropout mask per hidden layer and draw.

    Returns
    -------
    f : Tensor of shape (S, n, n_out)
        Latent outputs; ``S`` is 1 when nothing varies over draws.
    """
    act = activation(activation_name).fn
    h = x
    for i, (weight, bias) in enumerate(layers):
        if weight.dim() == 3:
            h = torch.baddbmm(
                bias.unsqueeze(1),
                h.expand(weight.shape[0], *h.shape[-2:]),
                weight.transpose(1, 2),
            )
        else:
            h = torch.nn.functional.linear(h, weight, bias)
        if i < len(layers) - 1:
            h = act(h)
            if masks is not None:
                h = h * masks[i]
    if h.dim() == 2:
        h = h.unsqueeze(0)
    return h


def count_weights(sizes):
    """Number of weights and biases of an MLP with layer widths ``sizes``."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def chunk_rows(n_draws, width):
    """Rows per chunk so that one (n_draws, rows, width) tensor stays bounded."""
    return max(256, _CHUNK_FLOATS // max(1, n_draws * width))
