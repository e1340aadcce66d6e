"""``CrossEntropyLoss`` whose mean stays on the device.

Paddle 2.6's ``paddle.nn.functional.cross_entropy(reduction='mean')`` with class-index labels asks
the host whether any label equals ``ignore_index`` (``if paddle.count_nonzero(is_ignore) > 0``): a
device->host synchronisation in every forward, so on a GPU every micro-batch waits for the device.
This subclass takes Paddle's per-sample losses (``reduction='none'``, Paddle's kernel) and reduces
them as Paddle does, on the device: ``mean_all`` (Paddle's kernel) when no label is ignored, else the
sum divided by the number of labels that are not ignored; soft labels (``soft_label``,
``label_smoothing``) are a plain mean. Class weights keep Paddle's own reduction. Paddle 3.x has no
such read; the same class runs there (one code path).
"""
import paddle
from paddle import _C_ops


class CrossEntropyLoss(paddle.nn.CrossEntropyLoss):
    """``paddle.nn.CrossEntropyLoss`` (same arguments, same values) without a host read in forward."""

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
        mean = _C_ops.mean_all(out)
        if self.soft_label or self.label_smoothing > 0:
            return mean
        valid = (label != self.ignore_index).astype(out.dtype).reshape(out.shape)
        count = valid.sum()
        without_ignored = out.sum() / (count + (count == 0).astype(count.dtype))
        return paddle.where(count == float(out.size), mean, without_ignored)
