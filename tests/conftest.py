"""Make the shared test modules (``scenarios``, ``reference_predictions``)
importable from every test directory (``--import-mode=importlib`` does not
put ``tests/`` on ``sys.path``), and give each pytest-xdist worker one torch
thread."""

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # ``pytest -n 2`` on 2 cores: with torch's default of one thread per core
    # the two workers oversubscribe the machine, and torch code outside
    # skbdl's own thread choice (the tests' hand-written chains, the oracle
    # libraries) slows down badly: the full-batch SGLD oracle took 14-44 s
    # with 2 threads beside another job and 1.8 s with one. Set after skbdl is
    # imported, so this counts as the user's explicit setting (README
    # "Threads"); tests/utils/test_threads.py resets it per test.
    import torch

    import skbdl  # noqa: F401

    torch.set_num_threads(1)
