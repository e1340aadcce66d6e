"""Which parameters get weight decay, and how each optimizer is told.

Decay on biases and normalisation scales (every 1-D parameter) hurts more than it helps, so by
default they are excluded, as timm's ``param_groups_weight_decay`` does; ``no_weight_decay`` adds
``fnmatch`` patterns matched against the *structured* parameter names of the model
(``"fc.bias"``, ``"*.norm*"``), never Paddle's generated names (``linear_0.w_0``).

Paddle optimizers take decay in three different ways, so the split is handed over in the way each
one understands (:data:`DECAY_STYLES`):

``groups``
    two parameter groups, ``{"params": decay, "weight_decay": wd}`` and
    ``{"params": no_decay, "weight_decay": 0.0}`` (coupled L2 for SGD/Momentum/Adam/...; our RAdam,
    Ranger honour per-group values);
``decay_fn``
    ``weight_decay=wd`` plus ``apply_decay_param_fun(name)`` (AdamW's decoupled decay; a group
    ``weight_decay`` there would silently become an extra *coupled* L2 term);
``lamb``
    ``lamb_weight_decay=wd`` plus ``exclude_from_weight_decay_fn(param)``;
``none``
    the optimizer has no weight decay at all (a non-zero value is a config error).
"""
import fnmatch
from typing import Any, Dict, List, Sequence, Tuple

DECAY_STYLES = ("groups", "decay_fn", "lamb", "none")


def named_trainable_parameters(model_or_parameters: Any) -> List[Tuple[str, Any]]:
    """``[(structured name, parameter)]`` of a ``paddle.nn.Layer`` or a plain list of parameters."""
    if hasattr(model_or_parameters, "named_parameters"):
        named = model_or_parameters.named_parameters()
    else:
        named = [(p.name, p) for p in model_or_parameters]
    return [(n, p) for n, p in named if not p.stop_gradient]


def split_decay(named_parameters: Sequence[Tuple[str, Any]], no_weight_decay: Sequence[str] = (),
                exclude_1d: bool = True) -> Tuple[List[Any], List[Any]]:
    """Split into ``(decay, no_decay)`` lists, keeping the model's parameter order in each.

    Args:
        named_parameters: ``(name, parameter)`` pairs, e.g. ``layer.named_parameters()``.
        no_weight_decay (list of str, default ``[]``): ``fnmatch`` patterns of names without decay.
        exclude_1d (bool, default True): no decay for parameters with one dimension or fewer
            (biases, BatchNorm/LayerNorm scales and shifts).
    """
    decay, no_decay = [], []
    for name, param in named_parameters:
        skip = (exclude_1d and len(param.shape) <= 1) or any(fnmatch.fnmatchcase(name, pat) for pat in no_weight_decay)
        (no_decay if skip else decay).append(param)
    return decay, no_decay


def decay_arguments(style: str, named_parameters: Sequence[Tuple[str, Any]], weight_decay: float,
                    no_weight_decay: Sequence[str] = (), exclude_1d: bool = True) -> Dict[str, Any]:
    """Constructor arguments (``parameters`` and the decay ones) for an optimizer of ``style``."""
    params = [p for _, p in named_parameters]
    if not weight_decay:
        # Explicit zeros: AdamW and Lamb would otherwise apply their own default decay of 0.01.
        zero = {"decay_fn": {"weight_decay": 0.0}, "lamb": {"lamb_weight_decay": 0.0}}.get(style, {})
        return dict(zero, parameters=params)
    decay, no_decay = split_decay(named_parameters, no_weight_decay, exclude_1d)
    decay_ids = {id(p) for p in decay}
    if style == "groups":
        groups = [{"params": decay, "weight_decay": float(weight_decay)}]
        if no_decay:
            groups.append({"params": no_decay, "weight_decay": 0.0})
        return {"parameters": groups}
    # Paddle identifies parameters to these callbacks by generated name (decay_fn) or by the tensor.
    decay_names = {p.name for p in decay}
    if style == "decay_fn":
        return {"parameters": params, "weight_decay": float(weight_decay),
                "apply_decay_param_fun": lambda name: name in decay_names}
    if style == "lamb":
        return {"parameters": params, "lamb_weight_decay": float(weight_decay),
                "exclude_from_weight_decay_fn": lambda p: id(p) not in decay_ids}
    raise ValueError(f"optimizer decay style {style!r} takes no weight decay")
