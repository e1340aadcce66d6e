"""Thin subclasses over ``paddle.optimizer.lr`` classes; the maths stays Paddle's.

* :class:`PerEpoch` advances a "per ``step()`` call" decay (``ExponentialDecay``, ``LambdaDecay``, ...)
  once per epoch while the training loop steps once per optimizer step, so ``gamma`` means "per epoch".
* :class:`Hold` keeps the schedule's starting learning rate (the peak) for a number of steps, then runs
  the schedule from its step 0: the "stable" phase of warmup-stable-decay and the flat phase of flat+cosine.
* :class:`CosineAnnealingWarmRestarts` also saves ``T_cur`` and ``T_i``: the native ``state_dict`` keeps
  only ``last_epoch``/``last_lr``, so a resumed native scheduler restarts its cycle bookkeeping and
  applies a wrong learning rate (Paddle 2.6.2 and 3.x).
* :class:`PlateauWarmup` is ``LinearWarmup`` in front of ``ReduceOnPlateau``, which moves on evaluation
  metrics, not on the step clock (plain ``LinearWarmup`` would feed it step numbers as metrics).

Wrappers of ``ReduceOnPlateau`` take evaluations through ``step_metric(value)``; :func:`feed_metric`
hands an evaluation to whichever of them (or the bare ``ReduceOnPlateau``) is the schedule.
"""
from typing import Any, Dict

import paddle.optimizer.lr as paddle_lr


def feed_metric(scheduler: paddle_lr.LRScheduler, value: float) -> None:
    """Give one evaluation to a ``ReduceOnPlateau`` or to a wrapper of one (``step_metric``)."""
    if isinstance(scheduler, paddle_lr.ReduceOnPlateau):
        scheduler.step(value)
    else:
        scheduler.step_metric(value)


class _Follower(paddle_lr.LRScheduler):
    """A scheduler that steps ``inner`` on a clock of its own; the checkpoint holds both."""

    def __init__(self, inner: paddle_lr.LRScheduler, learning_rate: float):
        self.inner = inner
        super().__init__(learning_rate=learning_rate)

    def _inner_at(self, epoch: int) -> float:
        # Catch up one step() at a time: recursive decays (MultiplicativeDecay, Paddle's cosine) must see
        # every step once, whether this scheduler is stepped by step() or by step(epoch) (LinearWarmup).
        while self.inner.last_epoch < epoch:
            self.inner.step()
        return self.inner.last_lr

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["inner"] = self.inner.state_dict()
        return state

    def set_state_dict(self, state_dict: Dict[str, Any]) -> None:
        state = dict(state_dict)
        self.inner.set_state_dict(state.pop("inner"))
        super().set_state_dict(state)


class PerEpoch(_Follower):
    """Step ``inner`` once per ``steps_per_epoch`` calls of ``step()``.

    Args:
        inner (LRScheduler): a freshly built scheduler; its step 0 is this scheduler's epoch 0.
        steps_per_epoch (int): optimizer steps per epoch.
    """

    def __init__(self, inner: paddle_lr.LRScheduler, steps_per_epoch: int):
        self.steps_per_epoch = steps_per_epoch
        super().__init__(inner, inner.base_lr)

    def get_lr(self) -> float:
        return self._inner_at(self.last_epoch // self.steps_per_epoch)


class Hold(_Follower):
    """The learning rate ``schedule`` starts at, constant for ``hold_steps`` steps; then ``schedule``.

    Step ``hold_steps + k`` uses the value of ``schedule``'s step ``k``, so the hand-over is continuous
    (``schedule``'s step 0 is its starting value). A ``ReduceOnPlateau`` schedule is not stepped on the
    clock: it moves on evaluations (:meth:`step_metric`), and those made during the hold are not counted.

    Args:
        schedule (LRScheduler): a freshly built scheduler that starts at the peak learning rate.
        hold_steps (int): optimizer steps at that rate before ``schedule`` starts (>= 1).
    """

    def __init__(self, schedule: paddle_lr.LRScheduler, hold_steps: int):
        self.hold_steps = hold_steps
        super().__init__(schedule, float(schedule.last_lr))

    def get_lr(self) -> float:
        if self.last_epoch < self.hold_steps:
            return self.base_lr
        if isinstance(self.inner, paddle_lr.ReduceOnPlateau):
            return self.inner.last_lr
        return self._inner_at(self.last_epoch - self.hold_steps)

    def step_metric(self, value: float) -> None:
        """Feed one evaluation to the schedule; evaluations during the hold are not counted."""
        if self.last_epoch >= self.hold_steps:
            feed_metric(self.inner, value)
            self.last_lr = self.get_lr()


class CosineAnnealingWarmRestarts(paddle_lr.CosineAnnealingWarmRestarts):
    """``paddle.optimizer.lr.CosineAnnealingWarmRestarts`` whose checkpoint resumes exactly (saves T_cur, T_i)."""

    def state_keys(self) -> None:
        super().state_keys()
        self.keys = self.keys + ["T_cur", "T_i"]


class PlateauWarmup(paddle_lr.LinearWarmup):
    """Linear warmup to ``plateau``'s learning rate, then whatever ``plateau`` decides on evaluations.

    Args:
        plateau (ReduceOnPlateau | Hold): the schedule after warmup (a :class:`Hold` of a
            ``ReduceOnPlateau`` for warmup, hold, then plateau).
        warmup_steps (int), start_lr (float): as in ``paddle.optimizer.lr.LinearWarmup``; the warmup
            ends at ``plateau``'s initial learning rate.
    """

    def __init__(self, plateau: paddle_lr.LRScheduler, warmup_steps: int, start_lr: float):
        super().__init__(plateau, warmup_steps, start_lr, plateau.last_lr)

    def get_lr(self) -> float:
        if self.last_epoch >= self.warmup_steps and isinstance(self.learning_rate, paddle_lr.ReduceOnPlateau):
            return self.learning_rate.last_lr  # moves on evaluations only
        return super().get_lr()  # a Hold is stepped on the clock (LinearWarmup steps it)

    def step_metric(self, value: float) -> None:
        """Feed one evaluation to the plateau scheduler; evaluations during warmup are not counted."""
        if self.last_epoch >= self.warmup_steps:
            feed_metric(self.learning_rate, value)
            self.last_lr = self.get_lr()
