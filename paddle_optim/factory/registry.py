"""Optimizer names -> frozen specs: the open registry of everything ``Optimizer.name`` can name.

Every optimizer the trainer can build is an :class:`OptimizerSpec`: the class, a one-line
description, the config keys it accepts (read from the class signature, never hand-copied), their
defaults, and how it takes weight decay (see :mod:`paddle_optim.factory.param_groups`). The
registry holds Paddle's optimizers and ours; :func:`register` adds a user's spec, and a name
written as an import path ``package.module:Class`` (a ``paddle.optimizer.Optimizer`` subclass) gets
a spec read from its signature, so a user's optimizer gets the same validation, decay groups and
clipping as a native one.
"""
import inspect
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import paddle.optimizer as po

from ..config.import_path import is_import_path, load_object
from ..config.ranges import ARGUMENT_RANGES
from ..config.schema import Field, Range, unknown_name_message
from ..errors import ConfigError
from ..optimizers import Lookahead, RAdam, Ranger
from .param_groups import DECAY_STYLES

# Arguments the trainer fills in itself (the keys shared by every optimizer, see
# paddle_optim.factory.section), never taken from the config.
# Arguments that only take a Python callable (no YAML spelling) are left out too.
MANAGED_ARGUMENTS = frozenset({"learning_rate", "parameters", "weight_decay", "grad_clip", "name",
                               "apply_decay_param_fun", "lamb_weight_decay", "exclude_from_weight_decay_fn",
                               "inner_optimizer", "lr_ratio", "gc_axes"})

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
    layout_aware: bool = False  # takes `gc_axes`: gradient centralisation per output unit of the model's layers

    @property
    def contains_lookahead(self) -> bool:
        """Lookahead or a class built on it (Ranger): it cannot be the inner optimizer of another."""
        return issubclass(self.cls, Lookahead)

    @classmethod
    def from_class(cls, name: str, klass: type, description: str, decay_style: str,
                   wraps_inner: bool = False) -> "OptimizerSpec":
        if decay_style not in DECAY_STYLES:
            raise ValueError(f"decay_style must be one of {DECAY_STYLES}")
        params = [p for p in inspect.signature(klass).parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in MANAGED_ARGUMENTS]
        defaults = {p.name: p.default for p in params if p.default is not p.empty}
        return cls(name, klass, description, decay_style, tuple(p.name for p in params),
                   MappingProxyType(defaults), wraps_inner, "gc_axes" in inspect.signature(klass).parameters)

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


def register(spec: OptimizerSpec) -> OptimizerSpec:
    """Add ``spec`` under ``spec.name`` (e.g. ``OptimizerSpec.from_class("Lion", Lion, "...", "groups")``).

    A name that is already taken (in any capitalisation, aliases included) is a ``ValueError``.
    """
    specs = registry()
    taken = {n.lower(): n for n in list(specs) + list(ALIASES)}
    if spec.name.lower() in taken:
        raise ValueError(f"optimizer name {spec.name!r} is already registered (as {taken[spec.name.lower()]!r})")
    specs[spec.name] = spec
    return spec


def list_optimizers() -> List[Tuple[str, str]]:
    """``[(name, description)]`` of every registered optimizer, sorted by name."""
    return sorted((s.name, s.description) for s in registry().values())


def get_spec(name: str, path: str = "Optimizer.name") -> Tuple[OptimizerSpec, Mapping[str, Any]]:
    """Spec and preset arguments for ``name`` (canonical, alias, any capitalisation, or an import path)."""
    specs = registry()
    if is_import_path(name):
        return _import_path_spec(name, path), {}
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


def _import_path_spec(name: str, path: str) -> OptimizerSpec:
    cls = load_object(name, path)
    if not (isinstance(cls, type) and issubclass(cls, po.Optimizer)):
        raise ConfigError(path, f"'{name}' is not a paddle.optimizer.Optimizer subclass")
    # Paddle's Optimizer base class takes parameter groups with their own weight_decay.
    doc = (cls.__doc__ or "").strip().splitlines()
    return OptimizerSpec.from_class(name, cls, doc[0] if doc else name, "groups")


def optimizer_names() -> Sequence[str]:
    """Canonical names plus aliases, as accepted in ``Optimizer.name``."""
    return sorted(list(registry()) + list(ALIASES))
