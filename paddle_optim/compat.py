"""The one place where paddle-optim bridges Paddle 2.6 and Paddle 3.x.

Everything version-dependent lives here so that the optimizers read the same on both lines:

* the fused Adam kernels: Paddle 3.x inserted a ``moment2_max`` input (after ``moment2``) and an
  ``amsgrad`` attribute (last) into ``adam_``, ``adamw_`` and ``merged_adam_``;
* the dtype objects: Paddle 2.6 reports ``core.VarDesc.VarType`` members, 3.x ``core.DataType``
  (``paddle.float16 == param.dtype`` holds on both, so we compare with ``paddle.*`` dtypes);
* ``LayerHelper``, which ``Optimizer._add_accumulator`` needs to create accumulators in dygraph.
"""
import paddle
from paddle import _C_ops
from paddle.base.layer_helper import LayerHelper

__all__ = [
    "PADDLE_MAJOR",
    "LayerHelper",
    "adam_",
    "adamw_",
    "merged_adam_",
    "found_inf_flag",
    "has_fused_adam_kernel",
    "is_low_precision",
]


def _major(version: str) -> int:
    # Source builds report "0.0.0"; they track the development branch, i.e. the newest API.
    major = int(version.split(".")[0])
    return 3 if major == 0 else major


PADDLE_MAJOR = _major(paddle.__version__)
_HAS_AMSGRAD = PADDLE_MAJOR >= 3
# Paddle 3.x kernels take an extra (unused by us) amsgrad input and attribute.
_AMSGRAD_IN = (None,) if _HAS_AMSGRAD else ()
_AMSGRAD_ATTR = (False,) if _HAS_AMSGRAD else ()

# Arguments of the fused kernels that paddle-optim never varies.
_LAZY_MODE = False
_MIN_ROW_SIZE_TO_USE_MULTITHREAD = 1000
_USE_GLOBAL_BETA_POW = True  # the beta powers we pass are constants: never write them back


def adam_(param, grad, learning_rate, moment1, moment2, beta1_pow, beta2_pow, master_weight,
          beta1, beta2, epsilon, multi_precision):
    """In-place ``_C_ops.adam_`` with the Paddle 2.6 argument list, on either Paddle line.

    With ``b1p = beta1_pow``, ``b2p = beta2_pow`` the kernel computes
    ``m = beta1 m + (1-beta1) g``; ``v = beta2 v + (1-beta2) g^2``;
    ``param -= lr sqrt(1-b2p)/(1-b1p) * m / (sqrt(v) + epsilon sqrt(1-b2p))``
    (on ``master_weight`` and cast into ``param`` when ``multi_precision``).
    """
    _C_ops.adam_(param, grad, learning_rate, moment1, moment2, *_AMSGRAD_IN, beta1_pow, beta2_pow,
                 master_weight, None, beta1, beta2, epsilon, _LAZY_MODE,
                 _MIN_ROW_SIZE_TO_USE_MULTITHREAD, multi_precision, _USE_GLOBAL_BETA_POW,
                 *_AMSGRAD_ATTR)


def adamw_(param, grad, learning_rate, moment1, moment2, beta1_pow, beta2_pow, master_weight,
           beta1, beta2, epsilon, coeff, multi_precision):
    """In-place ``_C_ops.adamw_``: ``param *= 1 - lr * coeff``, then exactly :func:`adam_`."""
    lr_ratio, with_decay = 1.0, True
    _C_ops.adamw_(param, grad, learning_rate, moment1, moment2, *_AMSGRAD_IN, beta1_pow, beta2_pow,
                  master_weight, None, beta1, beta2, epsilon, lr_ratio, coeff, with_decay,
                  _LAZY_MODE, _MIN_ROW_SIZE_TO_USE_MULTITHREAD, multi_precision,
                  _USE_GLOBAL_BETA_POW, *_AMSGRAD_ATTR)


def merged_adam_(params, grads, learning_rates, moment1s, moment2s, beta1_pows, beta2_pows,
                 master_weights, beta1, beta2, epsilon, multi_precision):
    """:func:`adam_` over lists of tensors in one kernel call (one Python->C++ crossing)."""
    _C_ops.merged_adam_(params, grads, learning_rates, moment1s, moment2s, *_AMSGRAD_IN, beta1_pows,
                        beta2_pows, master_weights, beta1, beta2, epsilon, multi_precision,
                        _USE_GLOBAL_BETA_POW, *_AMSGRAD_ATTR)


def is_low_precision(dtype) -> bool:
    """True for float16 / bfloat16 (the dtypes that get fp32 master weights)."""
    return dtype in (paddle.float16, paddle.bfloat16)


def has_fused_adam_kernel(param) -> bool:
    """Whether ``adam_`` has a kernel for this parameter (CPU has none for float16 / bfloat16)."""
    return not (is_low_precision(param.dtype) and param.place.is_cpu_place())


def found_inf_flag(optimizer) -> bool:
    """Read (and settle) the ``found_inf`` flag that ``paddle.amp.GradScaler`` hands an optimizer.

    The scaler stores a bool tensor via ``optimizer._set_auxiliary_var('found_inf', ...)`` and reads
    it back after the step. Like Paddle's own ``_create_optimization_pass`` we replace the tensor by
    a Python bool, so the scaler and any wrapping optimizer see one settled answer.
    """
    found_inf = optimizer._get_auxiliary_var("found_inf")
    if found_inf is None:
        return False
    flag = bool(found_inf)
    optimizer._set_auxiliary_var("found_inf", flag)
    return flag
