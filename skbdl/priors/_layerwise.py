"""The layer-wise composition of priors: one for the input layer, one for the
output bias, one for the rest."""



from ..utils._sklearn import HasMethods
from ._elementwise import GaussianPrior, _BasePrior


class LayerwisePrior(_BasePrior):
    """Different priors for the input layer, the output bias and the rest.

    The network's layers are ``[(W_1, b_1), ..., (W_L, b_L)]``, head last.
    ``input`` applies to ``W_1`` (shape ``(out, n_features)``, so a
    per-feature hyper-parameter is one value per column), ``output_bias``
    to ``b_L`` (shape ``(n_outputs,)``), and ``default`` to every other
    weight and bias. The density is the product of the parts. Each part is
    a parameter, so ``GridSearchCV`` tunes, e.g.,
    ``prior__input__inclusion_prob``.

    Parameters
    ----------
    input : prior object, default=None
        Prior of the input layer's weight; None uses ``default``.
    output_bias : prior object, default=None
        Prior of the output layer's bias, e.g. ``GaussianPrior(mean=log
        base rates)`` for a classifier; None uses ``default``.
    default : prior object, default=None
        Prior of every other weight and bias; None is ``GaussianPrior(1.0)``.
        Its hyper-parameters must be scalars.

    See Also
    --------
    SpikeAndSlabPrior : Feature selection on the input layer.
    GaussianPrior : Per-feature scales and means.

    Notes
    -----
    ``neg_log_prob_layers`` is the sum of the parts' ``neg_log_prob``, each
    up to its own documented constant.

    Examples
    --------
    >>> from skbdl.priors import GaussianPrior, LayerwisePrior, SpikeAndSlabPrior
    >>> prior = LayerwisePrior(input=SpikeAndSlabPrior(inclusion_prob=0.2),
    ...                        output_bias=GaussianPrior(mean=[-1.0, 1.0]))
    >>> prior.get_params()["input__inclusion_prob"]
    0.2
    """

    _parameter_constraints = {
        key: [None, HasMethods(["neg_log_prob", "sample"])]
        for key in ("input", "output_bias", "default")
    }

    def __init__(self, input=None, output_bias=None, default=None):
        self.input = input
        self.output_bias = output_bias
        self.default = default

    def _parts(self):
        default = GaussianPrior() if self.default is None else self.default
        pick = {"input": self.input, "output_bias": self.output_bias}
        parts = {k: default if v is None else v for k, v in pick.items()}
        return {**parts, "default": default}

    def _assign(self, n_layers):
        """The part of each tensor: ``[(part of W_l, part of b_l), ...]``."""
        parts = self._parts()
        plan = [[parts["default"], parts["default"]] for _ in range(n_layers)]
        plan[0][0] = parts["input"]
        plan[-1][1] = parts["output_bias"]
        return plan

    def _check_values(self):
        for key, part in self._parts().items():
            if isinstance(part, LayerwisePrior) or (
                part._input_layer_only and key != "input"
            ):
                raise ValueError(
                    f"The {key!r} part of LayerwisePrior cannot be a "
                    f"{type(part).__name__}: SpikeAndSlabPrior is for 'input' only, "
                    f"and LayerwisePrior does not nest."
                )
            part._validate_params()
            part._check_values()

    def _unsupported(self, needs):
        if needs != "log_prob":
            return "it puts different priors on different layers"
        reasons = {key: part._unsupported(needs) for key, part in self._parts().items()}
        bad = {k: r for k, r in reasons.items() if r}
        if bad:
            return "; ".join(f"its {k!r} part {r}" for k, r in bad.items())
        return None

    def neg_log_prob(self, params):
        """Not defined on a flat list: use ``neg_log_prob_layers``.

        Parameters
        ----------
        params : iterable of torch.Tensor
            Ignored.

        Returns
        -------
        value : torch.Tensor
            Never returned.

        Raises
        ------
        TypeError
            Always: the parts depend on which layer a tensor belongs to.
        """
        raise TypeError(
            "LayerwisePrior needs the layer structure: call "
            "neg_log_prob_layers([(W, b), ...]) instead of neg_log_prob."
        )

    def neg_log_prob_layers(self, layers):
        """Negative log density of a whole network, each part up to its constant.

        Parameters
        ----------
        layers : list of (torch.Tensor, torch.Tensor)
            ``(weight, bias)`` of every linear layer, head last.

        Returns
        -------
        value : torch.Tensor
            A scalar tensor, differentiable in the layers.
        """
        plan = self._assign(len(layers))
        return sum(part.neg_log_prob([t]) for parts, layer in zip(plan, layers)
                   for part, t in zip(parts, layer))

    def _gradient_plan(self):
        parts = self._parts()
        if parts["output_bias"] is parts["default"]:  # one contiguous segment
            return [(parts["input"], "input_weight"), (parts["default"], "rest")]
        return [(parts["input"], "input_weight"), (parts["default"], "middle"),
                (parts["output_bias"], "output_bias")]

    def sample(self, shape, generator):
        """Draw a tensor from the ``default`` part.

        Parameters
        ----------
        shape : tuple of int
            Shape of the tensor to draw.
        generator : torch.Generator
            Source of randomness.

        Returns
        -------
        draw : torch.Tensor of shape ``shape``
            Weights from ``default`` (use ``sample_layers`` for a network).
        """
        return self._parts()["default"].sample(shape, generator)

    def sample_layers(self, sizes, n_samples, generator):
        """Draw the layers of ``n_samples`` networks, each tensor from its part.

        Parameters
        ----------
        sizes : sequence of int
            Widths ``[n_in, hidden..., n_out]``.
        n_samples : int
            Number of networks ``S``.
        generator : torch.Generator
            Source of randomness.

        Returns
        -------
        layers : list of (torch.Tensor, torch.Tensor)
            Weights of shape ``(S, out, in)`` and biases ``(S, out)``.
        """
        plan = self._assign(len(sizes) - 1)
        return [
            (pw.sample((n_samples, b, a), generator),
             pb.sample((n_samples, b), generator))
            for (pw, pb), a, b in zip(plan, sizes[:-1], sizes[1:])
        ]

    def check_layers(self, sizes):
        """Check each part against the tensors it applies to.

        Parameters
        ----------
        sizes : sequence of int
            Widths ``[n_in, hidden..., n_out]``.

        Raises
        ------
        ValueError
            When a per-feature hyper-parameter has the wrong length, or the
            ``default`` part has per-feature hyper-parameters.
        """
        parts = self._parts()
        parts["default"].check_layers(sizes)
        parts["input"]._check_shape(
            (sizes[1], sizes[0]),
            f"the input layer's weight (n_features_in_={sizes[0]} columns)")
        parts["output_bias"]._check_shape(
            (sizes[-1],), f"the output bias ({sizes[-1]} outputs)")

    def feature_inclusion(self, layers):
        """Posterior inclusion probability of each input feature, if defined.

        Parameters
        ----------
        layers : list of (torch.Tensor, torch.Tensor)
            Stacked layers, weights of shape ``(M, out, in)``.

        Returns
        -------
        inclusion : torch.Tensor of shape (M, in) or None
            None unless ``input`` is a ``SpikeAndSlabPrior``.
        """
        return self._parts()["input"].feature_inclusion(layers)
