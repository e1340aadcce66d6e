"""RAdam, Ranger and Lookahead by name inside Paddle's suites, without editing them.

``register(suite=None)`` puts an adapter for each of our optimizers where the suite looks names up:

=============  =========================================  ==============================================
suite          where the name is looked up                the YAML
=============  =========================================  ==============================================
paddledet      ``paddle.optimizer`` (``getattr``)          ``OptimizerBuilder: {optimizer: {type: Ranger}}``
paddleseg      ``paddleseg.cvlibs.manager.OPTIMIZERS``     ``optimizer: {type: Ranger}``
paddleclas     ``ppcls.optimizer.optimizer`` (``getattr``)  ``Optimizer: {name: Ranger}``
paddleocr      ``ppocr.optimizer.optimizer`` (``getattr``)  ``Optimizer: {name: Ranger}``
=============  =========================================  ==============================================

Each adapter takes exactly its suite's calling convention (:mod:`.detection`, :mod:`.segmentation`,
:mod:`.factory`) and builds through :func:`.build.build`. ``paddle-optim suite-train`` calls
:func:`register` in every process before the suite's training script runs.

Registration never replaces a name the suite or Paddle already has (Paddle 3.x ships its own
``paddle.optimizer.RAdam``, which ppdet would then find) unless ``replace_native=True``; the log
says which names were added, kept or replaced.
"""
import importlib
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Dict, Optional, Tuple

import zlib  # noqa: F401  (before Paddle: pycocotools / lap / PNG crash after the 2.6 wheel's zlib)

from ..errors import UserError
from ..config.schema import unknown_name_message
from . import detection, factory, segmentation

NAMES = ("RAdam", "Ranger", "Lookahead")
_MARK = "__paddle_optim__"  # set on our adapters: what makes registration idempotent
_log = logging.getLogger("paddle_optim.suites")


@dataclass(frozen=True)
class Suite:
    name: str
    package: str  # importable top-level package
    registry: str  # where the suite resolves names (a module path, or a description)
    adapter: Callable[[str], Any]
    lookup: Callable[[str], Any]
    store: Callable[[str, Any], None]


def _module_names(path: str) -> Tuple[Callable[[str], Any], Callable[[str, Any], None]]:
    """lookup/store for a suite whose registry is ``getattr(<module>, name)``."""
    def lookup(name):
        return vars(importlib.import_module(path)).get(name)

    def store(name, obj):
        setattr(importlib.import_module(path), name, obj)

    return lookup, store


def _suites() -> Dict[str, Suite]:
    return {s.name: s for s in (
        Suite("paddledet", "ppdet", "paddle.optimizer", detection.adapter, *_module_names("paddle.optimizer")),
        Suite("paddleseg", "paddleseg", "paddleseg.cvlibs.manager.OPTIMIZERS", segmentation.adapter,
              segmentation.lookup, segmentation.store),
        Suite("paddleclas", "ppcls", "ppcls.optimizer.optimizer", partial(factory.adapter, convention=factory.CLAS),
              *_module_names("ppcls.optimizer.optimizer")),
        Suite("paddleocr", "ppocr", "ppocr.optimizer.optimizer", partial(factory.adapter, convention=factory.OCR),
              *_module_names("ppocr.optimizer.optimizer")),
    )}


SUITES = ("paddledet", "paddleseg", "paddleclas", "paddleocr")


def importable(suite: str) -> bool:
    """Whether the suite's package can be imported here (PaddleClas/PaddleOCR: from their checkout)."""
    return importlib.util.find_spec(_suites()[suite].package) is not None


def suite_at(directory: str) -> Optional[str]:
    """The suite whose source checkout ``directory`` is (its package directory is in it), or None."""
    for name, suite in _suites().items():
        if os.path.isdir(os.path.join(directory, suite.package)):
            return name
    return None


def _ensure_log_handler() -> None:
    # The suites configure their own loggers; ours must still reach the job's log.
    if not _log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[paddle_optim] %(message)s"))
        _log.addHandler(handler)
        _log.setLevel(logging.INFO)
        _log.propagate = False


def register(suite: Optional[str] = None, replace_native: bool = False) -> Dict[str, Tuple[str, ...]]:
    """Register RAdam, Ranger and Lookahead into ``suite``, or into every importable suite.

    Idempotent. Returns ``{suite: names that now resolve to our adapters there}`` (the same on every
    call). A name the suite or Paddle already defines is kept (and logged) unless ``replace_native``.

    Raises:
        UserError: ``suite`` is not one of :data:`SUITES`, or is not importable.
    """
    suites = _suites()
    if suite is not None and suite not in suites:
        raise UserError(unknown_name_message("suite", suite, suites))
    if suite is not None and not importable(suite):
        raise UserError(f"suite {suite}: package '{suites[suite].package}' is not importable here "
                        "(PaddleClas / PaddleOCR: run from the root of their source checkout)")
    chosen = [suite] if suite is not None else [name for name in SUITES if importable(name)]
    _ensure_log_handler()
    return {name: _install(suites[name], replace_native) for name in chosen}


def _install(suite: Suite, replace_native: bool) -> Tuple[str, ...]:
    importlib.import_module(suite.package)
    ours, added, kept, replaced = [], [], [], []
    for name in NAMES:
        current = suite.lookup(name)
        if getattr(current, _MARK, None) == name:
            ours.append(name)
            continue
        if current is not None and not replace_native:
            kept.append(name)
            continue
        obj = suite.adapter(name)
        setattr(obj, _MARK, name)
        suite.store(name, obj)
        (replaced if current is not None else added).append(name)
        ours.append(name)
    done = [f"{verb} {', '.join(names)} {where} {suite.registry}" for verb, names, where in
            (("added", added, "to"), ("replaced", replaced, "in")) if names]
    if done:
        _log.info("%s: %s", suite.name, "; ".join(done))
    if kept:
        _log.info("%s: kept %s (defined there already, e.g. Paddle 3.x's own RAdam; replace_native=True "
                  "/ --replace-native uses ours)", suite.name, ", ".join(f"{suite.registry}.{n}" for n in kept))
    return tuple(ours)

