"""Seeding and the random number generators' state, as saved in ``.pdstates``."""
import random
from typing import Any, Dict

import numpy as np
import paddle


def seed_everything(seed: int) -> None:
    """Seed Paddle, numpy and Python's ``random`` (model initialisation, dropout, user augmentation)."""
    paddle.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def seed_step(seed: int, rank: int, global_step: int) -> None:
    """Reseed Paddle from ``(seed, rank, step)`` before optimizer step ``global_step``.

    Paddle's CPU generator state does not survive pickling (``GeneratorState`` keeps only the seed),
    so instead of saving it the trainer reseeds at every step a run can resume from (each epoch's
    start, each ``Checkpoint.interval_steps`` save), resumed or not: a resumed run draws exactly the
    random numbers (dropout masks) an uninterrupted one draws. Not every step: that cost the
    quickstart 1-2 % of its step rate. The rank is mixed in so that processes of a distributed run
    do not share dropout masks.
    """
    paddle.seed(_mix(_mix(_mix(seed) ^ rank) ^ global_step) >> 33)


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a cheap, well-spread 64-bit hash (a few microseconds per step)."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def rng_state() -> Dict[str, Any]:
    """numpy's and Python's global generators (user augmentation code may use them)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    # numpy's key array as a list: paddle.load would turn a uint32 array into a (failing) tensor.
    return {"numpy": [kind, keys.tolist(), pos, has_gauss, cached], "python": random.getstate()}


def set_rng_state(state: Dict[str, Any]) -> None:
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
