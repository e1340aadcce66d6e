"""Patterns of structured parameter names: the one matcher of every key that selects parameters.

``Model.freeze``, ``Optimizer.no_weight_decay`` and ``Optimizer.param_groups[i].params`` hold
shell-style ``fnmatch`` patterns matched case-sensitively against the names of
``model.named_parameters()`` (``net.0.weight``, ``backbone.layer1.0.conv1.weight``), never against
Paddle's generated names (``linear_0.w_0``): ``*`` is any run of characters (dots included), ``?`` one
character, ``[seq]`` one of a set. They are not regular expressions.
"""
import difflib
import fnmatch
from typing import Any, Iterable, List, Sequence

from ..errors import ConfigError

#: How many real parameter names an error message shows.
_SHOWN = 4


def check_patterns(patterns: List[Any], key: str) -> None:
    """A list-field check: every item is a non-empty pattern string (``key[i]`` names a bad one)."""
    for i, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{key}[{i}]", f"expected a name pattern string (e.g. 'backbone.*'), got {pattern!r}")


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether the structured parameter name ``name`` matches any of ``patterns``."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def no_match_message(pattern: str, names: Sequence[str]) -> str:
    """``'x' matches no parameter; allowed: ...`` with the closest real names (or the first few)."""
    close = difflib.get_close_matches(pattern, list(names), n=_SHOWN, cutoff=0.5)
    shown = close or list(names[:_SHOWN])
    return (f"{pattern!r} matches no parameter; allowed: fnmatch patterns of the model's parameter names "
            f"({len(names)} parameters), e.g. {', '.join(shown)}")


def require_matches(patterns: Sequence[str], names: Sequence[str], key: str) -> None:
    """ConfigError at ``key`` for the first of ``patterns`` that matches none of ``names``."""
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            raise ConfigError(key, no_match_message(pattern, names))
