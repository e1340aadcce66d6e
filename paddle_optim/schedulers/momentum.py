"""Momentum schedules: the momentum of ``Momentum`` / beta1 of Adam, AdamW, RAdam and Ranger over training.

No Paddle optimizer schedules its momentum. A low momentum early (0.8) rising later (0.95) steadies
unstable starts; with ``OneCycleLR`` the momentum moves inversely to the learning rate (Smith,
"A disciplined approach to neural network hyper-parameters", 2018): high while the learning rate is
low, low at the learning-rate peak.

A schedule is a pure function of the optimizer step (``value(step)``), so a checkpoint only needs the
step count and a resumed run gets exactly the values of an uninterrupted one.
"""
import math
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple

from ..errors import ConfigError
from ..optimizers.lookahead import innermost

MOMENTUM_SECTION = "MomentumScheduler"


@dataclass(frozen=True)
class Phase:
    """From ``start_value`` at step ``start`` to ``end_value`` at step ``end`` (``anneal``: linear or cos)."""

    start: float
    end: float
    start_value: float
    end_value: float
    anneal: str = "linear"

    def value(self, step: int) -> float:
        span = self.end - self.start
        pct = 1.0 if span <= 0 else min(max((step - self.start) / span, 0.0), 1.0)
        if self.anneal == "cos":
            return self.end_value + (self.start_value - self.end_value) / 2.0 * (math.cos(math.pi * pct) + 1)
        return self.start_value + (self.end_value - self.start_value) * pct


class MomentumSchedule:
    """Momentum as a function of the optimizer step: consecutive phases, then the last phase's end value.

    Args:
        phases (list[Phase]): in order; before the first phase its start value applies, after the last
            its end value.
    """

    def __init__(self, phases: List[Phase]):
        if not phases:
            raise ValueError("MomentumSchedule needs at least one phase")
        self.phases = list(phases)

    def value(self, step: int) -> float:
        """The momentum applied on optimizer step ``step`` (0-based)."""
        for phase in self.phases:
            if step <= phase.end:
                return phase.value(step)
        return self.phases[-1].end_value

    @classmethod
    def linear(cls, start: float, end: float, length: int, anneal: str = "linear") -> "MomentumSchedule":
        """``start`` on step 0 to ``end`` on step ``length`` (cosine-shaped with ``anneal='cos'``)."""
        return cls([Phase(0, length, start, end, anneal)])

    @classmethod
    def step(cls, start: float, end: float, at: int) -> "MomentumSchedule":
        """``start`` before step ``at``, ``end`` from it on."""
        return cls([Phase(0, at - 1, start, start), Phase(at - 1, at, end, end)])

    @classmethod
    def one_cycle(cls, max_momentum: float, base_momentum: float, total_steps: int, phase_pct: float = 0.3,
                  anneal_strategy: str = "cos", three_phase: bool = False, offset: int = 0) -> "MomentumSchedule":
        """The inverse of ``paddle.optimizer.lr.OneCycleLR`` with the same phase boundaries.

        ``max_momentum`` -> ``base_momentum`` while the learning rate rises, back to ``max_momentum``
        while it falls (three-phase: then stays there). ``offset`` is the step OneCycleLR starts on
        (after a warmup).
        """
        if three_phase:
            ends = [phase_pct * total_steps - 1, 2 * phase_pct * total_steps - 2, total_steps - 1]
            values = [max_momentum, base_momentum, max_momentum, max_momentum]
        else:
            ends = [phase_pct * total_steps - 1, total_steps - 1]
            values = [max_momentum, base_momentum, max_momentum]
        starts = [0.0] + ends[:-1]
        return cls([Phase(offset, offset, max_momentum, max_momentum)] +
                   [Phase(offset + s, offset + e, values[i], values[i + 1], anneal_strategy)
                    for i, (s, e) in enumerate(zip(starts, ends))])


def static_momentum(optimizer: Mapping[str, Any]) -> Optional[float]:
    """The constant momentum of an optimizer section (Lookahead: of its inner optimizer)."""
    while isinstance(optimizer.get("inner"), Mapping):
        optimizer = optimizer["inner"]
    for key in ("momentum", "beta1"):
        if isinstance(optimizer.get(key), (int, float)) and not isinstance(optimizer.get(key), bool):
            return float(optimizer[key])
    return None


def no_momentum(optimizer_name: str) -> ConfigError:
    """The one error for a momentum schedule of an optimizer without momentum or beta1 (raised by
    config validation, and by :func:`momentum_slot` for an optimizer built by hand)."""
    return ConfigError(MOMENTUM_SECTION, f"optimizer {optimizer_name} has no momentum or beta1 to schedule; "
                                         "use Momentum, Adam, AdamW, RAdam or Ranger, or remove MomentumScheduler")


def momentum_slot(optimizer: Any) -> Tuple[Any, str]:
    """The optimizer object that holds the momentum and its argument name (``momentum`` or ``beta1``).

    Lookahead (and Ranger) is seen through (:func:`~paddle_optim.optimizers.lookahead.innermost`).
    ``paddle.optimizer.Momentum`` keeps ``_momentum``; Adam, AdamW and our
    RAdam keep ``_beta1``; both are read on every step.
    """
    target = innermost(optimizer)
    for key in ("momentum", "beta1"):
        if hasattr(target, "_" + key):
            return target, key
    raise no_momentum(type(optimizer).__name__)


def set_momentum(target: Any, key: str, value: float) -> None:
    """Write ``value`` where ``target`` reads its ``key`` on the next step, including parameter groups.

    Paddle copies each group's options from ``_default_dict`` at construction and reloads them into
    ``_momentum``/``_beta1`` before updating the group, so all three places are written.
    """
    setattr(target, "_" + key, value)
    defaults = getattr(target, "_default_dict", None) or {}
    if key in defaults:
        defaults[key] = value
    for group in getattr(target, "_param_groups", None) or ():
        if isinstance(group, dict) and key in group:
            group[key] = value

