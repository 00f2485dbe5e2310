"""The MLP module and its vectorised evaluation under many posterior draws.

Latent outputs ``f`` (DESIGN §1.3): logits of shape ``(n, n_classes)`` for
classification; ``(n, 2)`` holding the mean and the log noise variance for
regression. In the homoscedastic case the log-variance column is one learned
scalar broadcast to every row; in the heteroscedastic case it is a second head.
"""

import torch
from torch import nn

ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "logistic": torch.sigmoid,
    "identity": lambda x: x,
}

# Rows per chunk are chosen so that one chunk's widest activation tensor,
# (n_draws, rows, width), holds about this many floats (16 MB in float32).
_CHUNK_FLOATS = 2**22


class MLP(nn.Module):
    """Fully connected network ``n_in -> hidden... -> n_out``.

    Parameters
    ----------
    n_in : int
        Number of input features.
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers (may be empty: a linear model).
    n_out : int
        Number of outputs of the last linear layer.
    activation : str
        Key of ``ACTIVATIONS``.
    dropout : float
        Dropout rate after each hidden activation (0 disables it).
    noise_head : {None, "homoscedastic", "heteroscedastic"}
        For regression: append a log noise variance column to the output.
    """

    def __init__(self, n_in, hidden_layer_sizes, n_out, activation="relu",
                 dropout=0.0, noise_head=None):
        super().__init__()
        sizes = [n_in, *hidden_layer_sizes]
        self.hidden = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])
        )
        n_head = n_out + (noise_head == "heteroscedastic")
        self.head = nn.Linear(sizes[-1], n_head)
        self.activation = activation
        self.dropout = float(dropout)
        self.noise_head = noise_head
        if noise_head == "homoscedastic":
            self.log_noise_var = nn.Parameter(torch.zeros(1))
        else:
            self.register_parameter("log_noise_var", None)

    def features(self, x):
        """Output of the last hidden layer (the input of ``head``)."""
        act = ACTIVATIONS[self.activation]
        for layer in self.hidden:
            x = act(layer(x))
            if self.dropout > 0:
                x = nn.functional.dropout(x, self.dropout, self.training)
        return x

    def forward(self, x):
        return self.add_noise_column(self.head(self.features(x)))

    def add_noise_column(self, out):
        """Append the homoscedastic log noise variance as the last column."""
        if self.log_noise_var is None:
            return out
        return torch.cat([out, self.log_noise_var.expand(*out.shape[:-1], 1)], -1)

    def layers(self):
        """``[(weight, bias), ...]`` for every linear layer, head last."""
        return [(m.weight, m.bias) for m in (*self.hidden, self.head)]

    def prior_parameters(self):
        """The parameters the weight prior applies to (not the noise)."""
        return [p for layer in self.layers() for p in layer]


def stacked_forward(layers, x, activation, masks=None, log_noise_var=None):
    """Evaluate S networks (or one network under S dropout masks) at once.

    Parameters
    ----------
    layers : list of (weight, bias)
        Each weight has shape ``(out, in)`` (shared by every draw) or
        ``(S, out, in)`` (one per draw); biases ``(out,)`` or ``(S, out)``.
    x : Tensor of shape (n, n_in)
        Input rows.
    activation : str
        Key of ``ACTIVATIONS``.
    masks : list of Tensor of shape (S, 1, width), optional
        One scaled dropout mask per hidden layer and draw.
    log_noise_var : Tensor of shape () or (S,), optional
        Homoscedastic log noise variance to append as the last column.

    Returns
    -------
    f : Tensor of shape (S, n, n_out)
        Latent outputs; ``S`` is 1 when nothing varies over draws.
    """
    act = ACTIVATIONS[activation]
    h = x
    for i, (weight, bias) in enumerate(layers):
        if weight.dim() == 3:
            h = torch.baddbmm(bias.unsqueeze(1), h.expand(weight.shape[0], *h.shape[-2:]),
                              weight.transpose(1, 2))
        else:
            h = torch.nn.functional.linear(h, weight, bias)
        if i < len(layers) - 1:
            h = act(h)
            if masks is not None:
                h = h * masks[i]
    if h.dim() == 2:
        h = h.unsqueeze(0)
    if log_noise_var is not None:
        noise = log_noise_var.reshape(-1, 1, 1).expand(h.shape[0], h.shape[1], 1)
        h = torch.cat([h, noise], -1)
    return h


def chunk_rows(n_draws, width):
    """Rows per chunk so that one (n_draws, rows, width) tensor stays bounded."""
    return max(256, _CHUNK_FLOATS // max(1, n_draws * width))


def map_chunks(fn, x, rows):
    """Apply ``fn`` to row chunks of ``x`` and concatenate along axis -2."""
    if x.shape[0] <= rows:
        return fn(x)
    return torch.cat([fn(x[i:i + rows]) for i in range(0, x.shape[0], rows)], -2)
