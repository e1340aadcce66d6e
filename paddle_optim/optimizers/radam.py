"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., ICLR 2020)."""
from collections import defaultdict
from dataclasses import dataclass
from typing import List, Mapping, Optional

import paddle
from paddle.optimizer import Optimizer
from paddle.regularizer import L1Decay, L2Decay

from paddle_optim import compat
from paddle_optim.optimizers.centralization import (CentringPlan, centralize_gradients,
                                                     centring_plan, rule_for)
from paddle_optim.optimizers.functional import (
    radam_coefficients,
    radam_fused,
    radam_reference,
)
from paddle_optim.optimizers.state import PortableStateMixin
from paddle_optim.config.ranges import HALF_OPEN_UNIT, NON_NEGATIVE, POSITIVE
from paddle_optim.config.schema import check_range
from paddle_optim.optimizers.validation import check_learning_rate, check_parameters

_GROUP_KEYS = ("params", "learning_rate", "weight_decay", "grad_clip", "beta1", "beta2", "epsilon",
               "gc_axes")
# Hyperparameters a parameter group may set for itself (checked like the constructor's).
_GROUP_HYPER = {"beta1": HALF_OPEN_UNIT, "beta2": HALF_OPEN_UNIT, "epsilon": POSITIVE}
_REGULARIZERS = (L1Decay, L2Decay)  # coupled: Paddle adds their term to the gradient


@dataclass
class _Slot:
    """What RAdam keeps per parameter, looked up once per step."""

    moment1: paddle.Tensor
    moment2: paddle.Tensor
    master: Optional[paddle.Tensor]  # fp32 master weight of a float16/bfloat16 parameter
    fused: bool  # Paddle has an Adam kernel for this parameter's dtype and place
    low_precision: bool  # float16 / bfloat16
    kind: tuple  # (dtype, has master): tensors of one kind share a fused call
    gc: Optional[CentringPlan]  # how its gradient is centred (None: not centred)
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
            g_t = grad (clipped, + coupled L2/L1 term, centralised per output unit if use_gc)
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
    path :func:`~paddle_optim.optimizers.functional.radam_reference`. ``self._beta1`` (and a
    group's ``beta1``) is read on every step, so a momentum schedule may change it between steps;
    bias correction uses the product of the beta1 values actually used. Each parameter group is
    updated by its own kernel calls, so groups with different betas never share one. State: two
    moments per parameter (plus an fp32
    master weight per float16/bfloat16 parameter under ``multi_precision``) and, per parameter, a
    step count and a beta1 product kept on the host.

    Args:
        learning_rate (float|LRScheduler, optional): step size, >= 0. Default 0.001.
        beta1 (float, optional): decay of the first moment, in [0, 1). Default 0.9.
        beta2 (float, optional): decay of the second moment, in [0, 1). Default 0.999.
        epsilon (float, optional): added to sqrt(v_t), > 0. Default 1e-8.
        parameters (list, optional): parameters, or parameter-group dicts with keys ``params``
            and optionally ``learning_rate`` (a multiplier of the global rate, as in Paddle),
            ``weight_decay``, ``grad_clip``, ``beta1``, ``beta2``, ``epsilon`` (this group's own
            values) and ``gc_axes`` (one centring rule for the whole group, None: not centred).
            Required in dygraph. Default None.
        weight_decay (float|L2Decay|L1Decay, optional): coupled L2 (a float or ``L2Decay``:
            ``g + lambda theta``) or L1 (``L1Decay``: ``g + lambda sign(theta)``) added to the
            gradient as Paddle's optimizers do, or the decoupled coefficient lambda when
            ``decoupled_weight_decay`` (a float). Default None.
        decoupled_weight_decay (bool, optional): AdamW-style decay theta <- theta - lr lambda theta
            instead of L2 on the gradient. Default False.
        grad_clip (GradientClipBase, optional): e.g. ``paddle.nn.ClipGradByGlobalNorm``.
            Default None.
        multi_precision (bool, optional): keep fp32 master weights for float16/bfloat16
            parameters (``paddle.amp.decorate(level='O2')`` turns it on). Default False.
        name (str, optional): prefix of the accumulator names. Default None.
        use_gc (bool, optional, keyword-only): gradient centralisation (Yong et al., ECCV 2020):
            each output unit's gradient centred to zero mean, on Paddle's layouts (see
            :mod:`~paddle_optim.optimizers.centralization`). Default False (Ranger turns it on).
        gc_conv_only (bool, optional, keyword-only): centralise only rank > 3 (convolution)
            gradients. Default False.
        gc_axes (dict, optional, keyword-only): parameter name -> centring rule (a tuple of
            axes, a ``GCAxes``, or None for "not centred"), normally
            ``paddle_optim.gc_axes(model)``, which knows the layers. Parameters it does not name
            follow the rank rule (rank 2: axis 0 as Paddle's ``[in, out]`` Linear; rank >= 3:
            axes 1.. as a convolution). Default None.

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
                 multi_precision=False, name=None, *, use_gc=False, gc_conv_only=False,
                 gc_axes=None):
        learning_rate = check_learning_rate(learning_rate)
        beta1 = check_range("beta1", beta1, HALF_OPEN_UNIT)
        beta2 = check_range("beta2", beta2, HALF_OPEN_UNIT)
        epsilon = check_range("epsilon", epsilon, POSITIVE)
        check_parameters(parameters)
        if isinstance(weight_decay, (int, float)) and not isinstance(weight_decay, bool):
            weight_decay = check_range("weight_decay", weight_decay, NON_NEGATIVE)
        elif weight_decay is not None and not isinstance(weight_decay, _REGULARIZERS):
            raise ValueError(
                f"weight_decay={weight_decay!r}; allowed: None, a float >= 0, "
                "paddle.regularizer.L2Decay or paddle.regularizer.L1Decay"
            )
        self._decoupled = bool(decoupled_weight_decay)
        if self._decoupled and isinstance(weight_decay, _REGULARIZERS):
            raise ValueError(
                f"weight_decay={type(weight_decay).__name__}(...) with "
                "decoupled_weight_decay=True: decoupled decay takes a float coefficient; "
                "allowed: None or a float >= 0"
            )
        if gc_axes is not None and not isinstance(gc_axes, Mapping):
            raise ValueError(
                f"gc_axes={gc_axes!r}; allowed: None or a dict parameter name -> axes, "
                "e.g. paddle_optim.gc_axes(model)"
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
        # Resolved (and checked) once: parameter name -> how its gradient is centred.
        groups = self._param_groups if isinstance(self._param_groups[0], dict) else [
            {"params": self._param_groups}]
        self._gc_rules = {param.name: rule_for(param, group, gc_axes or {}, self._use_gc,
                                               self._gc_conv_only)
                          for group in groups for param in group["params"]}
        self._slots = {}  # parameter name -> _Slot

    def _add_param_group(self, param_group):
        unknown = sorted(set(param_group) - set(_GROUP_KEYS))
        if unknown:
            raise ValueError(
                f"parameter group keys {unknown} are not supported by {type(self).__name__}; "
                f"allowed: {list(_GROUP_KEYS)}"
            )
        for key, allowed in _GROUP_HYPER.items():
            if key in param_group:
                param_group = dict(param_group,
                                   **{key: check_range(key, param_group[key], allowed)})
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
                kind=(str(param.dtype), master is not None),
                gc=centring_plan(param.shape, param.dtype, self._gc_rules[param.name]))

    def _create_optimization_pass(self, parameters_and_grads, param_group_idx=0):
        # Called by Optimizer._apply_optimize (step and minimize) after grad_clip and coupled
        # L2/L1, once per parameter group (a dict carrying the group's own keys).
        if not paddle.in_dynamic_mode():
            raise NotImplementedError(f"{type(self).__name__} supports dygraph mode only")
        if isinstance(parameters_and_grads, dict):
            group = parameters_and_grads
            decay = group["weight_decay"] if self._decoupled else 0.0
        else:
            group = {"params": parameters_and_grads}
            decay = self._decay_coeff
        pairs = [(p, g) for p, g in group["params"] if g is not None and not p.stop_gradient]
        # A GradScaler that found inf/nan: nothing moves, not even the step counters.
        if compat.found_inf_flag(self) or not pairs:
            return []
        self._create_accumulators(None, [p for p, _ in pairs])
        # Read on every step: a momentum schedule writes ``_beta1`` and every group's key.
        beta1 = group.get("beta1", self._beta1)
        beta2 = group.get("beta2", self._beta2)
        epsilon = group.get("epsilon", self._epsilon)
        self._update(pairs, decay, beta1, beta2, epsilon)
        return []

    def _update(self, pairs, decay: float, beta1: float, beta2: float, epsilon: float) -> None:
        lr = self.get_lr()
        # Tensors that share step count, beta1 product, lr multiplier and dtype take one call.
        buckets = defaultdict(lambda: ([], [], [], [], []))
        slots = [self._slots[param.name] for param, _ in pairs]
        grads = [grad for _, grad in pairs]
        plans = [slot.gc for slot in slots]
        if any(plan is not None for plan in plans):
            grads = centralize_gradients(grads, plans)
        for (param, _), grad, slot in zip(pairs, grads, slots):
            slot.step += 1
            slot.beta1_pow *= beta1
            if slot.gc is not None and slot.fused and slot.low_precision:
                grad = grad.astype(param.dtype)  # GC computes float16 in float32; kernels don't
            key = (slot.step, slot.beta1_pow, param.optimize_attr["learning_rate"], slot.fused,
                   slot.kind)
            params, bucket_grads, moment1s, moment2s, masters = buckets[key]
            params.append(param)
            bucket_grads.append(grad)
            moment1s.append(slot.moment1)
            moment2s.append(slot.moment2)
            masters.append(slot.master)
        for (step, beta1_pow, lr_scale, fused, (_, has_master)), bucket in buckets.items():
            coefficients = radam_coefficients(step, beta1_pow, beta2)
            hyper = dict(lr=lr * lr_scale, beta1=beta1, beta2=beta2, epsilon=epsilon,
                         coefficients=coefficients, decoupled_decay=decay)
            if fused and coefficients.rectified:
                params, bucket_grads, moment1s, moment2s, masters = bucket
                radam_fused(params, bucket_grads, moment1s, moment2s,
                            masters if has_master else None, **hyper)
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
