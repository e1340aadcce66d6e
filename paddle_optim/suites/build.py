"""Build an optimizer from what a suite's builder hands over: the one code path of every adapter.

Each suite has already turned its YAML into Paddle objects before our adapter runs (a
``paddle.regularizer`` or a float as ``weight_decay``, a ``paddle.nn.ClipGradBy*`` as ``grad_clip``,
an ``LRScheduler`` as ``learning_rate``). What is left, and what :func:`build` does the same way for
all four suites:

* the optimizer's own keys are checked against the registry's spec of that class
  (:func:`paddle_optim.factory.get_spec`); an unknown key is a :class:`ConfigError` at its key path
  that lists the allowed ones;
* decay is either *coupled* (the suite's regularizer: a float L2 coefficient, ``L2Decay`` or
  ``L1Decay``) or *decoupled* (AdamW-style ``theta <- theta - lr * lambda * theta``), spelled
  ``decoupled_decay: lambda`` in every suite because no suite builder passes a float ``weight_decay``
  through unchanged;
* Lookahead is built around an inner optimizer given as a nested mapping in the suite's own
  spelling (``inner: {type: Momentum, ...}`` in PaddleDetection, ``inner: {name: Momentum, ...}`` in
  PaddleClas/PaddleOCR), which gets the same learning rate, parameters, decay and clipping.
"""
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import paddle

from ..config.schema import did_you_mean, join_key
from ..errors import ConfigError
from ..factory import get_spec
from ..factory.clipping import ClipGradByGlobalNormAcrossGroups
from ..factory.param_groups import split_decay
from ..optimizers import gc_axes

DECOUPLED_KEY = "decoupled_decay"
# Our classes take decoupled decay as a flag plus a float weight_decay; the suites cannot carry that
# float, so the flag is replaced by DECOUPLED_KEY in every suite.
_FLAG = "decoupled_weight_decay"


@dataclass(frozen=True)
class Decay:
    """The decay a suite asked for.

    Attributes:
        coupled: the suite's regularizer as it arrives: a float (L2 coefficient, as Paddle reads a
            float ``weight_decay``), a ``paddle.regularizer.L2Decay``/``L1Decay``, or None.
        decoupled: the AdamW-style coefficient from ``decoupled_decay``, or None.
        no_decay_names: substrings of structured parameter names that get no decay (PaddleClas /
            PaddleOCR ``no_weight_decay_name``, space-separated there).
        one_dim: no decay for parameters of rank 1 (``one_dim_param_no_weight_decay``).
    """

    coupled: Any = None
    decoupled: Optional[float] = None
    no_decay_names: Sequence[str] = ()
    one_dim: bool = False

    @property
    def value(self) -> Any:
        return self.coupled if self.decoupled is None else self.decoupled


def check_decoupled(value: Any, path: str) -> Optional[float]:
    """``decoupled_decay`` as a float >= 0 (None when absent)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(path, f"expected a decay coefficient >= 0 (e.g. 0.01), got {value!r}")
    return float(value)


def allowed_keys(name: str, suite_keys: Iterable[str] = ()) -> List[str]:
    """The keys an adapter of optimizer ``name`` accepts: its own arguments, ``decoupled_decay`` where
    it has decoupled decay, ``inner`` for Lookahead, plus the suite's usual extra keys."""
    spec, _ = get_spec(name)
    keys = set(spec.arguments) | set(suite_keys)
    if _FLAG in keys:
        keys = (keys - {_FLAG}) | {DECOUPLED_KEY}
    if spec.wraps_inner:
        keys |= {"inner", "multi_precision"}  # the suites' AMP configs set it; it goes to the inner optimizer
    return sorted(keys)


def check_keys(name: str, given: Iterable[str], path: str, suite_keys: Iterable[str] = ()) -> None:
    """Raise a :class:`ConfigError` naming the first unknown key and listing the allowed ones."""
    allowed = allowed_keys(name, suite_keys)
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        key = unknown[0]
        hint = f" (write {DECOUPLED_KEY}: <coefficient> instead)" if key == _FLAG else did_you_mean(key, allowed)
        raise ConfigError(join_key(path, key), f"unknown key for {name}{hint}; allowed: {', '.join(allowed)}")


def decay_groups(named: Sequence, decay: Decay) -> List[Any]:
    """Parameters, split into a decay group and a no-decay group when names or rank exclude some.

    The decay group carries the suite's regularizer (or the decoupled coefficient); the other one 0.
    Names match as substrings, as PaddleClas and PaddleOCR match ``no_weight_decay_name``.
    """
    params = [p for _, p in named]
    if decay.value is None or not (decay.no_decay_names or decay.one_dim):
        return params
    patterns = [f"*{name}*" for name in decay.no_decay_names]
    with_decay, without = split_decay(named, patterns, decay.one_dim)
    groups = [{"params": with_decay, "weight_decay": decay.value}]
    if without:
        groups.append({"params": without, "weight_decay": 0.0})
    return groups


def _global_clip(grad_clip: Any, parameters: Sequence[Any]) -> Any:
    # Paddle clips each parameter group on its own; a global norm must span all of them.
    grouped = parameters and isinstance(parameters[0], dict) and len(parameters) > 1
    if type(grad_clip) is not paddle.nn.ClipGradByGlobalNorm or not grouped:
        return grad_clip
    flat = [p for group in parameters for p in group["params"]]
    return ClipGradByGlobalNormAcrossGroups(grad_clip.clip_norm, flat)


def build(name: str, options: Mapping[str, Any], *, learning_rate: Any, parameters: Sequence[Any],
          grad_clip: Any, decay: Decay, path: str, inner_name_key: str, suite_keys: Iterable[str] = (),
          layers: Sequence[Any] = ()):
    """Construct optimizer ``name`` (ours or a native ``paddle.optimizer`` one) from suite arguments.

    Args:
        name: a registry name (``Ranger``, ``RAdam``, ``Lookahead``, ``Momentum``, ...).
        options: the optimizer's own keys from the suite's YAML (``beta1``, ``k``, ``inner``, ...).
        learning_rate: float or the suite's ``LRScheduler`` (used as is: the suite steps it).
        parameters: a parameter list or parameter-group dicts (see :func:`decay_groups`).
        grad_clip: the suite's ``paddle.nn.ClipGradBy*`` or None.
        decay: coupled / decoupled decay; the split into groups is already in ``parameters``.
        path: key path of ``options`` in the suite's config, for error messages.
        inner_name_key: how the suite names a class in a nested mapping (``type`` or ``name``).
        suite_keys: keys the adapter consumed itself, listed as allowed in error messages.
        layers: the models the parameters belong to, when the suite hands them over (PaddleSeg,
            PaddleClas, PaddleOCR): RAdam and Ranger then centre gradients per output unit of each
            layer (:func:`paddle_optim.gc_axes`); without them (ppdet) the rank rule applies.
    """
    spec, preset = get_spec(name, join_key(path, inner_name_key))
    check_keys(spec.name, options, path, suite_keys)
    if spec.wraps_inner:
        raw = options.get("inner")
        if "multi_precision" in options and isinstance(raw, Mapping):
            raw = dict(raw, multi_precision=options["multi_precision"])
        inner = _build_inner(raw, learning_rate=learning_rate, parameters=parameters,
                             grad_clip=grad_clip, decay=decay, path=join_key(path, "inner"),
                             name_key=inner_name_key, layers=layers)
        return spec.cls(inner, **{k: v for k, v in options.items() if k not in ("inner", "multi_precision")})
    kwargs: Dict[str, Any] = dict(preset, **options)
    if decay.decoupled is not None:
        if _FLAG not in spec.arguments:
            raise ConfigError(join_key(path, DECOUPLED_KEY), f"{spec.name} has no decoupled decay; "
                              "allowed with it: RAdam, Ranger (AdamW: use its own weight_decay)")
        kwargs[_FLAG] = True
    if spec.layout_aware and layers:
        kwargs["gc_axes"] = {name: axes for layer in layers for name, axes in gc_axes(layer).items()}
    return spec.cls(learning_rate=learning_rate, parameters=parameters, grad_clip=_global_clip(grad_clip, parameters),
                    weight_decay=decay.value, **kwargs)


def _build_inner(raw: Any, *, learning_rate, parameters, grad_clip, decay: Decay, path: str, name_key: str,
                 layers: Sequence[Any]):
    if isinstance(raw, Mapping) and name_key in raw:
        name = raw[name_key]
        spec, _ = get_spec(name, join_key(path, name_key))
        if spec.contains_lookahead:
            raise ConfigError(join_key(path, name_key), f"{spec.name} already contains Lookahead; choose a "
                              "plain optimizer (Momentum, SGD, Adam, RAdam, ...)")
        options = {k: v for k, v in raw.items() if k != name_key}
        if DECOUPLED_KEY in options and DECOUPLED_KEY in allowed_keys(spec.name):
            raise ConfigError(join_key(path, DECOUPLED_KEY), "set it on the outer optimizer (Lookahead); the "
                              "inner one gets the outer decay")
        return build(spec.name, options, learning_rate=learning_rate, parameters=parameters,
                     grad_clip=grad_clip, decay=decay, path=path, inner_name_key=name_key, layers=layers)
    raise ConfigError(path, f"is required: the inner optimizer, e.g. {{{name_key}: Momentum, momentum: 0.9}}")
