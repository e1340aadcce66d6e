"""Optimizer names -> frozen specs, the ``Optimizer`` config section, and ``build_optimizer``.

Every optimizer the trainer can build is an :class:`OptimizerSpec`: the class, a one-line
description, the config keys it accepts (read from the class signature, never hand-copied), their
defaults, and how it takes weight decay (see :mod:`paddle_optim.param_groups`). Keys the trainer
manages for every optimizer are the same everywhere::

    Optimizer:
      name: Momentum            # any name of list_optimizers(); aliases: see ALIASES
      learning_rate: 0.1        # the ONE base learning rate (the LRScheduler section scales it)
      weight_decay: 0.0001      # 0 = none; 1-D params and `no_weight_decay` patterns get none
      no_weight_decay: []       # fnmatch patterns of structured names, e.g. ["*.bias", "fc.*"]
      exclude_1d_from_decay: true
      grad_clip: {name: ClipGradByGlobalNorm, clip_norm: 10}   # or null
      momentum: 0.9             # ... plus the class's own arguments (beta1, epsilon, use_nesterov, ...)

Lookahead wraps an inner optimizer described by a nested mapping without its own learning rate::

    Optimizer: {name: Lookahead, learning_rate: 0.1, alpha: 0.5, k: 5, inner: {name: Momentum, momentum: 0.9}}
"""
import inspect
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .config.ranges import ARGUMENT_RANGES, NON_NEGATIVE, POSITIVE
from .config.schema import Field, Range, join_key, unknown_name_message, validate_section
from .errors import ConfigError
from .param_groups import DECAY_STYLES, decay_arguments, named_trainable_parameters

# Arguments the trainer fills in itself (from the shared keys above), never taken from the config.
# Arguments that only take a Python callable (no YAML spelling) are left out too.
MANAGED_ARGUMENTS = frozenset({"learning_rate", "parameters", "weight_decay", "grad_clip", "name",
                               "apply_decay_param_fun", "lamb_weight_decay", "exclude_from_weight_decay_fn",
                               "inner_optimizer", "lr_ratio"})

COMMON_FIELDS = {
    "name": Field((str,), help="optimizer name"),
    "learning_rate": Field((float,), range=NON_NEGATIVE, help="base learning rate"),
    "weight_decay": Field((float,), 0.0, NON_NEGATIVE),
    "no_weight_decay": Field((list,), []),
    "exclude_1d_from_decay": Field((bool,), True),
    "grad_clip": Field((dict,), None),
}


@dataclass(frozen=True)
class OptimizerSpec:
    """What the registry knows about one optimizer class."""

    name: str
    cls: type
    description: str
    decay_style: str
    arguments: Tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    wraps_inner: bool = False  # Lookahead: built around an `inner` optimizer section

    @classmethod
    def from_class(cls, name: str, klass: type, description: str, decay_style: str,
                   wraps_inner: bool = False) -> "OptimizerSpec":
        if decay_style not in DECAY_STYLES:
            raise ValueError(f"decay_style must be one of {DECAY_STYLES}")
        params = [p for p in inspect.signature(klass).parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in MANAGED_ARGUMENTS]
        defaults = {p.name: p.default for p in params if p.default is not p.empty}
        return cls(name, klass, description, decay_style, tuple(p.name for p in params),
                   MappingProxyType(defaults), wraps_inner)

    def fields(self) -> Dict[str, Field]:
        """Schema of this optimizer's own arguments: type from the default, the usual ranges of the
        common ones (:data:`ARGUMENT_RANGES`), and finally whatever the class checks itself."""
        return {arg: _field_from_default(self.defaults.get(arg, None), ARGUMENT_RANGES.get(arg))
                for arg in self.arguments}


def _field_from_default(default: Any, allowed: Optional[Range] = None) -> Field:
    if isinstance(default, bool):
        return Field((bool,), default)
    if isinstance(default, int):
        return Field((int,), default, allowed)
    if isinstance(default, float):
        return Field((float,), default, allowed)
    if isinstance(default, str):
        return Field((str,), default)
    # None or a tuple default (e.g. Rprop's etas): any YAML value, the class checks it.
    return Field((object,), None if default is inspect.Parameter.empty else default)


def _native_specs() -> List[OptimizerSpec]:
    import paddle.optimizer as po

    table = [
        (po.SGD, "plain stochastic gradient descent", "groups"),
        (po.Momentum, "SGD with (Nesterov) momentum: v = mu*v + g; p -= lr*v", "groups"),
        (po.Adam, "Adam (Kingma & Ba 2015), coupled L2 decay", "groups"),
        (po.AdamW, "Adam with decoupled weight decay (Loshchilov & Hutter 2019)", "decay_fn"),
        (po.Adamax, "Adam with the infinity norm", "groups"),
        (po.Adagrad, "per-coordinate learning rates from accumulated squared gradients", "groups"),
        (po.Adadelta, "Adagrad with a decaying window, no base-rate sensitivity", "groups"),
        (po.RMSProp, "RMSProp (Hinton), optional momentum / centred", "groups"),
        (po.Lamb, "layer-wise adaptive moments for large batches (You et al. 2020)", "lamb"),
    ]
    # Present only in Paddle 3.x; the 2.6 line simply lists fewer names.
    optional = [("NAdam", "Adam with Nesterov momentum (Dozat 2016)", "groups"),
                ("ASGD", "averaged SGD", "groups"),
                ("Rprop", "resilient backpropagation (full-batch)", "none")]
    native_3x = vars(po)
    for name, description, style in optional:
        if name in native_3x:
            table.append((native_3x[name], description, style))
    return [OptimizerSpec.from_class(k.__name__, k, d, s) for k, d, s in table]


def _our_specs() -> List[OptimizerSpec]:
    from .optimizers import Lookahead, RAdam, Ranger

    return [
        OptimizerSpec.from_class("RAdam", RAdam, "rectified Adam (Liu et al. ICLR 2020): no warmup needed", "groups"),
        OptimizerSpec.from_class("Lookahead", Lookahead, "k fast steps of `inner`, then slow += alpha*(fast-slow) "
                                 "(Zhang et al. NeurIPS 2019)", "groups", wraps_inner=True),
        OptimizerSpec.from_class("Ranger", Ranger, "RAdam + Lookahead + gradient centralisation", "groups"),
    ]


_REGISTRY: Optional[Dict[str, OptimizerSpec]] = None

# Other spellings users bring from PaddleClas / PyTorch / timm, mapped to (canonical name, preset arguments).
ALIASES: Mapping[str, Tuple[str, Mapping[str, Any]]] = MappingProxyType({
    "Nesterov": ("Momentum", {"use_nesterov": True}),
    "RMSprop": ("RMSProp", {}),
    "LookAhead": ("Lookahead", {}),
})


def registry() -> Dict[str, OptimizerSpec]:
    """All optimizer specs by canonical name (built once; imports Paddle)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = {s.name: s for s in _native_specs() + _our_specs()}
    return _REGISTRY


def list_optimizers() -> List[Tuple[str, str]]:
    """``[(name, description)]`` of every registered optimizer, sorted by name."""
    return sorted((s.name, s.description) for s in registry().values())


def get_spec(name: str, path: str = "Optimizer.name") -> Tuple[OptimizerSpec, Mapping[str, Any]]:
    """Spec and preset arguments for ``name`` (canonical, alias, or any capitalisation)."""
    specs = registry()
    if not isinstance(name, str):
        raise ConfigError(path, f"expected an optimizer name, got {name!r}; allowed: {', '.join(sorted(specs))}")
    if name in ALIASES:
        canonical, preset = ALIASES[name]
        return specs[canonical], preset
    folded = {n.lower(): n for n in list(specs) + list(ALIASES)}
    if name.lower() in folded and folded[name.lower()] != name:
        return get_spec(folded[name.lower()], path)
    if name not in specs:
        raise ConfigError(path, unknown_name_message("optimizer", name, list(specs) + list(ALIASES)))
    return specs[name], {}


# --- gradient clipping -------------------------------------------------------------------------------

def _clip_classes() -> Dict[str, type]:
    import paddle.nn as nn

    return {"ClipGradByGlobalNorm": nn.ClipGradByGlobalNorm, "ClipGradByNorm": nn.ClipGradByNorm,
            "ClipGradByValue": nn.ClipGradByValue}


_CLIP_ARGS = {"ClipGradByGlobalNorm": {"clip_norm": Field((float,), range=POSITIVE)},
              "ClipGradByNorm": {"clip_norm": Field((float,), range=POSITIVE)},
              "ClipGradByValue": {"max": Field((float,)), "min": Field((float,), None)}}


def _validate_grad_clip(raw: Any, path: str) -> Tuple[Optional[Dict[str, Any]], List[ConfigError]]:
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

    ``ClipGradByGlobalNorm`` becomes :class:`~paddle_optim.clipping.ClipGradByGlobalNormAcrossGroups`
    over ``parameters``, so that the norm stays global when decay splits them into groups.
    """
    if not section:
        return None
    args = {k: v for k, v in section.items() if k != "name" and v is not None}
    if section["name"] == "ClipGradByGlobalNorm":
        from .clipping import ClipGradByGlobalNormAcrossGroups

        return ClipGradByGlobalNormAcrossGroups(args["clip_norm"], parameters)
    return _clip_classes()[section["name"]](**args)


# --- the Optimizer section ---------------------------------------------------------------------------

def validate_optimizer_section(raw: Any, path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    """Resolve ``Optimizer``: canonical name, defaults filled in, every key checked.

    Values are finally checked by constructing the optimizer once on a dummy parameter, so that a
    range the class itself enforces (``beta1`` in [0, 1), ``k >= 1``) is reported at its key.
    """
    if not isinstance(raw, Mapping) or "name" not in raw:
        return {}, [ConfigError(join_key(path, "name"), "is required (e.g. Momentum, AdamW, RAdam, Ranger); "
                                "see `paddle_optim.registry.list_optimizers()`")]
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
    clip, clip_errors = _validate_grad_clip(resolved.get("grad_clip"), join_key(path, "grad_clip"))
    resolved["grad_clip"] = clip
    errors += clip_errors
    for i, pattern in enumerate(resolved.get("no_weight_decay") or []):
        if not isinstance(pattern, str):
            errors.append(ConfigError(f"{join_key(path, 'no_weight_decay')}[{i}]", f"expected a name pattern string, got {pattern!r}"))
    if spec.wraps_inner and isinstance(resolved.get("inner"), Mapping):
        inner, inner_errors = _validate_inner(resolved["inner"], join_key(path, "inner"))
        resolved["inner"] = inner
        errors += inner_errors
    if not errors:
        errors += _trial_build(resolved, path)
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
    if spec.wraps_inner or spec.name == "Ranger":
        return {}, [ConfigError(join_key(path, "name"), f"{spec.name} already contains Lookahead; "
                                "choose a plain optimizer (Momentum, Adam, RAdam, ...)")]
    resolved, errors = validate_section(dict(preset, **raw), dict(spec.fields(), name=Field((str,))), path)
    resolved["name"] = spec.name
    return resolved, errors


def _trial_build(resolved: Mapping[str, Any], path: str) -> List[ConfigError]:
    import paddle

    with paddle.utils.unique_name.guard():
        dummy = paddle.create_parameter([2, 2], "float32")
        try:
            build_optimizer(resolved, [dummy], resolved["learning_rate"])
        except (ValueError, TypeError, AssertionError) as err:  # Paddle validates some arguments with assert
            return [ConfigError(path, f"{resolved['name']} rejects these settings: {str(err) or type(err).__name__}")]
    return []


def _own_arguments(spec: OptimizerSpec, section: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: section[k] for k in spec.arguments if k in section and section[k] is not None}


def build_optimizer(section: Mapping[str, Any], model_or_parameters: Any, learning_rate: Any):
    """Build the optimizer of a resolved ``Optimizer`` section.

    Args:
        section: the resolved section (``validate_optimizer_section``), or a plain mapping
            ``{name: ..., <arguments>}`` (missing shared keys take their defaults).
        model_or_parameters: a ``paddle.nn.Layer`` (structured names drive ``no_weight_decay``) or a
            list of parameters.
        learning_rate (float | paddle.optimizer.lr.LRScheduler): what the optimizer steps with;
            normally ``TrainingSchedule.learning_rate``. For Lookahead it goes to the inner optimizer,
            so the base rate still lives in one place.
    """
    spec, preset = get_spec(section["name"])
    section = dict(preset, **section)
    if spec.wraps_inner:  # decay and clipping belong to the inner optimizer
        inner_section = dict(section["inner"], weight_decay=section.get("weight_decay"),
                             no_weight_decay=section.get("no_weight_decay"),
                             exclude_1d_from_decay=section.get("exclude_1d_from_decay", True),
                             grad_clip=section.get("grad_clip"))
        inner = build_optimizer(inner_section, model_or_parameters, learning_rate)
        return spec.cls(inner, **_own_arguments(spec, section))
    named = named_trainable_parameters(model_or_parameters)
    decay = decay_arguments(spec.decay_style, named, section.get("weight_decay") or 0.0,
                            section.get("no_weight_decay") or (), section.get("exclude_1d_from_decay", True))
    clip = build_grad_clip(section.get("grad_clip"), [p for _, p in named])
    return spec.cls(learning_rate=learning_rate, grad_clip=clip, **decay, **_own_arguments(spec, section))


def optimizer_names() -> Sequence[str]:
    """Canonical names plus aliases, as accepted in ``Optimizer.name``."""
    return sorted(list(registry()) + list(ALIASES))
