"""Gradient centralisation on Paddle's parameter layouts: which axes, and the batched BLAS form.

Yong et al., "Gradient Centralization: A New Optimization Technique for Deep Neural Networks",
ECCV 2020 (https://arxiv.org/abs/2004.01461), centre the gradient of each OUTPUT unit's weight
vector to zero mean: ``g_j <- g_j - mean(g_j)`` for the weights feeding output neuron / channel j.
The reference code writes this as ``g - g.mean(dim=1..)`` because PyTorch stores Linear weights as
``[out, in]``; Paddle does not, so the axes follow the layer, not the formula:

=============================  ======================  ========================================
parameter                      Paddle layout           one output unit: averaged over
=============================  ======================  ========================================
``Linear.weight``              ``[in, out]``           axis 0 (a column)
``Conv1D/2D/3D.weight``        ``[out, in/g, k...]``   axes 1.. (a row)
``Conv*Transpose.weight``      ``[in, out/g, k...]``   output channel (b, j): rows
                                                       b*in/g..(b+1)*in/g of column j, all k
RNN ``weight_ih``/``_hh``      ``[gates*hid, in]``     axis 1 (a row)
``Embedding.weight``           ``[vocab, dim]``        not centred
bare parameter, rank 2         (assumed Linear)        axis 0
bare parameter, rank >= 3      (assumed convolution)   axes 1..
rank < 2 (biases, norms)       -                       not centred
=============================  ======================  ========================================

An optimizer only sees parameters, so :func:`gc_axes` derives the table from the layers of a model
(``RAdam(..., gc_axes=gc_axes(model))``); without it the rank rule applies. Embeddings are left
alone: a table row is looked up, not an output unit's fan-in; centring over the vocabulary (the
output-unit view of a one-hot Linear) would turn a row-sparse gradient into a dense one and move
every unseen row on every step, and centring each row is not the paper's operation.
"""
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import paddle
from paddle import nn

from paddle_optim import compat
from paddle_optim.optimizers.functional import MERGE_BELOW, cached_full

__all__ = ["CentringPlan", "GCAxes", "centralize_gradients", "centring_plan", "default_gc_axes",
           "gc_axes", "resolve_gc_axes", "rule_for"]


@dataclass(frozen=True)
class GCAxes:
    """One output unit of a parameter: subtract the gradient's mean over ``axes``.

    ``groups > 1`` splits axis 0 into that many equal blocks, each centred on its own: a grouped
    transposed convolution ``[in, out/groups, k...]`` is ``GCAxes((0, 2, 3), groups)``.
    """

    axes: Tuple[int, ...]
    groups: int = 1


_TRANSPOSED = (nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose)
_CONVOLUTIONS = (nn.Conv1D, nn.Conv2D, nn.Conv3D)


def default_gc_axes(shape: Sequence[int]) -> Optional[GCAxes]:
    """The rule for a parameter whose layer is unknown: rank 2 as Linear, rank >= 3 as a conv."""
    if len(shape) < 2:
        return None
    return GCAxes((0,)) if len(shape) == 2 else GCAxes(tuple(range(1, len(shape))))


def _layer_rule(layer, attribute: str, param) -> Optional[GCAxes]:
    rank = len(param.shape)
    if isinstance(layer, nn.Embedding):
        return None
    if isinstance(layer, _TRANSPOSED) and attribute == "weight":
        return GCAxes((0,) + tuple(range(2, rank)), int(layer._groups))
    if isinstance(layer, _CONVOLUTIONS) and attribute == "weight":
        return GCAxes(tuple(range(1, rank)))
    if isinstance(layer, (nn.RNNCellBase, nn.layer.rnn.RNNBase)):
        # Paddle's recurrent weights are [gates * hidden, input]: one row per output unit.
        return GCAxes((1,)) if rank == 2 else None
    return default_gc_axes(param.shape)  # Linear ([in, out]) and every other layer


def gc_axes(model: nn.Layer) -> Dict[str, Optional[GCAxes]]:
    """Parameter name -> how gradient centralisation treats it, derived from the owning layers.

    Covers every parameter of rank >= 2 of ``model`` (see the module's table); ``None`` means
    "not centred". Pass it to ``RAdam`` / ``Ranger`` as ``gc_axes=``; a parameter-group
    ``gc_axes`` key overrides it for that group.
    """
    if not isinstance(model, nn.Layer):
        raise TypeError(f"gc_axes(model) needs a paddle.nn.Layer, got {type(model).__name__}")
    rules = {}
    for _, layer in model.named_sublayers(include_self=True):
        for attribute, param in layer.named_parameters(include_sublayers=False):
            if len(param.shape) >= 2:
                rules[param.name] = _layer_rule(layer, attribute, param)
    return rules


def resolve_gc_axes(value, shape: Sequence[int], what: str) -> Optional[GCAxes]:
    """Check a user's rule (None, a sequence of axes or a :class:`GCAxes`) against ``shape``."""
    if value is None:
        return None
    rule = value if isinstance(value, GCAxes) else None
    if rule is None and isinstance(value, (tuple, list)):
        rule = GCAxes(tuple(value))
    rank = len(shape)
    valid = (
        rule is not None and len(rule.axes) > 0
        and all(isinstance(a, int) and not isinstance(a, bool) and 0 <= a < rank for a in rule.axes)
        and len(set(rule.axes)) == len(rule.axes)
        and isinstance(rule.groups, int) and rule.groups >= 1 and rank > 0
        and shape[0] % rule.groups == 0
    )
    if not valid:
        raise ValueError(
            f"gc_axes of {what} (shape {list(shape)}) = {value!r}; allowed: None, a tuple of "
            f"distinct axes in [0, {rank}) or GCAxes(axes, groups) with groups dividing "
            f"{shape[0] if rank else 1}"
        )
    return GCAxes(tuple(sorted(rule.axes)), rule.groups)


def _plan(shape: Tuple[int, ...], rule: GCAxes) -> tuple:
    """How to centre a gradient of ``shape``: as the rows or columns of a matrix, or in general.

    ``("rows", m, n)``: trailing axes averaged, an [m, n] view centred row by row;
    ``("columns", m, n)``: leading axes averaged, a [m, n] view centred column by column;
    ``("general", view, axes)``: a mean over ``axes`` of the ``view`` reshape.
    """
    axes, rank = rule.axes, len(shape)
    if rule.groups == 1 and axes == tuple(range(axes[0], rank)) and axes[0] >= 1:
        return "rows", math.prod(shape[:axes[0]]), math.prod(shape[axes[0]:])
    if rule.groups == 1 and axes == tuple(range(len(axes))) and len(axes) < rank:
        return "columns", math.prod(shape[:len(axes)]), math.prod(shape[len(axes):])
    view = (rule.groups, shape[0] // rule.groups) + tuple(shape[1:])
    return "general", view, tuple(a + 1 for a in axes)


def _centre_rows(matrix):
    """``G -= (G w) 1^T`` with ``w = 1/n``: two BLAS calls, in place (several times faster on
    CPU than Paddle's mean over axes and a broadcast subtraction)."""
    cols = matrix.shape[1]
    matrix.addmm_(paddle.matmul(matrix, cached_full([cols, 1], 1.0 / cols, matrix.dtype)),
                  cached_full([1, cols], 1.0, matrix.dtype), beta=1.0, alpha=-1.0)
    return matrix


def _centre_columns(matrix):
    """``G -= 1 (w^T G)`` with ``w = 1/m``: the column form of :func:`_centre_rows`."""
    rows = matrix.shape[0]
    matrix.addmm_(cached_full([rows, 1], 1.0, matrix.dtype),
                  paddle.matmul(cached_full([1, rows], 1.0 / rows, matrix.dtype), matrix),
                  beta=1.0, alpha=-1.0)
    return matrix


_CENTRE = {"rows": _centre_rows, "columns": _centre_columns}


@dataclass(frozen=True)
class CentringPlan:
    """How one parameter's gradient is centred, worked out once (shape, dtype and rule are fixed).

    ``batch``: the key shared by the small gradients centred together (None: centred alone).
    """

    rule: GCAxes
    shape: Tuple[int, ...]
    layout: tuple  # see _plan
    low_precision: bool  # float16/bfloat16: centred in a float32 copy
    batch: Optional[tuple]


def centring_plan(shape: Sequence[int], dtype, rule: Optional[GCAxes]) -> Optional[CentringPlan]:
    """The :class:`CentringPlan` of a gradient of ``shape`` and ``dtype`` (None: not centred)."""
    if rule is None:
        return None
    shape = tuple(shape)
    layout = _plan(shape, rule)
    small = layout[0] != "general" and layout[1] * layout[2] < MERGE_BELOW
    low_precision = compat.is_low_precision(dtype)
    compute_dtype = "float32" if low_precision else str(dtype)
    return CentringPlan(rule, shape, layout, low_precision,
                        (shape, rule, compute_dtype) if small else None)


def _centre_one(grad, plan: CentringPlan):
    kind, *layout = plan.layout
    shape = list(plan.shape)
    if kind == "general":
        view, axes = layout
        grad = grad.reshape(list(view))
        return (grad - grad.mean(axis=list(axes), keepdim=True)).reshape(shape)
    matrix = grad.reshape(layout) if len(shape) != 2 else grad
    matrix = _CENTRE[kind](matrix)
    return matrix if len(shape) == 2 else matrix.reshape(shape)


def _centre_stack(grads, plan: CentringPlan):
    """Centre gradients of one shape together: stack them, centre the stacked view, unbind."""
    kind, rows, cols = plan.layout
    count = len(grads)
    stacked = paddle.stack(grads)
    if kind == "rows":  # every row of every tensor is one unit: one [count * rows, cols] matrix
        _centre_rows(stacked.reshape([count * rows, cols]))
    else:  # column means of each [rows, cols] block by one batched product, then subtracted
        blocks = stacked.reshape([count, rows, cols])
        blocks.subtract_(paddle.matmul(cached_full([1, rows], 1.0 / rows, blocks.dtype), blocks))
    return paddle.unbind(stacked.reshape([count] + list(plan.shape)))


def centralize_gradients(grads: Sequence, plans: Sequence[Optional[CentringPlan]]) -> List:
    """Centre ``grads[i]`` as ``plans[i]`` says (None: unchanged); returns the list of results.

    Large gradients are centred in place (float16/bfloat16 in a float32 copy: CPU has no float16
    matmul, and the fp32 master weights can use the precision). Small ones (fewer than
    ``MERGE_BELOW`` values) of one shape, rule and dtype are centred together (one stack, the two
    BLAS calls, one unbind) instead of two calls each: with many small tensors the per-call
    overhead, not the arithmetic, dominates (``paddle.split`` into many pieces would cost more
    than the centring; ``unbind`` does not). The plans are made once (:func:`centring_plan`), so
    a step reads no tensor attributes.
    """
    out = list(grads)
    batches = defaultdict(list)  # CentringPlan.batch -> positions
    for i, (grad, plan) in enumerate(zip(grads, plans)):
        if plan is None:
            continue
        if plan.low_precision:
            grad = out[i] = grad.astype(paddle.float32)
        if plan.batch is None:
            out[i] = _centre_one(grad, plan)
        else:
            batches[plan.batch].append(i)
    for members in batches.values():
        plan = plans[members[0]]
        if len(members) == 1:
            out[members[0]] = _centre_one(out[members[0]], plan)
            continue
        for i, centred in zip(members, _centre_stack([out[i] for i in members], plan)):
            out[i] = centred
    return out


def rule_for(param, group: Mapping, mapping: Mapping, use_gc: bool,
             conv_only: bool) -> Optional[GCAxes]:
    """The centring of one parameter: the group's ``gc_axes`` key, else the constructor's
    mapping, else :func:`default_gc_axes`; None when ``use_gc`` is off.

    ``gc_conv_only`` keeps its meaning from the reference code: only gradients of rank > 3.
    """
    shape = tuple(param.shape)
    if not use_gc or (conv_only and len(shape) <= 3):
        return None
    if "gc_axes" in group:
        return resolve_gc_axes(group["gc_axes"], shape, f"parameter {param.name} (group gc_axes)")
    if param.name in mapping:
        return resolve_gc_axes(mapping[param.name], shape, f"parameter {param.name}")
    return default_gc_axes(shape)
