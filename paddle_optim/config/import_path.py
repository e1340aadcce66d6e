"""Loading user code named by an import path ``package.module:Name`` (models, data sets).

The module is imported with :func:`importlib.import_module`; the attribute after the colon is
looked up in that module's namespace only. Keyword arguments from the config are checked against
the callable's signature, so a misspelled key is an error instead of silently ignored.
"""
import importlib
import inspect
from typing import Any, Callable, List, Mapping

from .schema import did_you_mean
from ..errors import ConfigError


def is_import_path(name: Any) -> bool:
    return isinstance(name, str) and ":" in name


def load_object(path: str, key: str) -> Callable:
    """The callable named by ``package.module:Name``; :class:`ConfigError` at ``key`` otherwise."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(key, f"expected an import path 'package.module:Name', got '{path}'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ConfigError(key, f"cannot import module '{module_name}' ({err}); is it on PYTHONPATH?") from None
    namespace = vars(module)
    if attr not in namespace:
        public = [n for n in namespace if not n.startswith("_")]
        raise ConfigError(key, f"module '{module_name}' has no '{attr}'{did_you_mean(attr, public)}")
    obj = namespace[attr]
    if not callable(obj):
        raise ConfigError(key, f"'{path}' is not a class or function")
    return obj


def check_kwargs(obj: Callable, kwargs: Mapping[str, Any], path: str, reserved=()) -> List[ConfigError]:
    """Problems with calling ``obj(**kwargs)``: unknown keys (with "did you mean") or missing required ones."""
    params = inspect.signature(obj).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return []  # the user's callable takes **kwargs: it is responsible for its own keys
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    errors = [ConfigError(f"{path}.{k}", f"not an argument of {getattr(obj, '__name__', obj)}"
                          f"{did_you_mean(k, accepted)}; allowed: {', '.join(a for a in accepted if a not in reserved)}")
              for k in kwargs if k not in accepted]
    for name, p in params.items():
        if (p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and name not in kwargs and name not in reserved):
            errors.append(ConfigError(f"{path}.{name}", f"is required by {getattr(obj, '__name__', obj)}"))
    return errors
