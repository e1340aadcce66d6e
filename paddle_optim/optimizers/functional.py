"""Pure update rules behind RAdam, Lookahead and Ranger: no parameter groups, no state, no I/O.

Each rule has a plain per-tensor form written straight from the paper (the reference the tests
compare against; for RAdam also the path for float16 / bfloat16 parameters on CPU, where Paddle
has no fused Adam kernel) and a fused form through Paddle's kernels: Adam kernels for RAdam,
SGD / merged-momentum kernels for Lookahead's synchronisation. Gradient centralisation lives in
:mod:`paddle_optim.optimizers.centralization`.

References:
    Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020 (RAdam).
    Zhang et al., "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019.
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import paddle
from paddle import _C_ops

from paddle_optim import compat

# Rectification switches on when rho_t exceeds this (torch.optim.RAdam, Paddle 3.x, Ranger).
RECTIFY_THRESHOLD = 5.0
# Tensors with fewer values share one merged_adam_ call, or one batched centralisation
# (measured break-even on CPU: ~16 K).
MERGE_BELOW = 1 << 14


@dataclass(frozen=True)
class RAdamCoefficients:
    """The scalars of one RAdam step, computed in float64 on the host.

    ``rectified``: whether rho_t > 5. ``step_size``: the factor on the learning rate, so that the
    parameter moves by ``lr * step_size * m / (sqrt(v) + epsilon)`` when rectified and by
    ``lr * step_size * m`` otherwise (momentum SGD on the bias-corrected first moment).
    """

    rectified: bool
    step_size: float


def radam_coefficients(step: int, beta1_pow: float, beta2: float) -> RAdamCoefficients:
    """RAdam's bias corrections and rectification term for step ``step`` (counted from 1).

    ``beta1_pow`` is the product of the beta1 values used so far (beta1^t for a constant beta1),
    so a momentum schedule that changes beta1 between steps stays correctly bias-corrected::

        rho_inf = 2 / (1 - beta2) - 1
        rho_t   = rho_inf - 2 t beta2^t / (1 - beta2^t)
        r_t     = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        rectified:    step_size = r_t sqrt(1 - beta2^t) / (1 - beta1_pow)
        otherwise:    step_size = 1 / (1 - beta1_pow)
    """
    bias_correction1 = 1.0 - beta1_pow
    beta2_pow = beta2**step
    bias_correction2 = 1.0 - beta2_pow
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * step * beta2_pow / bias_correction2
    if rho_t > RECTIFY_THRESHOLD:
        rect = math.sqrt(
            (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        )
        return RAdamCoefficients(True, rect * math.sqrt(bias_correction2) / bias_correction1)
    return RAdamCoefficients(False, 1.0 / bias_correction1)


def radam_reference(param, grad, moment1, moment2, master_weight: Optional[paddle.Tensor], *,
                    lr: float, beta1: float, beta2: float, epsilon: float,
                    coefficients: RAdamCoefficients, decoupled_decay: float) -> None:
    """One RAdam step on one tensor, in place, written from the paper (Liu et al. 2020, Alg. 2).

    ``grad`` already carries any coupled L2 term and gradient centralisation. The arithmetic runs
    in the dtype of the moments (fp32 for float16/bfloat16 parameters); with a ``master_weight``
    the update is applied to it and the result cast into ``param``::

        theta <- theta (1 - lr * decoupled_decay)          (AdamW-style, if decoupled_decay > 0)
        m <- beta1 m + (1 - beta1) g
        v <- beta2 v + (1 - beta2) g^2
        rectified:   theta <- theta - lr * step_size * m / (sqrt(v) + epsilon)
        otherwise:   theta <- theta - lr * step_size * m
    """
    target = param if master_weight is None else master_weight
    compute_dtype = moment1.dtype
    theta = target.astype(compute_dtype) if target.dtype != compute_dtype else target
    g = grad.astype(compute_dtype) if grad.dtype != compute_dtype else grad
    if decoupled_decay:
        theta = theta * (1.0 - lr * decoupled_decay)
    paddle.assign(beta1 * moment1 + (1.0 - beta1) * g, output=moment1)
    paddle.assign(beta2 * moment2 + (1.0 - beta2) * g * g, output=moment2)
    step = lr * coefficients.step_size
    if coefficients.rectified:
        theta = theta - step * moment1 / (moment2.sqrt() + epsilon)
    else:
        theta = theta - step * moment1
    paddle.assign(theta.astype(target.dtype), output=target)
    if master_weight is not None:
        paddle.assign(theta.astype(param.dtype), output=param)


def radam_fused(params: Sequence, grads: Sequence, moment1s: Sequence, moment2s: Sequence,
                master_weights: Optional[List], *, lr: float, beta1: float, beta2: float,
                epsilon: float, coefficients: RAdamCoefficients, decoupled_decay: float) -> None:
    """The rectified RAdam step (``coefficients.rectified`` must be True) through Paddle's kernels.

    Paddle's Adam kernel moves ``theta -= lr_t * m / (sqrt(v) + epsilon)`` when its beta powers
    are zero; with ``lr_t = lr * r_t * sqrt(1 - beta2^t) / (1 - beta1^t)`` that is exactly RAdam's
    rectified step with epsilon added to sqrt(v_t), as in torch.optim.RAdam. The AdamW kernel
    first multiplies theta by ``1 - lr_t * coeff``; ``coeff = decoupled_decay / step_size`` turns
    that into ``1 - lr * decoupled_decay`` (float64 tensors are decayed by a separate multiply,
    because the kernel's ``coeff`` is a float32 attribute). All tensors must share one dtype.
    """
    if not coefficients.rectified:
        raise ValueError("radam_fused only implements the rectified step")
    compute_dtype = moment1s[0].dtype
    step_lr = paddle.full([1], lr * coefficients.step_size, dtype=compute_dtype)
    # Zero beta powers: the kernels apply no bias correction of their own (sqrt(1 - 0) / (1 - 0) = 1);
    # the host-side radam_coefficients supply it all.
    zero = _scalar(0.0, compute_dtype)
    multi_precision = master_weights is not None
    masters = master_weights if multi_precision else [None] * len(params)
    if decoupled_decay and compute_dtype != paddle.float64:
        # adamw_ takes coeff as a float32 attribute: exact enough unless we compute in float64.
        coeff = decoupled_decay / coefficients.step_size
        for i, param in enumerate(params):
            compat.adamw_(param, grads[i], step_lr, moment1s[i], moment2s[i], zero, zero,
                          masters[i], beta1, beta2, epsilon, coeff, multi_precision)
        return
    if decoupled_decay:
        keep = paddle.full([1], 1.0 - lr * decoupled_decay, dtype=compute_dtype)
        for param in params:
            param.multiply_(keep)
    # One merged call saves the per-call overhead of small tensors; on large ones the
    # per-tensor CPU kernel is faster (vectorised), so those go one by one.
    sizes = [math.prod(param.shape) for param in params]
    small = [i for i, size in enumerate(sizes) if size < MERGE_BELOW]
    for i in (i for i, size in enumerate(sizes) if size >= MERGE_BELOW):
        compat.adam_(params[i], grads[i], step_lr, moment1s[i], moment2s[i], zero, zero,
                     masters[i], beta1, beta2, epsilon, multi_precision)
    if small:
        def pick(tensors):
            return [tensors[i] for i in small]

        compat.merged_adam_(pick(params), pick(grads), [step_lr] * len(small), pick(moment1s),
                            pick(moment2s), [zero] * len(small), [zero] * len(small),
                            pick(masters) if multi_precision else None, beta1, beta2, epsilon,
                            multi_precision)


def lookahead_sync_reference(slow: paddle.Tensor, fast: paddle.Tensor, alpha: float) -> None:
    """Lookahead's synchronisation (Zhang et al. 2019, Alg. 1), in place on both tensors::

        slow <- slow + alpha (fast - slow);   fast <- slow

    The plain form (the reference of :func:`lookahead_sync`), in the slow weights' dtype.
    """
    value = slow + alpha * (fast.astype(slow.dtype) - slow)
    paddle.assign(value, output=slow)
    paddle.assign(value.astype(fast.dtype), output=fast)


def lookahead_sync(slow: paddle.Tensor, fast: paddle.Tensor, alpha: float) -> None:
    """:func:`lookahead_sync_reference` through Paddle's kernels, the same maths to rounding.

    Two in-place SGD kernels on ``slow`` (``slow -= alpha slow``, then ``slow -= -alpha fast``)
    and one copy; no temporary. Of the kernel sequences measured (``scripts/bench_step.py
    --only sync``) it is the fastest on CPU: ``lerp_`` + copy is about 6x slower, an ``addmm_``
    axpby + copy 1.7x, ``momentum_`` + copy no faster; a copy costs about as much as an SGD
    kernel (its destination is read for ownership), and no Paddle kernel writes both tensors
    at once. ``fast`` may have a lower precision than ``slow`` (float16 parameters without
    master weights): the arithmetic then runs in the slow weights' dtype.
    """
    fast_value = fast if fast.dtype == slow.dtype else fast.astype(slow.dtype)
    _sgd_(slow, _scalar(alpha, slow.dtype), slow)
    _sgd_(slow, _scalar(-alpha, slow.dtype), fast_value)
    if fast.dtype == slow.dtype:
        fast.copy_(slow, False)
    else:
        paddle.assign(slow.astype(fast.dtype), output=fast)


def lookahead_sync_all(slows: Sequence, fasts: Sequence, alpha: float) -> None:
    """:func:`lookahead_sync` over lists of (slow, fast) pairs, small tensors in one kernel call.

    Per tensor the call overhead, not the arithmetic, dominates a small tensor's
    synchronisation (1000 tensors of [16, 16]: 13 ms one by one, 2.4 ms merged). Tensors below
    ``MERGE_BELOW`` values whose slow and fast weights share a dtype are blended by one
    ``merged_momentum_`` call, which with velocity = slow, param = grad = fast, momentum
    ``1 - alpha``, L2 coefficient ``alpha - 1`` and learning rate 0 computes
    ``slow <- (1 - alpha) slow + (fast + (alpha - 1) fast)`` and leaves ``fast`` as it is; a copy
    each then sets ``fast <- slow``. Only float32 pairs: the kernel takes its coefficients as
    float32 attributes, which would cost a float64 run its precision. Larger tensors and other
    dtypes take :func:`lookahead_sync` (faster per value).
    """
    small_slows, small_fasts = [], []
    for slow, fast in zip(slows, fasts):
        if (slow.dtype == paddle.float32 and fast.dtype == paddle.float32
                and math.prod(slow.shape) < MERGE_BELOW):
            small_slows.append(slow)
            small_fasts.append(fast)
        else:
            lookahead_sync(slow, fast, alpha)
    if small_slows:
        count = len(small_slows)
        zero = _scalar(0.0, paddle.float32)
        _C_ops.merged_momentum_(small_fasts, small_fasts, small_slows, [zero] * count, None,
                                1.0 - alpha, False, ["l2_decay"] * count, [alpha - 1.0] * count,
                                False, 1.0)
        for slow, fast in zip(small_slows, small_fasts):
            _C_ops.assign_out_(slow, fast)


def _sgd_(param, learning_rate, grad):
    """``param -= learning_rate * grad`` in place (Paddle's SGD kernel; same on 2.6 and 3.x)."""
    _C_ops.sgd_(param, learning_rate, grad, None, False)


_CONSTANTS = {}


def cached_full(shape, value: float, dtype) -> paddle.Tensor:
    """A cached constant tensor (kernels take their step size as a tensor; averaging vectors)."""
    key = (tuple(shape), value, str(dtype))
    if key not in _CONSTANTS:
        _CONSTANTS[key] = paddle.full(list(shape), value, dtype=dtype)
    return _CONSTANTS[key]


def _scalar(value: float, dtype) -> paddle.Tensor:
    return cached_full((1,), value, dtype)
