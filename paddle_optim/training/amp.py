"""Mixed precision: ``paddle.amp.auto_cast``, ``paddle.amp.decorate`` (O2) and ``GradScaler``.

``AMP: {enable, level: O1|O2, dtype: float16|bfloat16, init_loss_scaling, use_dynamic_loss_scaling}``.

* O1 runs white-listed ops (matmul, conv) in low precision, weights stay fp32.
* O2 casts the model to low precision; ``decorate(master_weight=True)`` makes the optimizer keep fp32
  master weights and update those, so small updates are not rounded away.
* float16 needs loss scaling (``GradScaler``: a non-finite gradient skips the step and lowers the
  scale); bfloat16 has fp32's range and trains without a scaler.

Paddle has no low-precision CPU kernels for most ops, so on CPU the trainer says once that AMP is
inactive and trains in fp32; the scaler is then a pass-through (``enable=False``) and the same
loop code runs either way.
"""
import contextlib
import logging
from typing import Any, Mapping, Optional

import paddle

from ..config.ranges import POSITIVE
from ..config.schema import Field

log = logging.getLogger("paddle_optim.train")


#: The ``AMP`` config section.
AMP_FIELDS = {
    "enable": Field((bool,), False),
    "level": Field((str,), "O1", choices=("O1", "O2"), help="O2: fp16/bf16 weights with fp32 master weights"),
    "dtype": Field((str,), "float16", choices=("float16", "bfloat16")),
    "init_loss_scaling": Field((float,), 32768.0, POSITIVE),
    "use_dynamic_loss_scaling": Field((bool,), True),
}


class Amp:
    """The AMP state of one run. ``active`` is False on CPU or when the section disables it."""

    def __init__(self, section: Mapping[str, Any], device: str):
        self.active = bool(section["enable"]) and device == "gpu"
        if section["enable"] and not self.active:
            log.info("AMP is inactive on CPU (no low-precision CPU kernels); training in float32")
        self.level, self.dtype = section["level"], section["dtype"]
        self.scaler = paddle.amp.GradScaler(
            enable=self.active and self.dtype == "float16",
            init_loss_scaling=section["init_loss_scaling"],
            use_dynamic_loss_scaling=section["use_dynamic_loss_scaling"])

    def decorate(self, model, optimizer):
        """O2: cast the model, give the optimizer fp32 master weights. Otherwise unchanged."""
        if self.active and self.level == "O2":
            return paddle.amp.decorate(models=model, optimizers=optimizer, level="O2", dtype=self.dtype,
                                       master_weight=True)
        return model, optimizer

    def autocast(self):
        if not self.active:
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(enable=True, level=self.level, dtype=self.dtype)

    def backward(self, loss) -> None:
        self.scaler.scale(loss).backward()

    def unscale(self, optimizer) -> Optional[paddle.Tensor]:
        """Divide the gradients by the loss scale now (before measuring their norm); return the
        scaler's verdict, a bool tensor on the device that is True when it found an inf/nan (its kernel
        may zero the gradients, which then look finite), or None without a scaler. Not read here: the
        trainer reads it with the step's other values, in its one host synchronisation."""
        self.scaler.unscale_(optimizer)
        # GradScaler keeps its verdict in `_found_inf` (Paddle 2.6 and 3.x); disabled, it is never set.
        return self.scaler._found_inf if self.scaler.is_enable() else None

    def step(self, optimizer) -> None:
        """Optimizer step; with a float16 scaler it is skipped when a gradient is inf/nan."""
        self.scaler.step(optimizer)
        self.scaler.update()

    def skip(self) -> None:
        """No optimizer step this time (a non-finite loss or gradient found after :meth:`unscale`): the
        scaler only updates, which ends the unscaled state."""
        self.scaler.update()

    def state_dict(self):
        return self.scaler.state_dict()

    def set_state_dict(self, state) -> None:
        if state:
            self.scaler.load_state_dict(state)
