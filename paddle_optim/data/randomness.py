"""Random numbers of data loading as a pure function of a key such as ``(seed, epoch, sample index)``.

``paddle.vision.transforms`` draw from Python's ``random`` and numpy's global generator (Paddle's own
generator only in static-graph mode), and ``paddle.io.DataLoader`` seeds each worker process from a
number it draws from the main process's numpy generator when an iterator is created. Both make an
augmented run depend on the number of workers and on where it was resumed. Seeding the two
generators from a key before each sample, and restoring the caller's state after, makes every
sample's draws independent of the process that computes it and leaves the main process's
generators (saved in checkpoints) untouched. The generators are global to a process; the trainer
reads samples in its own thread (:mod:`paddle_optim.data.loader`), but a ``paddle.io.DataLoader``
without workers over a :class:`~paddle_optim.data.transforms.SeededSamples` reads them in a
background thread (two at once when an iterator is dropped while the next starts), so every seeded
block holds one lock.
"""
import contextlib
import hashlib
import random
import threading
from typing import Iterator

import numpy as np
import paddle

#: Held while a block uses (seeds, draws from, restores) the process's global generators.
_GENERATORS = threading.RLock()


def _digest(key) -> bytes:
    # SHA-256 of the key's text: any integers (negative seeds too), well spread, a microsecond or two.
    return hashlib.sha256(":".join(str(int(k)) for k in key).encode()).digest()


def seed_generators(*key: int) -> None:
    """Seed Python's ``random`` and numpy's global generator from ``key`` (e.g. seed, epoch, index)."""
    digest = _digest(key)
    random.seed(int.from_bytes(digest, "little"))
    np.random.seed(np.frombuffer(digest, dtype=np.uint32))


@contextlib.contextmanager
def seeded(*key: int) -> Iterator[None]:
    """Inside the block ``random`` and ``numpy.random`` draw from ``key``; on exit the caller's states are back.

    In a DataLoader worker process the generators serve the data set alone, so they are only seeded:
    saving and restoring numpy's state costs 4-5x more than seeding it (about 0.2 ms vs 0.04 ms).
    """
    if paddle.io.get_worker_info() is not None:
        seed_generators(*key)
        yield
        return
    with _GENERATORS, numpy_state_kept():
        python_state = random.getstate()
        seed_generators(*key)
        try:
            yield
        finally:
            random.setstate(python_state)


def seed_worker(seed: int, epoch: int, worker_id: int) -> None:
    """``worker_init_fn`` of a DataLoader: a worker's ``random``, numpy and Paddle generators from
    ``(seed, epoch, worker id)`` instead of a number drawn in the main process."""
    seed_generators(seed, epoch, worker_id)
    paddle.seed(int.from_bytes(_digest((seed, epoch, worker_id))[:4], "little"))


@contextlib.contextmanager
def numpy_state_kept() -> Iterator[None]:
    """The main process's numpy state as it was before the block (creating a DataLoader iterator with
    workers draws one number from it)."""
    with _GENERATORS:
        state = np.random.get_state()
        try:
            yield
        finally:
            np.random.set_state(state)
