"""Reading config files safely and applying ``-o Section.key=value`` overrides.

YAML is read with a bounded ``yaml.SafeLoader`` (no arbitrary Python objects); override values are
parsed by the same loader as YAML scalars/lists/mappings, never with ``eval``. An override of a key the
schema does not know is reported by section validation with a "did you mean", because an override
simply writes into the raw mapping that validation then checks.

A config is a few hundred nodes, so the loader refuses, as one error line each, what only a hostile or
broken file contains: more than :data:`MAX_FILE_BYTES`; nesting deeper than :data:`MAX_DEPTH`, written
or through aliases (the composer recurses: 5,000 brackets were a ``RecursionError``; the scanner is
quadratic in bracket depth); aliases that expand to more than :data:`MAX_ALIAS_NODES` extra nodes, or
refer to themselves (a 1.3 KB "billion laughs" file expands exponentially in every consumer that walks
the values: ``repr``, validation, ``config.yaml``); an integer of more than :data:`MAX_INT_DIGITS`
digits (Python refuses to convert 4,300); and a key that appears twice in one mapping (PyYAML
silently keeps the last one).
"""
import copy
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..errors import ConfigError, UserError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 100
MAX_ALIAS_NODES = 100_000
MAX_INT_DIGITS = 100
_INT_TAG = "tag:yaml.org,2002:int"


class _Refused(yaml.YAMLError):
    """Well-formed YAML the loader will not build: ``message`` at ``mark`` (None: the whole document)."""

    def __init__(self, message: str, mark=None):
        super().__init__(message)
        self.message, self.mark = message, mark


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` with bounded depth, alias expansion and integer length, and no duplicate keys.

    Checks run while the node graph is composed, before any Python object is constructed, and name
    the key path (``Global.epochs``, ``Model.layers[3]``) of the offending value.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._path: List[str] = []

    def fetch_flow_collection_start(self, token_class):
        # The scanner reads ahead over every opening bracket, and its bookkeeping of "possible simple keys"
        # is quadratic in the flow depth (5,000 brackets: 4 s; a 10 MB file: hours): stop it here.
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(f"brackets nested deeper than {MAX_DEPTH} levels; allowed: at most {MAX_DEPTH}",
                           self.get_mark())
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent, index):
        if len(self._path) >= MAX_DEPTH:
            raise _Refused(f"{self._where()}nested deeper than {MAX_DEPTH} levels; allowed: at most {MAX_DEPTH}",
                           self.peek_event().start_mark)
        if isinstance(parent, SequenceNode):
            self._path.append(f"[{index}]")
        elif isinstance(parent, MappingNode) and isinstance(index, ScalarNode):
            self._path.append("." + index.value[:40])
        else:  # the document root, or a mapping key
            self._path.append("")
        try:
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def compose_scalar_node(self, anchor):
        node = super().compose_scalar_node(anchor)
        # alphanumerics: a hexadecimal or binary literal converts without Python's limit, but its repr
        # in an error message would then fail with it
        digits = sum(c.isalnum() for c in node.value) if node.tag == _INT_TAG else 0
        if digits > MAX_INT_DIGITS:
            raise _Refused(f"{self._where()}an integer of {digits} digits; allowed: at most {MAX_INT_DIGITS} digits",
                           node.start_mark)
        return node

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first_line: Dict[Any, int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode):
                continue
            if (key.tag, key.value) in first_line:
                raise _Refused(f"duplicate key '{self._where(key.value)}' (first at line "
                               f"{first_line[key.tag, key.value] + 1}); a key may appear once per mapping",
                               key.start_mark)
            first_line[key.tag, key.value] = key.start_mark.line
        return node

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node

    def _where(self, last: Optional[str] = None) -> str:
        """The key path being composed (``Global.epochs``; deep ones elided); with ``last``, that key in it."""
        parts = self._path + ([f".{last[:40]}"] if last is not None else [])
        if len(parts) > 8:
            parts = parts[:4] + [".."] + parts[-3:]
        path = "".join(parts).lstrip(".")
        return path if last is not None else (f"{path}: " if path else "")


def _check_expansion(root) -> None:
    """Refuse a node graph whose aliases expand it by more than :data:`MAX_ALIAS_NODES` nodes, nest it
    deeper than :data:`MAX_DEPTH` levels, or make it contain itself. Linear in the distinct nodes."""
    seen: Dict[int, Tuple[int, int]] = {}  # id -> (expanded size, height) of the nodes measured
    on_path: set = set()

    def measure(node, depth: int) -> Tuple[int, int]:
        if id(node) in on_path:
            raise _Refused("an alias refers to a value that contains it (a recursive alias)", node.start_mark)
        if id(node) not in seen:
            if depth > MAX_DEPTH:
                raise _Deeper(node)
            on_path.add(id(node))
            children = node.value if isinstance(node, SequenceNode) else (
                [n for pair in node.value for n in pair] if isinstance(node, MappingNode) else [])
            parts = [measure(child, depth + 1) for child in children]
            on_path.discard(id(node))
            seen[id(node)] = (1 + sum(p[0] for p in parts), 1 + max((p[1] for p in parts), default=0))
        total, height = seen[id(node)]
        if depth + height > MAX_DEPTH + 1:  # an alias of a deep value, placed deep
            raise _Deeper(node)
        if total - len(seen) > MAX_ALIAS_NODES:
            raise _Refused(f"aliases expand the document to more than {MAX_ALIAS_NODES} nodes beyond those written "
                           f"(an alias bomb?); allowed: at most {MAX_ALIAS_NODES}", node.start_mark)
        return total, height

    measure(root, 0)


class _Deeper(_Refused):
    def __init__(self, node):
        super().__init__(f"aliases nest the values deeper than {MAX_DEPTH} levels; allowed: at most {MAX_DEPTH}",
                         node.start_mark)


def _parse(text: str, source: str, lines: bool = True) -> Any:
    """``text`` as YAML through :class:`_BoundedLoader`; any problem is one line starting with ``source``
    (and, with ``lines``, the line number in ``text``)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as err:
        where = f":{err.mark.line + 1}" if lines and err.mark is not None else ""
        raise UserError(f"{source}{where}: {err.message}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{source}: malformed YAML{where}: {problem}") from None
    finally:
        loader.dispose()


def load_yaml_file(path: str) -> Dict[str, Any]:
    """Load a YAML mapping from ``path`` with a clear error for every way it can fail."""
    if not os.path.exists(path):
        raise UserError(f"config file not found: {path}")
    if os.path.isdir(path):
        raise UserError(f"config path is a directory, expected a YAML file: {path}")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # bounded even for /dev/zero
    except OSError as err:
        raise UserError(f"cannot read config file {path}: {err.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UserError(f"{path}: the config file is larger than {MAX_FILE_BYTES // 2**20} MB; "
                        f"allowed: at most {MAX_FILE_BYTES // 2**20} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text (UTF-8) YAML file") from None
    data = _parse(text, path)
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
    value = _parse(raw_value, f"override {key}", lines=False) if raw_value.strip() else None
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
