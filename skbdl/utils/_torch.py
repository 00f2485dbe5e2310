"""Torch helpers: seeding without touching global RNG state, thread control,
numpy <-> tensor conversion."""

import contextlib
import os

import numpy as np
import torch

# Multiply-adds per call (one training step, one prediction chunk) from which
# each further torch thread pays for itself, measured on an idle 2-core machine
# (docs/benchmarks/bench_threads.py, RESULTS.md "Threads"): one Adam step of a
# 64-100-100-10 MLP on 64 rows (1.1M multiply-adds) ran at 0.95x with two
# threads, 19M at 1.34x, 72M at 1.45x, 154M at 1.66x; a 4096-row forward
# (71M) at 2.1x. One thread up to 64M, so the default small-tabular fit stays
# single-threaded: on a machine busy with other work two threads were up to
# 20x slower on those sizes.
MLP_WORK_PER_THREAD = 32_000_000
# The GP fit is many smaller ops around each Cholesky (kernel gradients per
# length scale); two threads lost below about 1500 rows (RESULTS.md "Threads"),
# i.e. below 1500^3 / 3 multiply-adds for the factorisation.
GP_WORK_PER_THREAD = 1500**3 // 6
_ENV = "SKBDL_NUM_THREADS"
# torch's own default (its physical cores, or OMP_NUM_THREADS/MKL_NUM_THREADS):
# a count that differs from it at call time was set by the user.
_TORCH_DEFAULT_THREADS = torch.get_num_threads()


def usable_cores():
    """Cores this process may run on (its CPU affinity where the OS tells)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _TORCH_DEFAULT_THREADS))


def default_num_threads(work, per_thread=MLP_WORK_PER_THREAD):
    """Threads for a call of ``work`` multiply-adds: one per ``per_thread``.

    At least one and at most ``usable_cores()``; the count depends on the
    problem's size and the machine only, never on its current load, so the
    same data and ``random_state`` give the same fit.
    """
    return int(max(1, min(usable_cores(), int(work) // int(per_thread))))


def _user_threads():
    """The user's explicit thread count, or None when they set none."""
    value = os.environ.get(_ENV, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(
                f"The environment variable {_ENV} must be a positive integer; "
                f"got {value!r}. Unset it to let skbdl choose."
            )
        return n
    current = torch.get_num_threads()
    if current != _TORCH_DEFAULT_THREADS:  # torch.set_num_threads was called
        return current
    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return current
    return None


def get_num_threads(work=0, per_thread=MLP_WORK_PER_THREAD):
    """Number of torch intra-op threads skbdl uses for a call of ``work``.

    In order: ``SKBDL_NUM_THREADS``; a count the user chose (a
    ``torch.set_num_threads`` call after importing skbdl, or
    ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``); otherwise
    ``default_num_threads(work, per_thread)``.
    """
    user = _user_threads()
    return default_num_threads(work, per_thread) if user is None else user


@contextlib.contextmanager
def torch_threads(n_threads=None, *, work=0):
    """Run a block with ``n_threads`` torch threads, then restore the old count.

    ``None`` means ``get_num_threads(work)``.
    """
    n_threads = get_num_threads(work) if n_threads is None else int(n_threads)
    previous = torch.get_num_threads()
    if previous != n_threads:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if previous != n_threads:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def flush_denormal():
    """Treat subnormal floats as zero inside the block (CPU), then restore.

    Sampled networks (SGLD's noise, broad posteriors) drive softmax
    probabilities and their gradients below float32's normal range (1e-38),
    where x86 arithmetic is 10-100x slower: a constant-step SGLD fit on
    digits took 4.6 s with subnormals and 1.45 s without (MAP 1.1 s).
    Flushing changes values only below 1.2e-38. The previous setting is read
    back (a subnormal times one is zero when flushing is on) and restored.
    The flag is per thread (the x86 MXCSR register): torch's intra-op worker
    threads keep their own, so the gain is full with one thread, which is
    what small networks run with (``get_num_threads``).
    """
    tiny = torch.tensor([1e-39], dtype=torch.float32)
    was_on = bool((tiny * 1.0)[0] == 0)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_on)


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


def to_tensor(array, dtype=torch.float32, device="cpu"):
    """Convert a numpy array to a tensor (copies read-only or strided input)."""
    array = np.asarray(array)
    if not (array.flags.writeable and array.flags.c_contiguous):
        array = np.array(array, order="C")
    return torch.as_tensor(array, dtype=dtype, device=device)


def to_numpy(tensor):
    """Detach a tensor and return it as a numpy array on the CPU."""
    return tensor.detach().cpu().numpy()
