"""Named random streams derived from ``random_state`` with ``SeedSequence``.

One fit draws all its randomness from independent streams (weight
initialisation, batch order, dropout, training-time noise, data splits,
predictive draws), each seeded from a child of one
``numpy.random.SeedSequence``; ensemble members and chains get child
``Seeds`` of their own. Children are addressed by name or index, not spawned
in sequence, so adding a stream never shifts the others.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from ._torch import make_generator

#: The named streams of one training run, in a fixed order (the index of a
#: name is its child key: never reorder, only append).
STREAMS = ("init", "batches", "dropout", "noise", "split", "holdout", "predict")


class Seeds:
    """The seed tree of one fit (or of one member or chain of it).

    Parameters
    ----------
    sequence : numpy.random.SeedSequence
        The root of this tree.
    """

    def __init__(self, sequence):
        self.sequence = sequence

    @classmethod
    def from_random_state(cls, random_state):
        """Seeds of ``random_state`` following scikit-learn's convention.

        An int is the entropy itself (no global state is read or changed);
        a ``RandomState`` instance, or None (numpy's global ``RandomState``,
        so ``np.random.seed(0)`` makes a script reproducible), gives one draw
        of entropy.
        """
        if isinstance(random_state, Integral) and not isinstance(random_state, bool):
            entropy = int(random_state)
        else:
            entropy = int(check_random_state(random_state).randint(0, 2**31 - 1))
        return cls(np.random.SeedSequence(entropy))

    def _child(self, key):
        seq = self.sequence
        return np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, key))

    def child(self, index):
        """The ``Seeds`` of member or chain ``index`` (independent of the rest)."""
        return Seeds(self._child(len(STREAMS) + int(index)))

    @property
    def key(self):
        """This tree's position under the fit's root, a tuple of ints.

        ``()`` for the root and ``(k,)``-like keys for children, the same
        for every ``random_state``: warm start matches a member's previous
        weights by it (``TrainingProblem.init_modules``).
        """
        return tuple(self.sequence.spawn_key)

    def seed(self, name):
        """A 63-bit integer seed for the stream ``name`` (one of ``STREAMS``)."""
        state = self._child(STREAMS.index(name)).generate_state(2, dtype=np.uint32)
        return int(state[0]) << 31 | int(state[1]) >> 1

    def generator(self, name, device="cpu"):
        """A fresh ``torch.Generator`` for the stream ``name``."""
        return make_generator(self.seed(name), device)

    def __repr__(self):
        return f"Seeds(entropy={self.sequence.entropy}, key={self.sequence.spawn_key})"
