"""Validation of the ``LRScheduler`` and ``MomentumScheduler`` config sections.

``LRScheduler`` (optional; without it the learning rate is constant)::

    LRScheduler:
      name: CosineAnnealingDecay   # any class of paddle.optimizer.lr; omit for a constant learning rate
      unit: epoch                  # epoch (default) | step: what every length/position below counts
      eta_min: 1.0e-5              # the class's own arguments, Paddle's names
      warmup: {epochs: 1, start_lr: 1.0e-4}   # or {steps: 500}; wraps the schedule in LinearWarmup
      hold: {fraction: 0.7}        # or {epochs: N} / {steps: N}: the peak, constant, after the warmup

The peak learning rate is ``Optimizer.learning_rate`` and is never repeated here.

``MomentumScheduler`` (optional)::

    MomentumScheduler: {name: Linear, start: 0.8, end: 0.95, length: 5}   # Linear | Cosine | Step | OneCycle
"""
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..config.metrics import IMPROVES
from ..config.ranges import HALF_OPEN_UNIT, NON_NEGATIVE, OPEN_UNIT, POSITIVE
from ..config.schema import REQUIRED, Field, join_key, unknown_name_message, validate_section
from ..errors import ConfigError
from .catalog import SCHEDULERS
from .units import UNITS

_UNIT = Field((str,), default="epoch", choices=UNITS,
              help="epoch: lengths and positions count epochs (fractions allowed); step: optimizer steps")
_LENGTH = Field((float,), default=None, range=POSITIVE)
_WARMUP_FIELDS = {
    "epochs": _LENGTH,
    "steps": _LENGTH,
    "start_lr": Field((float,), default=None, range=NON_NEGATIVE,
                      help="learning rate of the first step; default Optimizer.learning_rate / 100"),
}
_HOLD_FIELDS = {
    "epochs": _LENGTH,
    "steps": _LENGTH,
    "fraction": Field((float,), default=None, range=OPEN_UNIT,
                      help="of the whole run's optimizer steps"),
}
_COMMON_FIELDS = {
    "name": Field((str,), default=None, help="a class of paddle.optimizer.lr; omit for a constant learning rate"),
    "unit": _UNIT,
    "warmup": Field((dict,), default=None, help="{epochs|steps: N, start_lr: x}"),
    "hold": Field((dict,), default=None, help="{epochs|steps|fraction: N}"),
}
def _evaluated(metric: str, key: str) -> None:
    if metric not in IMPROVES:
        raise ConfigError(key, unknown_name_message("evaluation metric", metric, IMPROVES))


_PLATEAU_FIELDS = {"metric": Field((str,), default="loss", check=_evaluated,
                                   help="the validation metric that drives ReduceOnPlateau")}

#: Keys of the section that are not native arguments (the resolved section keeps them out of ``args``).
EXTRA_KEYS = tuple(_COMMON_FIELDS) + tuple(_PLATEAU_FIELDS)


#: The length keys of a phase and the unit each counts.
_LENGTH_UNITS = {"epochs": "epoch", "steps": "step", "fraction": "fraction"}


def _phase(raw: Any, fields: Mapping[str, Field], path: str, what: str
           ) -> Tuple[Optional[Dict[str, Any]], List[ConfigError]]:
    """Validate a phase mapping (``warmup``, ``hold``): exactly one length key, plus its other keys."""
    section, errors = validate_section(raw, fields, path)
    lengths = [k for k in fields if k in _LENGTH_UNITS]
    given = [k for k in lengths if section.get(k) is not None]
    if len(given) != 1 and not errors:  # a misspelled or bad length key is the one error to report
        quoted = [f"'{k}'" for k in lengths]
        errors.append(ConfigError(path, f"give exactly one of {', '.join(quoted[:-1])} or {quoted[-1]} ({what})"))
    if errors:
        return None, errors
    return {given[0]: section[given[0]], **{k: v for k, v in section.items() if k not in lengths}}, []


def phase_length(phase: Mapping[str, Any]) -> Tuple[float, str]:
    """``(length, unit)`` of a resolved phase (``warmup``: ``{epochs|steps: N, start_lr}``, ``hold``:
    ``{epochs|steps|fraction: N}``); unit is ``epoch``, ``step`` or ``fraction`` (of the run)."""
    key = next(k for k in _LENGTH_UNITS if k in phase)
    return phase[key], _LENGTH_UNITS[key]


def native_args(section: Mapping[str, Any]) -> Dict[str, Any]:
    """The native constructor arguments of a resolved ``LRScheduler`` section (lengths still in its unit)."""
    return {k: v for k, v in section.items() if k not in EXTRA_KEYS}


def validate_lr_scheduler_section(raw: Any, path: str) -> Tuple[Optional[Dict[str, Any]], List[ConfigError]]:
    """Check an ``LRScheduler`` mapping; return ``(resolved, problems)``.

    The resolved section has the same form as the config (defaults filled in), so a saved resolved
    config validates again to itself: ``name``, ``unit``, ``warmup`` (``None`` or
    ``{epochs|steps: N, start_lr}``), ``hold`` (``None`` or ``{epochs|steps|fraction: N}``), ``metric``
    for ReduceOnPlateau, and the native arguments
    (:func:`native_args`).
    """
    if raw is None:
        return None, []
    if not isinstance(raw, dict):
        return None, [ConfigError(path, f"expected a mapping with 'name:' and the scheduler's arguments, got {raw!r}")]
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or name not in SCHEDULERS):
        return None, [ConfigError(join_key(path, "name"), unknown_name_message("scheduler", name, SCHEDULERS))]
    spec = SCHEDULERS.get(name)
    fields = dict(_COMMON_FIELDS)
    if spec is not None:
        fields.update(spec.fields)
        if name == "ReduceOnPlateau":
            fields.update(_PLATEAU_FIELDS)
    errors: List[ConfigError] = []
    peak_keys = [k for k in ("learning_rate", "max_learning_rate") if k in raw]
    for key in peak_keys:
        errors.append(ConfigError(join_key(path, key), "the peak learning rate is set once, as "
                                  "Optimizer.learning_rate; remove it here"))
    section, more = validate_section({k: v for k, v in raw.items() if k not in peak_keys}, fields, path)
    errors += more
    phases: Dict[str, Optional[Dict[str, Any]]] = {"warmup": None, "hold": None}
    for key, phase_fields, what in (("warmup", _WARMUP_FIELDS, "the warmup length"),
                                    ("hold", _HOLD_FIELDS, "the hold length")):
        if section.get(key) is not None:
            phases[key], more = _phase(section[key], phase_fields, join_key(path, key), what)
            errors += more
    if name == "PiecewiseDecay" and not errors and len(section["values"]) != len(section["boundaries"]) + 1:
        errors.append(ConfigError(join_key(path, "values"), f"needs one more entry than boundaries "
                                  f"({len(section['boundaries']) + 1}), got {len(section['values'])}"))
    if errors:
        return None, errors
    return {**section, **phases}, []


_MOMENTUM = Field((float,), range=HALF_OPEN_UNIT)
_MOMENTUM_SHAPES: Dict[str, Dict[str, Field]] = {
    "Linear": {"start": _MOMENTUM, "end": _MOMENTUM, "length": _LENGTH},
    "Cosine": {"start": _MOMENTUM, "end": _MOMENTUM, "length": _LENGTH},
    "Step": {"start": _MOMENTUM, "end": _MOMENTUM, "at": Field((float,), range=POSITIVE)},
    "OneCycle": {"max_momentum": Field((float,), default=0.95, range=_MOMENTUM.range),
                 "base_momentum": Field((float,), default=0.85, range=_MOMENTUM.range),
                 "phase_pct": Field((float,), default=None, range=OPEN_UNIT),
                 "anneal_strategy": Field((str,), default=None, choices=("cos", "linear")),
                 "three_phase": Field((bool,), default=None)},
}
MOMENTUM_SHAPES = tuple(_MOMENTUM_SHAPES)


def validate_momentum_section(raw: Any, path: str) -> Tuple[Optional[Dict[str, Any]], List[ConfigError]]:
    """Check a ``MomentumScheduler`` mapping; return ``({name, unit, **shape arguments}, problems)``.

    Shapes: ``Linear``/``Cosine`` go from ``start`` to ``end`` over ``length`` (default: the whole run),
    ``Step`` switches from ``start`` to ``end`` at ``at``, ``OneCycle`` is the inverse of ``OneCycleLR``
    (``max_momentum`` -> ``base_momentum`` while the learning rate rises, back while it falls; its
    ``phase_pct``/``anneal_strategy``/``three_phase`` default to those of an ``OneCycleLR`` LRScheduler).
    """
    if raw is None:
        return None, []
    if not isinstance(raw, dict):
        return None, [ConfigError(path, f"expected a mapping with 'name:' ({', '.join(MOMENTUM_SHAPES)}), got {raw!r}")]
    name = raw.get("name", REQUIRED)
    if name is REQUIRED:
        return None, [ConfigError(join_key(path, "name"), f"is required; allowed: {', '.join(MOMENTUM_SHAPES)}")]
    if not isinstance(name, str) or name not in _MOMENTUM_SHAPES:
        return None, [ConfigError(join_key(path, "name"), unknown_name_message("momentum schedule", name, MOMENTUM_SHAPES))]
    fields = {"name": Field((str,)), "unit": _UNIT, **_MOMENTUM_SHAPES[name]}
    section, errors = validate_section(raw, fields, path)
    return (None if errors else section), errors
