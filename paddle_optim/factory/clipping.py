"""Gradient clipping: the ``grad_clip`` key, the global gradient norm measured once per step, and
global-norm clipping across parameter groups.

One measurement serves three purposes in the trainer: the non-finite test of every step (a NaN or
Inf anywhere makes the norm non-finite), the ``train/grad_norm`` log, and the clipping factor. A
separate finiteness pass over all gradients cost the quickstart 5-8 % of its step rate on 2 CPU
cores; measured once and handed to the clip it costs one host read.
"""
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import paddle
from paddle import _C_ops

from ..compat import is_low_precision
from ..config.ranges import POSITIVE
from ..config.schema import Field, join_key, unknown_name_message, validate_section
from ..errors import ConfigError


def squared_norm(grads: Sequence[Any]) -> Optional[paddle.Tensor]:
    """Sum of the squares of every element of ``grads`` together (a one-element tensor), or None for
    no tensors: one fused ``squared_l2_norm`` per tensor. float16/bfloat16 are summed in float32
    (a float16 square overflows at 256); float64 as soon as one tensor is float64. Not finite when
    an element is not, or when the sum overflows (a norm above ~1.8e19 in float32)."""
    squares = [_C_ops.squared_l2_norm(g.astype("float32") if is_low_precision(g.dtype) else g) for g in grads]
    if not squares:
        return None
    if len({s.dtype for s in squares}) > 1:
        squares = [s.astype("float64") for s in squares]
    return paddle.add_n(squares)


def global_norm(grads: Sequence[Any]) -> float:
    """L2 norm of the tensors ``grads`` together, as ``ClipGradByGlobalNorm`` measures it, with one
    host read (``.item()``: ``float(tensor)`` costs 50 times more on Paddle 2.6)."""
    squared = squared_norm(grads)
    return 0.0 if squared is None else math.sqrt(squared.item())


def _needs_clip(param) -> bool:
    return getattr(param, "need_clip", True)


class ClipGradByGlobalNormAcrossGroups(paddle.nn.ClipGradByGlobalNorm):
    """``paddle.nn.ClipGradByGlobalNorm`` whose norm covers ALL parameter groups of the optimizer.

    Paddle optimizers call ``grad_clip`` once per parameter group, so with the decay / no-decay
    groups a plain ``ClipGradByGlobalNorm(c)`` clips each group to ``c`` on its own (the update
    of two groups can reach ``sqrt(2) * c``). This one clips once per step over every parameter's
    gradient, ``g <- g * c / max(||g||, c)`` with the norm over all groups (Paddle's operations, in
    Paddle's order; parameters with ``need_clip=False`` are neither measured nor scaled), and hands
    each group its share. :meth:`measure` lets a caller read the norm before the step, which then
    clips with that measurement instead of measuring again.

    Args:
        clip_norm (float): the maximum global norm.
        parameters (list): every parameter of the optimizer, in any group.
    """

    def __init__(self, clip_norm: float, parameters: Sequence[Any]):
        super().__init__(clip_norm)
        self._all_parameters = list(parameters)
        self._pending: Dict[int, Any] = {}
        self._measured: Optional[paddle.Tensor] = None  # squared norm of the clipped gradients

    def measure_squared(self) -> Optional[paddle.Tensor]:
        """The squared global norm of the gradients of EVERY parameter now (``need_clip=False`` ones
        too), on the device: no host read, so the trainer reads it with the step's other values. None
        without gradients. The next ``step()`` clips with this measurement: call it after any change to
        the gradients (unscaling) and before the step; a later call replaces it."""
        grads = self._grads()
        total = squared_norm([g for _, g in grads])
        clipped = [g for p, g in grads if _needs_clip(p)]
        self._measured = total if len(clipped) == len(grads) else squared_norm(clipped)
        return total

    def measure(self) -> float:
        """:meth:`measure_squared` as the global norm on the host (one host read)."""
        total = self.measure_squared()
        return 0.0 if total is None else math.sqrt(total.item())

    def _dygraph_clip(self, params_grads):
        # A parameter missing from the pending results means a new step (or an interrupted one).
        if any(id(p) not in self._pending for p, _ in params_grads):
            self._pending = {id(p): g for p, g in self._clip_all()}
        return [(p, self._pending.pop(id(p))) for p, _ in params_grads]

    def _grads(self):
        return [(p, g) for p in self._all_parameters if (g := p.grad) is not None]

    def _clip_all(self):
        grads = self._grads()
        squared, self._measured = self._measured, None
        if any(g.is_selected_rows() for _, g in grads):  # sparse gradients: Paddle's own path merges them
            return super()._dygraph_clip(grads)
        if squared is None:
            squared = squared_norm([g for p, g in grads if _needs_clip(p)])
            if squared is None:
                return grads
        norm = paddle.sqrt(squared)
        limit = paddle.full_like(norm, self.clip_norm)
        scale = paddle.divide(limit, paddle.maximum(norm, limit))
        return [(p, paddle.multiply(g, scale if scale.dtype == g.dtype else scale.astype(g.dtype)) if _needs_clip(p) else g)
                for p, g in grads]


# The `grad_clip` key of the Optimizer section: {name: <class>, <its arguments>}.
_CLIP_ARGS = {"ClipGradByGlobalNorm": {"clip_norm": Field((float,), range=POSITIVE)},
              "ClipGradByNorm": {"clip_norm": Field((float,), range=POSITIVE)},
              "ClipGradByValue": {"max": Field((float,)), "min": Field((float,), None)}}


def validate_grad_clip(raw: Any, path: str) -> Tuple[Optional[Dict[str, Any]], List[ConfigError]]:
    if raw is None:
        return None, []
    name = raw.get("name")
    if not isinstance(name, str) or name not in _CLIP_ARGS:
        return None, [ConfigError(join_key(path, "name"), unknown_name_message("grad_clip", name, _CLIP_ARGS))]
    fields = dict(_CLIP_ARGS[name], name=Field((str,)))
    resolved, errors = validate_section(raw, fields, path)
    if name == "ClipGradByValue" and not errors:
        low = -resolved["max"] if resolved["min"] is None else resolved["min"]
        if low >= resolved["max"]:
            errors.append(ConfigError(join_key(path, "min"), f"{low!r} must be below max {resolved['max']!r} "
                                      "(min defaults to -max)"))
    return resolved, errors


def build_grad_clip(section: Optional[Mapping[str, Any]], parameters: Sequence[Any] = ()):
    """``paddle.nn.ClipGradBy*`` from ``{name: ..., clip_norm|max/min: ...}``, or None.

    ``ClipGradByGlobalNorm`` becomes :class:`ClipGradByGlobalNormAcrossGroups`
    over ``parameters``, so that the norm stays global when decay splits them into groups.
    """
    if not section:
        return None
    args = {k: v for k, v in section.items() if k != "name" and v is not None}
    if section["name"] == "ClipGradByGlobalNorm":
        return ClipGradByGlobalNormAcrossGroups(args["clip_norm"], parameters)
    native = {"ClipGradByNorm": paddle.nn.ClipGradByNorm, "ClipGradByValue": paddle.nn.ClipGradByValue}
    return native[section["name"]](**args)
