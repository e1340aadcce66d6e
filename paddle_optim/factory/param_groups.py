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

``Optimizer.param_groups`` (user groups, :func:`assign_groups`) select parameters by structured name
(:mod:`paddle_optim.config.patterns`, first matching group wins) and compose with the split: each
user group is split by the same rule, its ``weight_decay`` (default: ``Optimizer.weight_decay``) goes
to its decayed members and its no-decay members (1-D unless the group's ``exclude_1d_from_decay`` is
false, ``no_weight_decay`` patterns) keep none. ``lr_mult`` becomes Paddle's group
``learning_rate``, a multiplier of the global rate (scheduler and warmup included). Parameters no
user group matches form the default group, exactly as without user groups.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import paddle.optimizer as po

from ..config.patterns import matches, require_matches
from ..errors import ConfigError
from ..optimizers import Lookahead, RAdam, Ranger

DECAY_STYLES = ("groups", "decay_fn", "lamb", "none")

#: Hyperparameters each class reads from a parameter group on every step (its ``_update_param_group``,
#: or RAdam's per-group kernels), so a user group may set them. A class not listed takes ``lr_mult`` and
#: ``weight_decay`` only. tests/factory/test_param_groups.py checks that each one changes that
#: group's update, under Paddle 2.6 and 3.x. Lookahead: those of its inner optimizer.
GROUP_ARGUMENTS: Mapping[type, Tuple[str, ...]] = {
    po.Momentum: ("momentum",),
    po.Adam: ("beta1", "beta2", "epsilon"),
    po.AdamW: ("beta1", "beta2", "epsilon"),
    po.Adamax: ("beta1", "beta2", "epsilon"),
    po.RMSProp: ("rho", "epsilon", "momentum"),
    po.Adagrad: ("epsilon",),
    po.Adadelta: ("rho", "epsilon"),
    RAdam: ("beta1", "beta2", "epsilon"),
    Ranger: ("beta1", "beta2", "epsilon"),
    Lookahead: (),
}

#: The keys of a ``param_groups`` entry besides the class's own per-group hyperparameters.
USER_GROUP_KEYS = ("params", "lr_mult", "weight_decay", "exclude_1d_from_decay")


def group_arguments(cls: type) -> Tuple[str, ...]:
    """The per-group hyperparameters of ``cls`` (exact class: a subclass may not honour its base's)."""
    return GROUP_ARGUMENTS.get(cls, ())


@dataclass
class Group:
    """One parameter group before it is handed to an optimizer: its ``(name, parameter)`` members and
    its settings (``weight_decay`` None: the optimizer's; ``exclude_1d`` None: the optimizer's)."""

    members: List[Tuple[str, Any]]
    index: Optional[int] = None  # its position in Optimizer.param_groups; None: the default group
    lr_mult: float = 1.0
    weight_decay: Optional[float] = None
    exclude_1d: Optional[bool] = None
    hyper: Dict[str, Any] = field(default_factory=dict)  # the class's own per-group keys


def named_trainable_parameters(model_or_parameters: Any) -> List[Tuple[str, Any]]:
    """``[(structured name, parameter)]`` of a ``paddle.nn.Layer`` or a plain list of parameters."""
    return [(n, p) for n, p in _named(model_or_parameters) if not p.stop_gradient]


def _named(model_or_parameters: Any) -> List[Tuple[str, Any]]:
    if hasattr(model_or_parameters, "named_parameters"):
        return list(model_or_parameters.named_parameters())
    return [(p.name, p) for p in model_or_parameters]


def assign_groups(model_or_parameters: Any, user_groups: Sequence[Mapping[str, Any]],
                  path: str = "Optimizer.param_groups") -> List[Group]:
    """The resolved ``param_groups`` entries as :class:`Group` s, then the default group (the rest).

    Each trainable parameter goes to the FIRST entry whose ``params`` patterns match its structured
    name; frozen parameters (``stop_gradient``) go nowhere. A pattern that matches no parameter of the
    model (frozen ones count: the name exists), and an entry whose every match an earlier entry
    already took, are ConfigErrors at ``path[i].params``. Empty groups are left out.
    """
    named = _named(model_or_parameters)
    names = [n for n, _ in named]
    patterns = [[g["params"]] if isinstance(g["params"], str) else list(g["params"]) for g in user_groups]
    for i, group_patterns in enumerate(patterns):
        require_matches(group_patterns, names, f"{path}[{i}].params")
    groups = [Group([], i, g.get("lr_mult", 1.0), g.get("weight_decay"), g.get("exclude_1d_from_decay"),
                    {k: v for k, v in g.items() if k not in USER_GROUP_KEYS and v is not None})
              for i, g in enumerate(user_groups)]
    default, claimed = Group([]), [0] * len(groups)
    for name, param in named:
        owner = next((i for i, pats in enumerate(patterns) if matches(name, pats)), None)
        if owner is not None:
            claimed[owner] += 1
        if not param.stop_gradient:
            (default if owner is None else groups[owner]).members.append((name, param))
    for i, count in enumerate(claimed):
        if count == 0:
            earlier = next(j for j in range(i) if any(matches(n, patterns[i]) for n in names if matches(n, patterns[j])))
            raise ConfigError(f"{path}[{i}].params", f"{user_groups[i]['params']!r} only matches parameters that "
                              f"{path}[{earlier}] already takes (the first matching group wins); "
                              "allowed: put the more specific group first")
    return [g for g in groups + [default] if g.members]


def group_report(model_or_parameters: Any, section: Mapping[str, Any]) -> List[str]:
    """The log line of a resolved ``Optimizer`` section's ``param_groups`` (none without them):
    each entry's settings and trainable members, then the default group's members."""
    if not section.get("param_groups"):
        return []
    members = {g.index: [n for n, _ in g.members] for g in assign_groups(model_or_parameters, section["param_groups"])}
    parts = []
    for i, entry in enumerate(section["param_groups"]):
        keys = [k for k in USER_GROUP_KEYS[1:] if k in entry] + sorted(set(entry) - set(USER_GROUP_KEYS))
        settings = ", ".join(f"{k} {entry[k]}" for k in keys if entry[k] is not None)
        parts.append(f"[{i}] {settings or 'defaults'}: {', '.join(members.get(i, [])) or 'all frozen'}")
    parts.append(f"default group: {', '.join(members.get(None, [])) or 'empty'}")
    return ["Optimizer.param_groups: " + "; ".join(parts)]



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
        skip = (exclude_1d and len(param.shape) <= 1) or matches(name, no_weight_decay)
        (no_decay if skip else decay).append(param)
    return decay, no_decay


def decay_arguments(style: str, named_parameters: Sequence[Tuple[str, Any]], weight_decay: float,
                    no_weight_decay: Sequence[str] = (), exclude_1d: bool = True,
                    user_groups: Sequence[Group] = ()) -> Dict[str, Any]:
    """Constructor arguments (``parameters`` and the decay ones) for an optimizer of ``style``.

    Without ``user_groups`` (:func:`assign_groups`) ``named_parameters`` are one default group;
    with them, ``named_parameters`` are ignored and every group is handed over with its own
    ``learning_rate`` multiplier, hyperparameters and decay.
    """
    grouped = bool(user_groups)
    if not grouped:
        if not weight_decay:
            # Explicit zeros: AdamW and Lamb would otherwise apply their own default decay of 0.01.
            zero = {"decay_fn": {"weight_decay": 0.0}, "lamb": {"lamb_weight_decay": 0.0}}.get(style, {})
            return dict(zero, parameters=[p for _, p in named_parameters])
        user_groups = [Group(list(named_parameters))]
    decay_ids, parameters = set(), []
    for group in user_groups:
        wd = weight_decay if group.weight_decay is None else group.weight_decay
        decay, no_decay = split_decay(group.members, no_weight_decay,
                                      exclude_1d if group.exclude_1d is None else group.exclude_1d)
        if wd:
            decay_ids.update(id(p) for p in decay)
        own = dict(group.hyper, **({"learning_rate": group.lr_mult} if group.lr_mult != 1.0 else {}))
        if style == "groups":  # decayed and undecayed members become two Paddle groups
            parts = [(decay, float(wd)), (no_decay, 0.0)] if wd else [([p for _, p in group.members], None)]
            parameters += [dict(own, params=ps, **({} if d is None else {"weight_decay": d})) for ps, d in parts if ps]
        elif style == "decay_fn":  # AdamW reads a group's weight_decay as its decoupled coefficient
            parameters.append(dict(own, params=[p for _, p in group.members], weight_decay=float(wd)))
        elif style == "lamb":
            parameters.append(dict(own, params=[p for _, p in group.members], lamb_weight_decay=float(wd)))
        elif wd:
            raise ValueError(f"optimizer decay style {style!r} takes no weight decay")
        else:
            parameters.append(dict(own, params=[p for _, p in group.members]))
    if not grouped and style != "groups":  # one group: the plain list, decay by the callbacks
        parameters = [p for _, p in named_parameters]
    # Paddle identifies parameters to these callbacks by generated name (decay_fn) or by the tensor.
    if style == "decay_fn":
        decay_names = {p.name for group in user_groups for _, p in group.members if id(p) in decay_ids}
        return {"parameters": parameters, "weight_decay": float(weight_decay),
                "apply_decay_param_fun": lambda name: name in decay_names}
    if style == "lamb":
        return {"parameters": parameters, "lamb_weight_decay": float(weight_decay),
                "exclude_from_weight_decay_fn": lambda p: id(p) not in decay_ids}
    return {"parameters": parameters}
