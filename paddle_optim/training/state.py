"""The run's own counters and the random number generators, as saved in ``.pdstates``."""
import random
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Optional

import numpy as np
import paddle


@dataclass
class RunState:
    """Where the run is. ``batch_in_epoch`` counts the micro-batches of ``epoch`` already consumed
    (always at an optimizer-step boundary when saved), so a resumed run starts at the next one."""

    epoch: int = 0                       # 0-based epoch in progress
    batch_in_epoch: int = 0
    global_step: int = 0                 # optimizer-step slots done (skipped non-finite steps included)
    best_metric: Optional[float] = None
    best_epoch: Optional[int] = None
    last_metric: Optional[float] = None
    nonfinite_steps: int = 0             # total skipped steps
    nonfinite_in_row: int = 0
    train_seconds: float = 0.0           # wall clock of the step loops (no evaluation / checkpoints)
    train_cpu_seconds: float = 0.0       # CPU time of this process in the same spans (all its threads)
    samples_seen: int = 0                # over all processes
    log_loss_sum: float = 0.0            # finite step losses since the last log line ...
    log_loss_steps: int = 0              # ... and how many

    def state_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: Dict[str, Any]) -> "RunState":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in state.items() if k in names})


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
