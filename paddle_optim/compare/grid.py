"""The sweep grid: which training runs ("cells") a comparison consists of, and how each one is started.

A cell is one ordinary ``train`` run, fully described by the base config, the user's own ``-o``
overrides and the overrides of the cell (optimizer, learning rate, seed, optionally scheduler and
epochs). The cell's ``Optimizer`` section is built deliberately instead of overriding only
``Optimizer.name``: switching ``Momentum`` to ``AdamW`` by name alone would leave ``momentum: 0.9``
behind, which AdamW does not accept.
"""
import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

import yaml

from ..errors import ConfigError, UserError
from ..factory import get_spec

# Per-optimizer arguments a fair sweep should not leave at a poor library default.
# Momentum's own default in Paddle is already 0.9, written out so the report shows what ran;
# Lookahead needs an inner optimizer, and the paper's k=5, alpha=0.5 around Momentum is its usual use.
OPTIMIZER_EXTRAS: Mapping[str, Mapping[str, Any]] = {
    "Momentum": {"momentum": 0.9},
    "Lookahead": {"k": 5, "alpha": 0.5, "inner": {"name": "Momentum", "momentum": 0.9}},
}

# Keys that mean the same for every optimizer; they are carried from the base config's Optimizer
# section into every cell so all optimizers train under the same regularisation and clipping.
SHARED_OPTIMIZER_KEYS = ("weight_decay", "no_weight_decay", "grad_clip", "multi_precision")

# Carried only into the cells of optimizers with slow weights (Lookahead, Ranger), dropped from the others:
# `-o Optimizer.evaluate_on=slow` sweeps Momentum and Ranger side by side with Ranger evaluated on its slow weights.
SLOW_WEIGHT_KEYS = ("evaluate_on",)

# The scheduler-independent keys of an LRScheduler section: a base config's warmup and hold stay in
# front of every scheduler the sweep tries (a scheduler that cannot follow a hold is rejected before
# anything trains).
SHARED_SCHEDULER_KEYS = ("warmup", "hold")

# `--schedulers none` trains with a constant learning rate (no LRScheduler section).
NO_SCHEDULER = "none"
# Label of the scheduler column when `--schedulers` is not given: whatever the base config has.
CONFIG_SCHEDULER = "config"


@dataclass(frozen=True)
class Cell:
    """One training run of the grid."""

    optimizer: str
    learning_rate: float
    seed: int
    scheduler: str = CONFIG_SCHEDULER

    @property
    def name(self) -> str:
        """Directory name: readable and unique within the grid, e.g. ``AdamW_lr0.003_seed1``."""
        parts = [self.optimizer]
        if self.scheduler != CONFIG_SCHEDULER:
            parts.append(self.scheduler)
        parts += [f"lr{self.learning_rate:g}", f"seed{self.seed}"]
        return re.sub(r"[^A-Za-z0-9_.+-]", "-", "_".join(parts))

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def setting_label(optimizer: str, scheduler: str) -> str:
    """``AdamW``, or ``AdamW + OneCycleLR`` when the cell overrides the config's scheduler."""
    return optimizer if scheduler == CONFIG_SCHEDULER else f"{optimizer} + {scheduler}"


def parse_names(text: Optional[str], option: str) -> List[str]:
    """``"Momentum, AdamW"`` -> ``["Momentum", "AdamW"]``; empty items and repeats are errors."""
    names = [item.strip() for item in (text or "").split(",")]
    if not names or any(not n for n in names):
        raise UserError(f"{option}: expected a comma-separated list of names, got '{text}'")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UserError(f"{option}: '{repeated[0]}' is listed twice")
    return names


def parse_learning_rates(text: str) -> List[float]:
    """``"0.1,0.03,1e-3"`` -> floats; each must be a finite number > 0, none repeated."""
    rates = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise UserError(f"--lr: '{item.strip()}' is not a number (expected e.g. --lr 0.1,0.03,0.01)") from None
        if not math.isfinite(value) or value <= 0:
            raise UserError(f"--lr: learning rates must be finite and > 0, got {item.strip()}")
        if value in rates:
            raise UserError(f"--lr: {value:g} is listed twice")
        rates.append(value)
    return rates


def expand_grid(optimizers: Sequence[str], learning_rates: Sequence[float], seeds: Sequence[int],
                schedulers: Sequence[str] = (CONFIG_SCHEDULER,)) -> List[Cell]:
    """Every combination, ordered optimizer -> scheduler -> learning rate -> seed.

    Seeds vary fastest so that with ``--jobs`` the seeds of one setting finish close together.
    """
    return [Cell(opt, lr, seed, sched)
            for opt in optimizers for sched in schedulers for lr in learning_rates for seed in seeds]


def optimizer_section(base: Mapping[str, Any], name: str, learning_rate: float) -> Dict[str, Any]:
    """The cell's whole ``Optimizer`` section.

    Same optimizer as the base config: the base section with only the learning rate replaced (the
    user's tuned extras stay). Another optimizer: its name, the learning rate, the keys every
    optimizer shares (:data:`SHARED_OPTIMIZER_KEYS`) from the base section, and
    :data:`OPTIMIZER_EXTRAS`; everything else of the base optimizer is dropped. Either way
    :data:`SLOW_WEIGHT_KEYS` reach only optimizers that have slow weights.
    """
    base = dict(base or {})
    if base.get("name") == name:
        section = dict(base)
    else:
        section = {"name": name}
        section.update({k: base[k] for k in SHARED_OPTIMIZER_KEYS if k in base})
        section.update(OPTIMIZER_EXTRAS.get(name, {}))
    has_slow_weights = get_spec(name, "--optimizers")[0].contains_lookahead
    for key in SLOW_WEIGHT_KEYS:
        if has_slow_weights and key in base:
            section[key] = base[key]
        else:
            section.pop(key, None)
    section["learning_rate"] = learning_rate
    return section


def scheduler_override(base_config: Mapping[str, Any], scheduler: str) -> Optional[str]:
    """The ``-o`` that selects ``scheduler``, or ``None`` to keep the base config's schedule.

    The base config's own scheduler (same name) keeps all its keys; ``none`` removes the section
    (constant learning rate); any other name gets a fresh section with that scheduler's defaults and
    the base section's :data:`SHARED_SCHEDULER_KEYS`.
    """
    if scheduler == CONFIG_SCHEDULER:
        return None
    if scheduler == NO_SCHEDULER:
        return "LRScheduler=null"
    base = base_config.get("LRScheduler")
    base = base if isinstance(base, Mapping) else {}
    if base.get("name") == scheduler:
        return None
    section = {"name": scheduler}
    section.update({k: base[k] for k in SHARED_SCHEDULER_KEYS if k in base})
    return "LRScheduler=" + _flow_yaml(section)


def cell_overrides(cell: Cell, base_config: Mapping[str, Any], epochs: Optional[int] = None) -> List[str]:
    """The ``-o`` overrides that turn ``base_config`` (user overrides already applied) into ``cell``.

    ``Global.output_dir`` is not among them: where a cell runs is the runner's business
    (:func:`output_dir_override`), what it runs is the cell's.
    """
    optimizer = optimizer_section(base_config.get("Optimizer") or {}, cell.optimizer, cell.learning_rate)
    overrides = ["Optimizer=" + _flow_yaml(optimizer), f"Global.seed={cell.seed}"]
    if epochs is not None:
        overrides.append(f"Global.epochs={epochs}")
    schedule = scheduler_override(base_config, cell.scheduler)
    if schedule is not None:
        overrides.append(schedule)
    return overrides


def output_dir_override(output_dir: str) -> str:
    return "Global.output_dir=" + _flow_yaml(output_dir)


def base_seed(base_config: Mapping[str, Any]) -> int:
    """The first seed of the sweep: the base config's ``Global.seed`` (0 if unset)."""
    seed = (base_config.get("Global") or {}).get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("Global.seed", f"expected an integer, got {seed!r}")
    return seed


def base_learning_rate(base_config: Mapping[str, Any]) -> float:
    """``Optimizer.learning_rate`` of the base config, used when ``--lr`` is not given."""
    value = (base_config.get("Optimizer") or {}).get("learning_rate")
    if value is None:
        raise UserError("--lr is required: the base config has no Optimizer.learning_rate")
    return parse_learning_rates(str(value))[0]


def _flow_yaml(value: Any) -> str:
    # One-line YAML that `-o` parses back to exactly `value` (yaml.safe_load in the trainer).
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 16).strip().removesuffix("\n...")
