"""Epochs and optimizer steps: the one place where a length in one is converted into the other.

Paddle schedulers count ``step()`` calls; users think in epochs. paddle-optim steps every schedule
once per optimizer step, so every length written in epochs is converted here with the real number of
optimizer steps per epoch (:func:`paddle_optim.data.sampler.steps_per_epoch`), which depends on the
data size, the per-process batch size, the number of processes and gradient accumulation.
"""

UNITS = ("epoch", "step")


def to_steps(value: float, unit: str, steps_per_epoch: int) -> int:
    """A count of ``unit`` (``epoch`` or ``step``) as a whole number of optimizer steps (epochs may be fractional)."""
    if unit == "step":
        return int(round(value))
    return int(round(value * steps_per_epoch))


def end_steps(value: float, unit: str, steps_per_epoch: int) -> int:
    """A length used as the index of its last step (0-based): ``E`` epochs end at step ``E * spe - 1``;
    a length in steps is taken as that index already."""
    return to_steps(value, unit, steps_per_epoch) - (1 if unit == "epoch" else 0)
