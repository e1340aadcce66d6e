"""Three thin subclasses over ``paddle.optimizer.lr`` classes; the maths stays Paddle's.

* :class:`PerEpoch` advances a "per ``step()`` call" decay (``ExponentialDecay``, ``LambdaDecay``, ...)
  once per epoch while the training loop steps once per optimizer step, so ``gamma`` means "per epoch".
* :class:`CosineAnnealingWarmRestarts` also saves ``T_cur`` and ``T_i``: the native ``state_dict`` keeps
  only ``last_epoch``/``last_lr``, so a resumed native scheduler restarts its cycle bookkeeping and
  applies a wrong learning rate (Paddle 2.6.2 and 3.x).
* :class:`PlateauWarmup` is ``LinearWarmup`` in front of ``ReduceOnPlateau``, which moves on evaluation
  metrics, not on the step clock (plain ``LinearWarmup`` would feed it step numbers as metrics).
"""
from typing import Any, Dict

import paddle.optimizer.lr as paddle_lr


class PerEpoch(paddle_lr.LRScheduler):
    """Step ``inner`` once per ``steps_per_epoch`` calls of ``step()``.

    Args:
        inner (LRScheduler): a freshly built scheduler; its step 0 is this scheduler's epoch 0.
        steps_per_epoch (int): optimizer steps per epoch.
    """

    def __init__(self, inner: paddle_lr.LRScheduler, steps_per_epoch: int):
        self.inner = inner
        self.steps_per_epoch = steps_per_epoch
        super().__init__(learning_rate=inner.base_lr)

    def get_lr(self) -> float:
        epoch = self.last_epoch // self.steps_per_epoch
        # Catch up one step() at a time: recursive decays (MultiplicativeDecay) must see every epoch once.
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


class CosineAnnealingWarmRestarts(paddle_lr.CosineAnnealingWarmRestarts):
    """``paddle.optimizer.lr.CosineAnnealingWarmRestarts`` whose checkpoint resumes exactly (saves T_cur, T_i)."""

    def state_keys(self) -> None:
        super().state_keys()
        self.keys = self.keys + ["T_cur", "T_i"]


class PlateauWarmup(paddle_lr.LinearWarmup):
    """Linear warmup to ``plateau``'s learning rate, then whatever ``plateau`` decides on evaluations.

    Args:
        plateau (ReduceOnPlateau): the schedule after warmup.
        warmup_steps (int), start_lr (float): as in ``paddle.optimizer.lr.LinearWarmup``; the warmup
            ends at ``plateau``'s initial learning rate.
    """

    def __init__(self, plateau: paddle_lr.ReduceOnPlateau, warmup_steps: int, start_lr: float):
        super().__init__(plateau, warmup_steps, start_lr, plateau.last_lr)

    def get_lr(self) -> float:
        if self.last_epoch < self.warmup_steps:
            return super().get_lr()
        return self.learning_rate.last_lr

    def step_metric(self, value: float) -> None:
        """Feed one evaluation to the plateau scheduler; evaluations during warmup are not counted."""
        if self.last_epoch >= self.warmup_steps:
            self.learning_rate.step(value)
            self.last_lr = self.get_lr()
