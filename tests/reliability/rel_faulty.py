"""User models for the reliability tests, loaded by import path like a user's own code
(``Model: {name: "rel_faulty:NaNAtStepMLP", bad_steps: [3], kind: grad_nan}``).

:class:`NaNAtStepMLP` makes the loss or a gradient non-finite at chosen optimizer steps, counted as
training-mode forward passes (one per step without gradient accumulation; a resumed process counts
from 0 again). ``OBSERVER`` (a test sets it, in-process) is called with the step index at the start of
every training forward, i.e. after the previous step was fully applied.
"""
from typing import Callable, Optional, Sequence

import paddle
from paddle.autograd import PyLayer

OBSERVER: Optional[Callable[[int], None]] = None


class _PoisonGradient(PyLayer):
    """Identity forward; the gradient flowing back is multiplied by ``value`` (NaN or Inf)."""

    @staticmethod
    def forward(ctx, x, value):
        ctx.value = value
        return x * 1.0

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.value


class NaNAtStepMLP(paddle.nn.Layer):
    """``Linear - ReLU - Linear``; at the training forwards listed in ``bad_steps`` it injects ``kind``:

    * ``loss_nan`` / ``loss_inf``: the logits (hence the loss) become NaN / +Inf;
    * ``grad_nan`` / ``grad_inf``: the loss stays finite, the first layer's gradients become NaN / Inf.
    """

    def __init__(self, in_features: int = 8, num_classes: int = 3, hidden: int = 16,
                 bad_steps: Sequence[int] = (), kind: str = "loss_nan"):
        super().__init__()
        self.fc1 = paddle.nn.Linear(in_features, hidden)
        self.fc2 = paddle.nn.Linear(hidden, num_classes)
        self.bad_steps, self.kind = set(bad_steps), kind
        self.calls = 0

    def forward(self, x):
        bad = False
        if self.training:
            if OBSERVER is not None:
                OBSERVER(self.calls)
            bad = self.calls in self.bad_steps
            self.calls += 1
        h = self.fc1(x)
        value = float("nan") if self.kind.endswith("nan") else float("inf")
        if bad and self.kind.startswith("grad"):
            h = _PoisonGradient.apply(h, value)
        logits = self.fc2(paddle.nn.functional.relu(h))
        if bad and self.kind.startswith("loss"):
            logits = logits * value
        return logits
