"""The prior's term in the fused training step (``_fused.train_fused``).

Each part of ``prior._gradient_plan()`` applies to a contiguous slice of the
stacked weights: an isotropic zero-mean Gaussian part is weight decay inside
the backward pass's matrix products; any other part adds its gradient after
the backward pass. The value ``-log p / N`` only feeds the epoch's mean
energy, so it is computed once per epoch from what each step kept.
"""

import torch

from ..priors import GaussianPrior


class PriorTerm:
    """The prior's share of every step, part by part of ``prior._gradient_plan``.

    Isotropic zero-mean Gaussian parts are weight decay: ``coef`` (a float
    for every weight, or a ``(weight, bias)`` pair per layer) goes to
    ``stack.backward``, which adds ``coef * w`` inside its matmuls at no
    extra cost. ``step()``, called after the backward pass, adds every other
    part's ``grad(-log p) / N`` to ``stack.grad`` (its ``_batched_energy``
    on a contiguous view of the stacked weights, all members at once).

    The value ``-log p / N`` only goes into the epoch's mean energy, so each
    step keeps what its value needs (a norm, the prior's own summary) and
    ``epoch_values`` evaluates all the epoch's steps at once: the training
    step does no arithmetic for a number nobody reads before the epoch ends.
    """

    def __init__(self, stack, prior, n_train):
        P = stack.flat.shape[1]
        n_in_weight = stack.weights[0][0].numel()
        n_out_bias = stack.biases[-1].shape[1]
        views = {
            "all": (stack.flat, stack.grad),
            "input_weight": (stack.weights[0], stack.grad_w[0]),
            "middle": (stack.flat[:, n_in_weight:P - n_out_bias],
                       stack.grad[:, n_in_weight:P - n_out_bias]),
            "output_bias": (stack.flat[:, P - n_out_bias:],
                            stack.grad[:, P - n_out_bias:]),
            "rest": (stack.flat[:, n_in_weight:], stack.grad[:, n_in_weight:]),
        }
        # the tensors each slot covers, as (layer, 0 weight / 1 bias), flat order
        tensors = [(i, j) for i in range(len(stack.weights)) for j in (0, 1)]
        covers = {"all": tensors, "input_weight": tensors[:1],
                  "middle": tensors[1:-1], "output_bias": tensors[-1:],
                  "rest": tensors[1:]}
        coefs = [[0.0, 0.0] for _ in stack.weights]
        self.n_train = n_train
        self.segments, self.decayed, decayed_slots = [], [], []
        for part, slot in prior._gradient_plan():
            weights, grads = views[slot]
            if weights.shape[-1] == 0:
                continue
            if type(part) is GaussianPrior and part._isotropic():
                c = float(part.precision) / n_train
                for i, j in covers[slot]:
                    coefs[i][j] = c
                self.decayed.append((c, weights.flatten(1), []))
                decayed_slots.append(slot)
            else:
                step, value = part._batched_energy()
                self.segments.append((step, value, weights, grads, []))
        if not self.segments and decayed_slots == ["all"]:
            self.coef = self.decayed[0][0]  # one isotropic Gaussian: weight decay
        else:
            self.coef = [tuple(pair) for pair in coefs]

    def step(self):
        """Add the gradient parts to ``stack.grad``; keep what the values need."""
        alpha = 1.0 / self.n_train
        for step, _, weights, grads, kept in self.segments:
            kept.append(step(weights, grads, alpha))
        for _, weights, kept in self.decayed:
            kept.append(torch.linalg.vector_norm(weights, dim=1))

    def epoch_values(self, n_steps):
        """``-log p / N`` at each step since the last call, shape (steps, S)."""
        kept_lists = [seg[-1] for seg in self.segments] + [d[-1] for d in self.decayed]
        for kept in kept_lists:
            if len(kept) != n_steps:
                raise RuntimeError("the prior term was stepped once per closure "
                                   f"call, {len(kept)} times, for {n_steps} losses")
        total = 0.0
        for _, value, _, _, kept in self.segments:
            total = total + value(kept)
        total = total / self.n_train
        for c, _, kept in self.decayed:
            total = total + 0.5 * c * torch.stack(kept).square()
        for kept in kept_lists:
            kept.clear()
        return total
