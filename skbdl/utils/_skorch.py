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
    """Step every optimizer of ``net`` with ``closure``; return what the
    last one's ``step`` returned (``torch.optim`` rules return a loss)."""
    returned = None
    for name in net._optimizers:
        returned = getattr(net, name + "_").step(closure)
    return returned
