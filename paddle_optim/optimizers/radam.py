"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., ICLR 2020)."""
from collections import defaultdict
from dataclasses import dataclass
from typing import List, Optional

import paddle
from paddle.optimizer import Optimizer
from paddle.regularizer import L2Decay

from paddle_optim import compat
from paddle_optim.optimizers.functional import (
    centralize_gradients,
    radam_coefficients,
    radam_fused,
    radam_reference,
)
from paddle_optim.optimizers.state import PortableStateMixin
from paddle_optim.config.ranges import HALF_OPEN_UNIT, NON_NEGATIVE, POSITIVE
from paddle_optim.config.schema import check_range
from paddle_optim.optimizers.validation import check_learning_rate, check_parameters

_GROUP_KEYS = ("params", "learning_rate", "weight_decay", "grad_clip")


@dataclass
class _Slot:
    """What RAdam keeps per parameter, looked up once per step."""

    moment1: paddle.Tensor
    moment2: paddle.Tensor
    master: Optional[paddle.Tensor]  # fp32 master weight of a float16/bfloat16 parameter
    fused: bool  # Paddle has an Adam kernel for this parameter's dtype and place
    low_precision: bool  # float16 / bfloat16
    kind: tuple  # (dtype, has master): tensors of one kind share a fused call
    step: int = 0  # steps taken
    beta1_pow: float = 1.0  # product of the beta1 values used


class RAdam(PortableStateMixin, Optimizer):
    r"""Rectified Adam, a drop-in ``paddle.optimizer.Optimizer``.

    Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020
    (https://arxiv.org/abs/1908.03265). Same signature as Paddle 3.x's ``paddle.optimizer.RAdam``
    plus ``decoupled_weight_decay``; the same numbers as ``torch.optim.RAdam``::

        input: lr, beta1, beta2, epsilon, weight decay lambda, parameters theta_0
        init:  m_0 = v_0 = 0, rho_inf = 2 / (1 - beta2) - 1
        for t = 1, 2, ...:
            g_t = grad (clipped, + lambda theta if coupled, centralised if use_gc)
            theta = theta (1 - lr lambda)                    if decoupled_weight_decay
            m_t = beta1 m + (1 - beta1) g_t;   v_t = beta2 v + (1 - beta2) g_t^2
            m_hat = m_t / (1 - prod(beta1 used so far))
            rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
            if rho_t > 5:
                r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))
                theta = theta - lr r_t m_hat sqrt(1 - beta2^t) / (sqrt(v_t) + epsilon)
            else:
                theta = theta - lr m_hat          (momentum SGD: never skipped, never reversed)

    The rectified step runs through Paddle's fused Adam kernels (``merged_adam_``, or ``adamw_``
    per tensor with decoupled decay), which compute exactly this when handed ``lr * r_t * ...``;
    the first steps (rho_t <= 5) and float16/bfloat16 parameters on CPU take the plain per-tensor
    path :func:`~paddle_optim.optimizers.functional.radam_reference`. ``self._beta1`` is read on
    every step, so a momentum schedule may change it between steps; bias correction uses the
    product of the beta1 values actually used. State: two moments per parameter (plus an fp32
    master weight per float16/bfloat16 parameter under ``multi_precision``) and, per parameter, a
    step count and a beta1 product kept on the host.

    Args:
        learning_rate (float|LRScheduler, optional): step size, >= 0. Default 0.001.
        beta1 (float, optional): decay of the first moment, in [0, 1). Default 0.9.
        beta2 (float, optional): decay of the second moment, in [0, 1). Default 0.999.
        epsilon (float, optional): added to sqrt(v_t), > 0. Default 1e-8.
        parameters (list, optional): parameters, or parameter-group dicts with keys ``params``
            and optionally ``learning_rate`` (a multiplier of the global rate, as in Paddle),
            ``weight_decay`` and ``grad_clip``. Required in dygraph. Default None.
        weight_decay (float|L2Decay, optional): coupled L2 (added to the gradient), or the
            decoupled coefficient lambda when ``decoupled_weight_decay`` (a float). Default None.
        decoupled_weight_decay (bool, optional): AdamW-style decay theta <- theta - lr lambda theta
            instead of L2 on the gradient. Default False.
        grad_clip (GradientClipBase, optional): e.g. ``paddle.nn.ClipGradByGlobalNorm``.
            Default None.
        multi_precision (bool, optional): keep fp32 master weights for float16/bfloat16
            parameters (``paddle.amp.decorate(level='O2')`` turns it on). Default False.
        name (str, optional): prefix of the accumulator names. Default None.
        use_gc (bool, optional, keyword-only): gradient centralisation (Yong et al., ECCV 2020)
            on gradients of rank > 1. Default False (Ranger turns it on).
        gc_conv_only (bool, optional, keyword-only): centralise only rank > 3 (convolution)
            gradients. Default False.

    Example::

        import paddle, paddle_optim
        model = paddle.nn.Linear(4, 2)
        opt = paddle_optim.RAdam(learning_rate=1e-3, parameters=model.parameters())
        model(paddle.rand([8, 4])).mean().backward()
        opt.step()
        opt.clear_grad()
    """

    _moment1_acc_str = "moment1"
    _moment2_acc_str = "moment2"

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 parameters=None, weight_decay=None, decoupled_weight_decay=False, grad_clip=None,
                 multi_precision=False, name=None, *, use_gc=False, gc_conv_only=False):
        learning_rate = check_learning_rate(learning_rate)
        beta1 = check_range("beta1", beta1, HALF_OPEN_UNIT)
        beta2 = check_range("beta2", beta2, HALF_OPEN_UNIT)
        epsilon = check_range("epsilon", epsilon, POSITIVE)
        check_parameters(parameters)
        if isinstance(weight_decay, (int, float)) and not isinstance(weight_decay, bool):
            weight_decay = check_range("weight_decay", weight_decay, NON_NEGATIVE)
        elif weight_decay is not None and not isinstance(weight_decay, L2Decay):
            raise ValueError(
                f"weight_decay={weight_decay!r}; allowed: None, a float >= 0 or "
                "paddle.regularizer.L2Decay"
            )
        self._decoupled = bool(decoupled_weight_decay)
        if self._decoupled and isinstance(weight_decay, L2Decay):
            raise ValueError(
                "weight_decay=L2Decay(...) with decoupled_weight_decay=True: decoupled decay "
                "takes a float coefficient; allowed: None or a float >= 0"
            )
        # Read by _add_param_group, which the base constructor calls.
        self._decay_coeff = (weight_decay or 0.0) if self._decoupled else 0.0
        super().__init__(learning_rate=learning_rate, parameters=parameters,
                         weight_decay=None if self._decoupled else weight_decay,
                         grad_clip=grad_clip, name=name)
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon
        self._multi_precision = bool(multi_precision)
        self._use_gc = bool(use_gc)
        self._gc_conv_only = bool(gc_conv_only)
        self._slots = {}  # parameter name -> _Slot

    def _add_param_group(self, param_group):
        unknown = sorted(set(param_group) - set(_GROUP_KEYS))
        if unknown:
            raise ValueError(
                f"parameter group keys {unknown} are not supported by {type(self).__name__}; "
                f"allowed: {list(_GROUP_KEYS)}"
            )
        decay = param_group.get("weight_decay")
        if self._decoupled:
            # Decoupled decay is applied by the update, never as an L2 regularizer.
            if decay is not None and not isinstance(decay, (int, float)):
                raise ValueError(f"parameter group weight_decay={decay!r}; allowed: a float >= 0")
            param_group = dict(param_group, weight_decay=None)
        super()._add_param_group(param_group)
        if self._decoupled:
            self._param_groups[-1]["weight_decay"] = (
                self._decay_coeff if decay is None else float(decay)
            )

    def _create_accumulators(self, block, parameters):
        if isinstance(parameters, dict):
            parameters = parameters["params"]
        if self.helper is None:
            self.helper = compat.LayerHelper(type(self).__name__)
        for param in parameters:
            if param.name in self._slots:
                continue
            master = None
            if self._multi_precision and compat.is_low_precision(param.dtype):
                master = self._create_master_weight(param)
            dtype = paddle.float32 if compat.is_low_precision(param.dtype) else param.dtype
            self._add_accumulator(self._moment1_acc_str, param, dtype=dtype)
            self._add_accumulator(self._moment2_acc_str, param, dtype=dtype)
            self._slots[param.name] = _Slot(
                moment1=self._accumulators[self._moment1_acc_str][param.name],
                moment2=self._accumulators[self._moment2_acc_str][param.name],
                master=master, fused=compat.has_fused_adam_kernel(param),
                low_precision=compat.is_low_precision(param.dtype),
                kind=(str(param.dtype), master is not None))

    def _create_optimization_pass(self, parameters_and_grads, param_group_idx=0):
        # Called by Optimizer._apply_optimize (step and minimize) after grad_clip and coupled L2.
        if not paddle.in_dynamic_mode():
            raise NotImplementedError(f"{type(self).__name__} supports dygraph mode only")
        if isinstance(parameters_and_grads, dict):
            pairs = parameters_and_grads["params"]
            decay = parameters_and_grads["weight_decay"] if self._decoupled else 0.0
        else:
            pairs = parameters_and_grads
            decay = self._decay_coeff
        pairs = [(p, g) for p, g in pairs if g is not None and not p.stop_gradient]
        # A GradScaler that found inf/nan: nothing moves, not even the step counters.
        if compat.found_inf_flag(self) or not pairs:
            return []
        self._create_accumulators(None, [p for p, _ in pairs])
        self._update(pairs, decay)
        return []

    def _update(self, pairs, decay: float) -> None:
        lr = self.get_lr()
        # Tensors that share step count, beta1 product, lr multiplier and dtype take one call.
        buckets = defaultdict(lambda: ([], [], [], [], []))
        grads = [grad for _, grad in pairs]
        if self._use_gc:
            grads = centralize_gradients(grads, self._gc_conv_only)
        for (param, _), grad in zip(pairs, grads):
            slot = self._slots[param.name]
            slot.step += 1
            slot.beta1_pow *= self._beta1
            if self._use_gc and slot.fused and slot.low_precision:
                grad = grad.astype(param.dtype)  # GC computes float16 in float32; kernels don't
            key = (slot.step, slot.beta1_pow, param.optimize_attr["learning_rate"], slot.fused,
                   slot.kind)
            params, grads, moment1s, moment2s, masters = buckets[key]
            params.append(param)
            grads.append(grad)
            moment1s.append(slot.moment1)
            moment2s.append(slot.moment2)
            masters.append(slot.master)
        for (step, beta1_pow, lr_scale, fused, (_, has_master)), bucket in buckets.items():
            coefficients = radam_coefficients(step, beta1_pow, self._beta2)
            hyper = dict(lr=lr * lr_scale, beta1=self._beta1, beta2=self._beta2,
                         epsilon=self._epsilon, coefficients=coefficients, decoupled_decay=decay)
            if fused and coefficients.rectified:
                params, grads, moment1s, moment2s, masters = bucket
                radam_fused(params, grads, moment1s, moment2s, masters if has_master else None,
                            **hyper)
            else:
                for param, grad, moment1, moment2, master in zip(*bucket):
                    radam_reference(param, grad, moment1, moment2, master, **hyper)

    def _export_extra_state(self, params: List) -> dict:
        return {"steps": {i: (self._slots[p.name].step, self._slots[p.name].beta1_pow)
                          for i, p in enumerate(params) if p.name in self._slots}}

    def _import_extra_state(self, params: List, extra: dict) -> None:
        for position, (step, beta1_pow) in extra["steps"].items():
            slot = self._slots[params[position].name]  # created with the loaded moments
            slot.step, slot.beta1_pow = int(step), float(beta1_pow)
