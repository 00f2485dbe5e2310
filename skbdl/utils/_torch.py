"""Torch helpers: seeding without touching global RNG state, thread control,
numpy <-> tensor conversion."""

import contextlib
import os

import numpy as np
import torch
from sklearn.utils import check_random_state

# Small MLPs and GP matrices on 2-core laptops: one intra-op thread was measured
# faster than two (docs/benchmarks/RESULTS.md). Override with SKBDL_NUM_THREADS.
_DEFAULT_NUM_THREADS = 1


def get_num_threads():
    """Number of torch intra-op threads skbdl uses inside fit and predict."""
    value = os.environ.get("SKBDL_NUM_THREADS")
    if value:
        return max(1, int(value))
    return _DEFAULT_NUM_THREADS


@contextlib.contextmanager
def torch_threads(n_threads=None):
    """Run a block with ``n_threads`` torch threads, then restore the old count."""
    n_threads = get_num_threads() if n_threads is None else int(n_threads)
    previous = torch.get_num_threads()
    if previous != n_threads:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if previous != n_threads:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def seeded(seed):
    """Seed torch's global RNG inside the block and restore its state after.

    For ops that only read the global generator (module initialisation,
    ``nn.Dropout``): the caller's RNG state is unchanged afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def make_generator(seed, device="cpu"):
    """A fresh local ``torch.Generator`` seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def draw_seed(rng):
    """Draw a 31-bit integer seed from a ``numpy.random.RandomState``."""
    return int(rng.randint(0, 2**31 - 1))


def local_random_state(random_state):
    """``check_random_state`` that never draws from numpy's global RNG.

    ``None`` gives a generator seeded from fresh OS entropy instead of
    numpy's global ``RandomState``, so skbdl leaves the global state alone
    (DESIGN §1.5); integers and ``RandomState`` instances behave as in
    scikit-learn.
    """
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(1)[0])
    return check_random_state(random_state)


def to_tensor(array, dtype=torch.float32, device="cpu"):
    """Convert a numpy array to a tensor (copies read-only or strided input)."""
    array = np.asarray(array)
    if not (array.flags.writeable and array.flags.c_contiguous):
        array = np.array(array, order="C")
    return torch.as_tensor(array, dtype=dtype, device=device)


def to_numpy(tensor):
    """Detach a tensor and return it as a numpy array on the CPU."""
    return tensor.detach().cpu().numpy()
