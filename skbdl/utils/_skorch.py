"""The one place where skbdl calls skorch's private API.

The training engine subclasses skorch's ``NeuralNet`` and replaces its
per-batch step; that step needs skorch's private optimizer helpers.
Calling them only here keeps a skorch refactoring to a single file (the
same discipline as ``_sklearn.py``).
"""


def zero_grad(net):
    """Zero the gradients of every optimizer of ``net``."""
    net._zero_grad_optimizer()


def step(net, closure):
    """Step every optimizer of ``net`` with ``closure``."""
    net._step_optimizer(closure)
