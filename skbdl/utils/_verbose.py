"""Progress lines of the estimators' ``verbose`` parameter.

The MLP estimators print their epoch table through skorch's ``PrintLog``;
the GP estimators and Laplace's posterior step, which run outside skorch,
print through ``ProgressLog``: one labelled line per step, flushed at once
(as ``PrintLog`` does), and nothing at ``verbose=0``.
"""

import time


class ProgressLog:
    """Print ``[label] message`` lines when ``verbose >= level``.

    Parameters
    ----------
    label : str
        Prefix of every line, e.g. the estimator's class name.
    verbose : int
        The estimator's ``verbose``; 0 prints nothing.
    """

    def __init__(self, label, verbose):
        self.label = label
        self.verbose = int(verbose)

    def enabled(self, level=1):
        """Whether lines of this ``level`` are printed."""
        return self.verbose >= level

    def __call__(self, message, level=1):
        """Print one line at ``level`` (1: one per step, 2: finer)."""
        if self.verbose >= level:
            print(f"[{self.label}] {message}", flush=True)


class Stopwatch:
    """Seconds since construction (``time.perf_counter``), as ``'0.12 s'``."""

    def __init__(self):
        self.start = time.perf_counter()

    def __str__(self):
        return f"{time.perf_counter() - self.start:.2f} s"
