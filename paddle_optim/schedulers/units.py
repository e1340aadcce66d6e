"""Epochs and optimizer steps: the one place where one is converted into the other.

Paddle schedulers count ``step()`` calls; users think in epochs. paddle-optim steps every schedule
once per optimizer step, so every length written in epochs is converted here with the real number of
optimizer steps per epoch, which depends on the data size, the per-process batch size, the number of
processes (``paddle.distributed.launch``) and gradient accumulation.
"""
import math
from typing import Optional

UNITS = ("epoch", "step")


def steps_per_epoch(num_samples: int, batch_size: int, world_size: int = 1, accumulate_steps: int = 1,
                    drop_last: bool = False) -> int:
    """Optimizer steps per epoch of one process.

    Args:
        num_samples (int): training samples in the whole data set.
        batch_size (int): samples per process per micro-batch (``Data.batch_size``).
        world_size (int, default 1): number of training processes.
        accumulate_steps (int, default 1): micro-batches per optimizer step (``Global.accumulate_steps``).
        drop_last (bool, default False): drop each process's last incomplete micro-batch (``Data.drop_last``).

    Every process sees ``ceil(num_samples / world_size)`` samples (``paddle.io.DistributedBatchSampler``
    pads the data set so every rank gets as many), cut into micro-batches of ``batch_size``; the last one
    is incomplete unless ``drop_last``. The optimizer steps after every ``accumulate_steps`` micro-batches
    and once more at the end of the epoch for a remainder, so ``ceil(micro_batches / accumulate_steps)``.
    """
    for name, value in (("num_samples", num_samples), ("batch_size", batch_size), ("world_size", world_size),
                        ("accumulate_steps", accumulate_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"steps_per_epoch: {name} must be a whole number >= 1, got {value!r}")
    per_rank = math.ceil(num_samples / world_size)
    micro_batches = per_rank // batch_size if drop_last else math.ceil(per_rank / batch_size)
    if micro_batches == 0:
        raise ValueError(f"steps_per_epoch: {per_rank} samples per process make no full batch of {batch_size} "
                         f"with drop_last")
    return math.ceil(micro_batches / accumulate_steps)


def to_steps(value: float, unit: str, steps_per_epoch: int) -> int:
    """A count of ``unit`` (``epoch`` or ``step``) as a whole number of optimizer steps (epochs may be fractional)."""
    if unit == "step":
        return int(round(value))
    return int(round(value * steps_per_epoch))


def end_steps(value: float, unit: str, steps_per_epoch: int) -> int:
    """A length used as the index of its last step (0-based): ``E`` epochs end at step ``E * spe - 1``;
    a length in steps is taken as that index already."""
    return to_steps(value, unit, steps_per_epoch) - (1 if unit == "epoch" else 0)


def config_steps_per_epoch(config, world_size: int = 1, num_samples: Optional[int] = None) -> int:
    """Optimizer steps per epoch of a resolved config, for every command (``train``, ``check``,
    ``lr-plot``, ``compare``). Reads only the size of the training set, unless ``num_samples`` gives
    it. A data set that makes no step (a batch larger than it with ``drop_last``) is a ConfigError."""
    from ..data import num_train_samples
    from ..errors import ConfigError

    data = config["Data"]
    try:
        return steps_per_epoch(num_train_samples(data) if num_samples is None else num_samples, data["batch_size"],
                               world_size, config["Global"]["accumulate_steps"], data["drop_last"])
    except ValueError as err:
        raise ConfigError("Data.batch_size", str(err)) from None
