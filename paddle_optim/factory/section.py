"""The ``Optimizer`` config section: keys shared by every optimizer plus the class's own arguments.

::

    Optimizer:
      name: Momentum            # any name of list_optimizers(), an alias (ALIASES) or 'package.module:Class'
      learning_rate: 0.1        # the ONE base learning rate (the LRScheduler section scales it)
      weight_decay: 0.0001      # 0 = none; 1-D params and `no_weight_decay` patterns get none
      no_weight_decay: []       # fnmatch patterns of structured names, e.g. ["*.bias", "fc.*"]
      exclude_1d_from_decay: true
      grad_clip: {name: ClipGradByGlobalNorm, clip_norm: 10}   # or null
      momentum: 0.9             # ... plus the class's own arguments (beta1, epsilon, use_nesterov, ...)
      param_groups:             # by structured parameter name; the first matching entry wins
        - {params: "backbone.*", lr_mult: 0.1}
        - {params: ["head.*"], lr_mult: 10, weight_decay: 0.0, momentum: 0.95}
      evaluate_on: fast         # Lookahead / Ranger only: evaluate (and export best_model) on fast or slow weights

Lookahead wraps an inner optimizer described by a nested mapping without its own learning rate::

    Optimizer: {name: Lookahead, learning_rate: 0.1, alpha: 0.5, k: 5, inner: {name: Momentum, momentum: 0.9}}
"""
from typing import Any, Dict, List, Mapping, Tuple

from ..config.patterns import check_patterns
from ..config.ranges import NON_NEGATIVE, POSITIVE
from ..config.schema import Field, join_key, validate_section
from ..errors import ConfigError
from .clipping import validate_grad_clip
from .param_groups import group_arguments
from .registry import OptimizerSpec, get_spec

COMMON_FIELDS = {
    "name": Field((str,), help="optimizer name"),
    "learning_rate": Field((float,), range=POSITIVE, help="base learning rate (the peak of the schedule)"),
    "weight_decay": Field((float,), 0.0, NON_NEGATIVE),
    "no_weight_decay": Field((list,), [], check=check_patterns),
    "exclude_1d_from_decay": Field((bool,), True),
    "grad_clip": Field((dict,), None),
    "param_groups": Field((list,), [], help="[{params: pattern(s), lr_mult, weight_decay, ...}]"),
}


def _check_params(value: Any, key: str) -> None:
    if not value:
        raise ConfigError(key, "expected a name pattern or a non-empty list of them (e.g. 'backbone.*')")
    if isinstance(value, list):
        check_patterns(value, key)


#: The keys of a ``param_groups`` entry that every optimizer takes (param_groups.USER_GROUP_KEYS).
GROUP_FIELDS = {
    "params": Field((str, list), check=_check_params, help="fnmatch pattern(s) of structured parameter names"),
    "lr_mult": Field((float,), 1.0, POSITIVE, help="multiplier of the (scheduled) learning rate"),
    "weight_decay": Field((float,), None, NON_NEGATIVE, help="decay of its decayed members (default: Optimizer's)"),
    "exclude_1d_from_decay": Field((bool,), None, help="default: Optimizer's"),
}

#: ``Optimizer.evaluate_on``: which weights evaluation (and what depends on its metric) sees.
FAST, SLOW = "fast", "slow"
EVALUATE_ON = Field((str,), FAST, choices=(FAST, SLOW),
                    help="fast: the weights being trained; slow: Lookahead's slow weights (Lookahead, Ranger)")


def validate_optimizer_section(raw: Any, path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    """Resolve ``Optimizer``: canonical name, defaults filled in, every key checked.

    Nothing is built here: a range only the class itself enforces is reported when the optimizer is
    built (:func:`~paddle_optim.factory.builder.build_optimizer`, or ``check``'s trial build).
    """
    if not isinstance(raw, Mapping) or "name" not in raw:
        return {}, [ConfigError(join_key(path, "name"), "is required (e.g. Momentum, AdamW, RAdam, Ranger); "
                                "see `paddle_optim.factory.list_optimizers()`")]
    try:
        spec, preset = get_spec(raw["name"], join_key(path, "name"))
    except ConfigError as err:
        return {}, [err]
    own = spec.fields()
    fields = dict(COMMON_FIELDS, evaluate_on=EVALUATE_ON, **own)
    if spec.wraps_inner:
        fields["inner"] = Field((dict,), help="the inner optimizer, e.g. {name: Momentum, momentum: 0.9}")
    resolved, errors = validate_section(dict(preset, **raw), fields, path)
    resolved["name"] = spec.name
    if spec.decay_style == "none" and resolved.get("weight_decay"):
        errors.append(ConfigError(join_key(path, "weight_decay"), f"{spec.name} has no weight decay; use 0"))
    if resolved.get("evaluate_on") == SLOW and not spec.contains_lookahead:
        errors.append(ConfigError(join_key(path, "evaluate_on"), f"{spec.name} has no slow weights; allowed: fast "
                                  "(slow needs Lookahead, Ranger or another optimizer built on Lookahead)"))
    clip, clip_errors = validate_grad_clip(resolved.get("grad_clip"), join_key(path, "grad_clip"))
    resolved["grad_clip"] = clip
    errors += clip_errors
    group_spec = spec
    if spec.wraps_inner and isinstance(resolved.get("inner"), Mapping):
        inner, inner_errors = _validate_inner(resolved["inner"], join_key(path, "inner"))
        resolved["inner"] = inner
        errors += inner_errors
        group_spec = get_spec(inner["name"])[0] if not inner_errors else None
    if resolved.get("param_groups") and group_spec is not None:
        resolved["param_groups"], group_errors = _validate_groups(resolved["param_groups"], group_spec,
                                                                  join_key(path, "param_groups"))
        errors += group_errors
    return resolved, errors


def _validate_groups(raw: List[Any], spec: OptimizerSpec, path: str) -> Tuple[List[Dict[str, Any]], List[ConfigError]]:
    """Each ``param_groups`` entry: the shared keys plus the per-group hyperparameters the class reads
    (:data:`~paddle_optim.factory.param_groups.GROUP_ARGUMENTS`), typed and ranged like its own."""
    own = spec.fields()
    fields = dict(GROUP_FIELDS, **{k: Field(own[k].types, None, own[k].range) for k in group_arguments(spec.cls) if k in own})
    resolved, errors = [], []
    for i, entry in enumerate(raw):
        key = f"{path}[{i}]"
        if not isinstance(entry, Mapping):
            errors.append(ConfigError(key, f"expected a mapping {{params: pattern(s), lr_mult: ...}}, got {entry!r}"))
            continue
        group, group_errors = validate_section(entry, fields, key)
        if spec.decay_style == "none" and group.get("weight_decay"):
            group_errors.append(ConfigError(join_key(key, "weight_decay"), f"{spec.name} has no weight decay; use 0"))
        resolved.append(group)
        errors += group_errors
    return resolved, errors


def _validate_inner(raw: Mapping[str, Any], path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    for key in ("learning_rate", "weight_decay", "no_weight_decay", "grad_clip", "param_groups"):
        if key in raw:
            return {}, [ConfigError(join_key(path, key), f"set it once on the outer Optimizer.{key}; "
                                    "the inner optimizer inherits it")]
    try:
        spec, preset = get_spec(raw.get("name"), join_key(path, "name"))
    except ConfigError as err:
        return {}, [err]
    if spec.contains_lookahead:
        return {}, [ConfigError(join_key(path, "name"), f"{spec.name} already contains Lookahead; "
                                "choose a plain optimizer (Momentum, Adam, RAdam, ...)")]
    resolved, errors = validate_section(dict(preset, **raw), dict(spec.fields(), name=Field((str,))), path)
    resolved["name"] = spec.name
    return resolved, errors
