"""Reading config files safely and applying ``-o Section.key=value`` overrides.

YAML is read with ``yaml.safe_load`` only (no arbitrary Python objects); override values are parsed
as YAML scalars/lists/mappings, never with ``eval``. An override of a key the schema does not know is
reported by section validation with a "did you mean", because an override simply writes into the
raw mapping that validation then checks.
"""
import copy
import os
from typing import Any, Dict, Iterable, Optional

import yaml

from ..errors import ConfigError, UserError


def load_yaml_file(path: str) -> Dict[str, Any]:
    """Load a YAML mapping from ``path`` with a clear error for every way it can fail."""
    if not os.path.exists(path):
        raise UserError(f"config file not found: {path}")
    if os.path.isdir(path):
        raise UserError(f"config path is a directory, expected a YAML file: {path}")
    try:
        with open(path, "r", encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text (UTF-8) YAML file") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{path}: malformed YAML{where}: {problem}") from None
    except OSError as err:
        raise UserError(f"cannot read config file {path}: {err.strerror}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level must be a mapping of sections (Global:, Optimizer:, ...), "
                        f"got {type(data).__name__}")
    return data


def parse_override(text: str) -> "tuple[list[str], Any]":
    """Split ``Section.key.sub=value`` into its key path and YAML-parsed value."""
    if "=" not in text:
        raise UserError(f"override '{text}': expected Section.key=value")
    key, _, raw_value = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise UserError(f"override '{text}': expected Section.key=value")
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else None
    except yaml.YAMLError:
        raise UserError(f"override '{text}': value is not valid YAML") from None
    return parts, value


def apply_overrides(config: Dict[str, Any], overrides: Optional[Iterable[str]]) -> Dict[str, Any]:
    """Return a copy of ``config`` with each ``Section.key=value`` written in."""
    result = copy.deepcopy(config)
    for text in overrides or ():
        parts, value = parse_override(text)
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(".".join(parts[: depth + 1]),
                                  f"override '{text}' goes inside this key, but it is not a mapping")
            node = child
        node[parts[-1]] = value
    return result


def load_config(path: str, overrides: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """Read ``path`` and apply ``overrides``; the result is raw (unvalidated) config."""
    return apply_overrides(load_yaml_file(path), overrides)
