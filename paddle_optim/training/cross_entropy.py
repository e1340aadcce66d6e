"""``CrossEntropyLoss`` whose mean stays on the device (for Paddle 2.6).

Paddle 2.6's ``paddle.nn.functional.cross_entropy(reduction='mean')`` with class-index labels asks
the host whether any label equals ``ignore_index`` (``if paddle.count_nonzero(is_ignore) > 0``): a
device->host synchronisation in every forward, so on a GPU every micro-batch waits for the device.
:class:`DeviceMeanCrossEntropyLoss` takes Paddle's per-sample losses (``reduction='none'``, Paddle's
kernel; an ignored label's loss is 0 there) and divides their sum by the number of labels that are
not ignored (at least 1), which is Paddle's mean, on the device; soft labels (``soft_label``,
``label_smoothing``) are a plain mean. Class weights keep Paddle's own reduction. Paddle 3.x reads
nothing there, so the trainer uses Paddle's own class on 3.x (:data:`TRAINER_CROSS_ENTROPY`).
"""
import paddle
from paddle import _C_ops

from ..compat import PADDLE_MAJOR


class DeviceMeanCrossEntropyLoss(paddle.nn.CrossEntropyLoss):
    """``paddle.nn.CrossEntropyLoss`` (same arguments, the same values up to rounding) without a host
    read in forward."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # With class weights Paddle divides by the weights of the labels: left to Paddle.
        self._device_mean = self.reduction == "mean" and self.weight is None
        if self._device_mean:
            self.reduction = "none"

    def forward(self, input, label):
        out = super().forward(input, label)
        if not self._device_mean:
            return out
        if self.soft_label or self.label_smoothing > 0:
            return _C_ops.mean_all(out)
        counted = (label != self.ignore_index).astype(out.dtype).sum()
        return out.sum() / counted.clip(min=1.0)


#: What ``Loss: {name: CrossEntropyLoss}`` builds.
TRAINER_CROSS_ENTROPY = DeviceMeanCrossEntropyLoss if PADDLE_MAJOR < 3 else paddle.nn.CrossEntropyLoss
