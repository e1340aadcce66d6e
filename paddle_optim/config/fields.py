"""Config fields that hold lists of numbers (layer widths, image sizes, normalisation constants)."""
import math
from typing import Any, Callable, Optional

from .schema import Field, Range
from ..errors import ConfigError


def number_list(default: Any, allowed: Range, integers: bool = False, length: Optional[int] = None,
                help: str = "") -> Field:
    """A list field whose every item is a number (an integer when ``integers``) within ``allowed``."""
    return Field((list,), default, help=help, check=_items(allowed, integers, length))


def _items(allowed: Range, integers: bool, length: Optional[int]) -> Callable[[Any, str], None]:
    kind = "whole numbers" if integers else "numbers"

    def check(value: Any, key: str) -> None:
        if length is not None and len(value) != length:
            raise ConfigError(key, f"expected {length} {kind}, got {len(value)}: {value!r}")
        for item in value:
            ok = isinstance(item, int) if integers else isinstance(item, (int, float))
            if isinstance(item, bool) or not ok or (isinstance(item, float) and math.isnan(item)) \
                    or not allowed.contains(item):
                raise ConfigError(key, f"expected a list of {kind} {allowed.describe()}, got {value!r}")
    return check
