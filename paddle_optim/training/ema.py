"""Exponential moving average of the model weights, used for evaluation.

After every optimizer step ``shadow <- d * shadow + (1 - d) * weight`` for every floating-point
entry of ``model.state_dict()`` (weights and BatchNorm statistics), kept in float32. With ``warmup``
the decay is ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early averages are not
dominated by the random initialisation (as in TensorFlow's ``ExponentialMovingAverage`` with
``num_updates`` and timm's ``ModelEmaV2``).
"""
import contextlib
from typing import Any, Dict

import numpy as np
import paddle

from ..config.ranges import OPEN_UNIT
from ..config.schema import Field


#: The ``EMA`` config section.
EMA_FIELDS = {
    "enable": Field((bool,), False),
    "decay": Field((float,), 0.999, OPEN_UNIT),
    "warmup": Field((bool,), True, help="decay = min(decay, (1 + n) / (10 + n)) after n updates"),
}


class ModelEMA:
    """Args: model (paddle.nn.Layer); decay (float, default 0.999); warmup (bool, default True)."""

    def __init__(self, model, decay: float = 0.999, warmup: bool = True):
        self.decay, self.warmup, self.updates = float(decay), bool(warmup), 0
        self.shadow: Dict[str, paddle.Tensor] = {
            k: v.detach().astype("float32").clone() for k, v in model.state_dict().items() if v.dtype in _FLOATS}

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @paddle.no_grad()
    def update(self, model) -> None:
        d = self.current_decay()
        state = model.state_dict()
        for k, s in self.shadow.items():
            paddle.assign(s * d + state[k].astype("float32") * (1.0 - d), output=s)
        self.updates += 1

    @contextlib.contextmanager
    def applied_to(self, model):
        """Temporarily load the averaged weights into ``model`` (for evaluation)."""
        backup = {k: v.clone() for k, v in model.state_dict().items() if k in self.shadow}
        model.set_state_dict({k: s.astype(backup[k].dtype) for k, s in self.shadow.items()})
        try:
            yield model
        finally:
            model.set_state_dict(backup)

    def state_dict(self) -> Dict[str, Any]:
        return {"updates": self.updates, "shadow": {k: v.numpy() for k, v in self.shadow.items()}}

    def set_state_dict(self, state: Dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        for k, v in state["shadow"].items():
            self.shadow[k] = paddle.to_tensor(np.asarray(v))  # paddle.load may hand back tensors


_FLOATS = (paddle.float16, paddle.float32, paddle.float64, paddle.bfloat16)
