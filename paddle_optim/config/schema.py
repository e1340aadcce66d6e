"""Declarative validation of config sections.

A section is a mapping of key -> :class:`Field`. :func:`validate_section` checks a user mapping
against it and returns the resolved mapping (defaults filled in) together with every problem found,
so that ``check`` can report all mistakes at once instead of the first one.

Numbers are checked against explicit ranges whose text ("allowed: [0, 1)") is generated from the
same bounds that are enforced, so message and check cannot disagree.
"""
import copy
import difflib
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError

REQUIRED = object()  # sentinel default: the key must be given


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_name_message(kind: str, name: Any, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    return f"unknown {kind} '{name}'{did_you_mean(name, choices)}; allowed: {', '.join(choices)}"


def join_key(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


@dataclass(frozen=True)
class Range:
    """A numeric interval; ``None`` bounds are open-ended."""

    low: Optional[float] = None
    high: Optional[float] = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def contains(self, x: float) -> bool:
        if not math.isfinite(x):  # nan/inf: never a valid setting, whatever the bounds
            return False
        if self.low is not None and (x < self.low or (x == self.low and not self.low_inclusive)):
            return False
        if self.high is not None and (x > self.high or (x == self.high and not self.high_inclusive)):
            return False
        return True

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            left = "[" if self.low_inclusive else "("
            right = "]" if self.high_inclusive else ")"
            return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"
        if self.low is not None:
            return f"{'>=' if self.low_inclusive else '>'} {_fmt(self.low)}"
        if self.high is not None:
            return f"{'<=' if self.high_inclusive else '<'} {_fmt(self.high)}"
        return "any number"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def check_range(name: str, value: Any, allowed: Range) -> float:
    """Return ``value`` as a float if ``allowed`` contains it, else raise ``ValueError`` naming the
    argument, the value and the range (``beta1=1.5 is out of range; allowed: [0, 1)``).

    Used by the optimizer constructors, which must raise ``ValueError`` like native ones.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} must be a number in {allowed.describe()}")
    if not allowed.contains(value):
        raise ValueError(f"{name}={value!r} is out of range; allowed: {allowed.describe()}")
    return float(value)


@dataclass(frozen=True)
class Field:
    """One config key: its type(s), default, optional numeric range or choices, and help text."""

    types: Tuple[type, ...]
    default: Any = REQUIRED
    range: Optional[Range] = None
    choices: Optional[Sequence[Any]] = None
    help: str = ""
    check: Optional[Callable[[Any, str], None]] = None  # extra check; raises ConfigError

    def validate(self, value: Any, key: str) -> Any:
        if value is None and self.default is None:
            return None
        types = self.types
        # YAML writes 1e-3 as a string unless it has a dot ("1.0e-3"); accept numeric strings for floats.
        if float in types and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            names = " or ".join(_type_name(t) for t in types)
            raise ConfigError(key, f"expected {names}, got {_type_name(type(value))} {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(key, unknown_name_message("value", value, [str(c) for c in self.choices]))
        if self.range is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not self.range.contains(value):
                raise ConfigError(key, f"{value!r} is out of range; allowed: {self.range.describe()}")
        if self.check is not None:
            self.check(value, key)
        return value


def _type_name(t: type) -> str:
    return {int: "integer", float: "number", str: "string", bool: "true/false", list: "list",
            dict: "mapping", type(None): "null"}.get(t, t.__name__)


def validate_section(raw: Any, fields: Mapping[str, Field], path: str,
                     extra_keys: bool = False) -> Tuple[Dict[str, Any], List[ConfigError]]:
    """Check ``raw`` against ``fields``; return (resolved mapping, problems).

    Unknown keys are problems (with a "did you mean") unless ``extra_keys`` is true, in which case
    they are passed through untouched for a later, more specific validator.
    """
    errors: List[ConfigError] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return {}, [ConfigError(path, f"expected a mapping of keys, got {_type_name(type(raw))} {raw!r}")]
    resolved: Dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            if extra_keys:
                resolved[key] = value
            else:
                errors.append(ConfigError(join_key(path, key),
                                          "unknown key" + did_you_mean(key, fields) +
                                          f"; allowed: {', '.join(sorted(fields))}"))
            continue
        try:
            resolved[key] = fields[key].validate(value, join_key(path, key))
        except ConfigError as err:
            errors.append(err)
    for key, spec in fields.items():
        if key not in raw:
            if spec.default is REQUIRED:
                errors.append(ConfigError(join_key(path, key), "is required" + (f" ({spec.help})" if spec.help else "")))
            else:
                resolved[key] = copy.deepcopy(spec.default)
    return resolved, errors
