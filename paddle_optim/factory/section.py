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

Lookahead wraps an inner optimizer described by a nested mapping without its own learning rate::

    Optimizer: {name: Lookahead, learning_rate: 0.1, alpha: 0.5, k: 5, inner: {name: Momentum, momentum: 0.9}}
"""
from typing import Any, Dict, List, Mapping, Tuple

from ..config.ranges import NON_NEGATIVE, POSITIVE
from ..config.schema import Field, join_key, validate_section
from ..errors import ConfigError
from .clipping import validate_grad_clip
from .registry import get_spec

COMMON_FIELDS = {
    "name": Field((str,), help="optimizer name"),
    "learning_rate": Field((float,), range=POSITIVE, help="base learning rate (the peak of the schedule)"),
    "weight_decay": Field((float,), 0.0, NON_NEGATIVE),
    "no_weight_decay": Field((list,), []),
    "exclude_1d_from_decay": Field((bool,), True),
    "grad_clip": Field((dict,), None),
}


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
    fields = dict(COMMON_FIELDS, **own)
    if spec.wraps_inner:
        fields["inner"] = Field((dict,), help="the inner optimizer, e.g. {name: Momentum, momentum: 0.9}")
    resolved, errors = validate_section(dict(preset, **raw), fields, path)
    resolved["name"] = spec.name
    if spec.decay_style == "none" and resolved.get("weight_decay"):
        errors.append(ConfigError(join_key(path, "weight_decay"), f"{spec.name} has no weight decay; use 0"))
    clip, clip_errors = validate_grad_clip(resolved.get("grad_clip"), join_key(path, "grad_clip"))
    resolved["grad_clip"] = clip
    errors += clip_errors
    for i, pattern in enumerate(resolved.get("no_weight_decay") or []):
        if not isinstance(pattern, str):
            errors.append(ConfigError(f"{join_key(path, 'no_weight_decay')}[{i}]", f"expected a name pattern string, got {pattern!r}"))
    if spec.wraps_inner and isinstance(resolved.get("inner"), Mapping):
        inner, inner_errors = _validate_inner(resolved["inner"], join_key(path, "inner"))
        resolved["inner"] = inner
        errors += inner_errors
    return resolved, errors


def _validate_inner(raw: Mapping[str, Any], path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    for key in ("learning_rate", "weight_decay", "no_weight_decay", "grad_clip"):
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
