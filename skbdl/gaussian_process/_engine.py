"""Which engine runs each exact-GP step: torch or NumPy.

The torch engine evaluates the kernel compiled to torch (``_kernels``) and
takes gradients by autograd; the NumPy engine calls the scikit-learn
kernel's own ``__call__`` and LAPACK through SciPy (``_numpy_exact``).
Torch pays a fixed cost per operation that only larger kernel matrices
amortise; the thresholds are measured on one thread
(docs/benchmarks/RESULTS.md, "small n"): torch / NumPy time of an LML
gradient 2.99 / 1.31 / 0.42 / 0.24 at n = 50 / 100 / 200 / 500 (8-D ARD);
of predict(return_std) on 1000 rows 16.6 (NumPy) vs 12.2 ms (torch) at
n = 500, about even at n = 200.
"""

import warnings

# LML gradients (the optimiser) on torch from this many training rows.
TORCH_GRADIENT_MIN_SAMPLES = 150
# Predictions on torch from this many n_train * n_query kernel entries.
TORCH_PREDICT_MIN_WORK = 300_000
# Tests set "numpy" or "torch" to run every step on one engine.
FORCE_ENGINE = None


def choose_engine(op, n, m=0, *, compiled, device_type):
    """ "torch" or "numpy" for one step on ``n`` training (``m`` query) rows.

    ``op`` is "gradient" (the optimiser, LML with gradient), "predict",
    "factor" (the posterior Cholesky) or "lml" (no gradient); the last two
    always run on NumPy on the CPU. A kernel with no torch compilation
    always runs on NumPy, a non-CPU device always on torch.
    """
    if not compiled:
        return "numpy"
    if FORCE_ENGINE is not None:
        return FORCE_ENGINE
    if device_type != "cpu":
        return "torch"
    if op == "gradient":
        return "torch" if n >= TORCH_GRADIENT_MIN_SAMPLES else "numpy"
    if op == "predict":
        return "torch" if n * m >= TORCH_PREDICT_MIN_WORK else "numpy"
    return "numpy"


def warn_uncompiled(kernel, n):
    """Warn (once per fit) that a kernel with no torch compilation runs on
    NumPy where the torch engine would have been used."""
    if n >= TORCH_GRADIENT_MIN_SAMPLES or FORCE_ENGINE == "torch":
        warnings.warn(
            f"The kernel {kernel} has no torch compilation (see "
            "skbdl.gaussian_process._kernels.supported_kernels); "
            "GPRegressor evaluates it with its own NumPy __call__, as "
            "scikit-learn does, without the speed-up of the torch path.",
            UserWarning,
            stacklevel=4,
        )
