"""What paddle-optim knows about each ``paddle.optimizer.lr`` class, derived from Paddle itself.

The accepted keys of every scheduler are read from its own constructor signature, so a Paddle
release that adds an argument is picked up without copying argument lists. The few facts a signature
cannot tell are tabled here, per argument name:

* which arguments are *times* and how an epoch count converts to optimizer steps
  (see :meth:`SchedulerSpec.time_kind`),
* which argument receives ``Optimizer.learning_rate`` (the peak learning rate lives only there),
* which schedulers decay "once per ``step()`` call" (``gamma`` per epoch) and so advance once per
  epoch when ``unit: epoch``,
* value checks (``gamma > 0``, milestones increasing, ...).
"""
import inspect
from dataclasses import dataclass
from typing import Any, Dict, Optional

import paddle.optimizer.lr as paddle_lr

from ..config.import_path import load_object
from ..config.ranges import COUNT, NON_NEGATIVE, OPEN_UNIT, POSITIVE
from ..config.schema import REQUIRED, Field, Range
from ..errors import ConfigError

#: Times that are a *duration whose end value is applied on the last step*: E epochs -> E*spe - 1 steps,
#: so a 10-epoch cosine applies eta_min exactly on the last optimizer step of epoch 10.
END_TIMES = {"T_max": ("CosineAnnealingDecay",), "decay_steps": ("PolynomialDecay",),
             "total_steps": ("LinearLR",)}
#: Times that are a *count or period* of steps: E epochs -> E*spe steps.
PERIOD_TIMES = {"step_size": ("StepDecay",), "T_0": ("CosineAnnealingWarmRestarts",),
                "warmup_steps": ("NoamDecay", "LinearWarmup"), "total_steps": ("OneCycleLR",),
                "step_size_up": ("CyclicLR",), "step_size_down": ("CyclicLR",)}
#: Times that are *positions on the training clock* (absolute; a warmup does not move them).
POSITION_TIMES = {"milestones": ("MultiStepDecay",), "boundaries": ("PiecewiseDecay",)}
#: Lengths a scheduler cannot step past (OneCycleLR raises once stepped beyond total_steps).
SPAN_THE_RUN = {"total_steps": ("OneCycleLR",)}
#: Lengths that default to "the rest of the run after warmup" when omitted.
RUN_LENGTH_DEFAULTS = {"T_max", "decay_steps", "total_steps"}
#: Required arguments that default to Optimizer.learning_rate (LinearWarmup used as a whole schedule).
PEAK_DEFAULTS = {"end_lr": ("LinearWarmup",)}
#: Schedulers whose decay is "per step() call" (no length argument): with ``unit: epoch`` they advance
#: once per epoch (gamma per epoch); with ``unit: step`` once per optimizer step.
PER_CALL_DECAYS = ("ExponentialDecay", "NaturalExpDecay", "InverseTimeDecay", "LambdaDecay",
                   "MultiplicativeDecay")
#: Arguments that are Python callables in Paddle: given in YAML as an import path ``package.module:function``
#: (YAML cannot hold code, and nothing is ever eval'ed).
CALLABLE_ARGS = ("lr_lambda", "scale_fn")
#: Arguments of a native class the YAML never sets (Paddle bookkeeping).
HIDDEN_ARGS = ("self", "last_epoch", "verbose")
#: Where ``Optimizer.learning_rate`` goes, in order of preference (PiecewiseDecay has no such argument).
PEAK_ARGS = ("learning_rate", "max_learning_rate")


def _increasing(value: Any, key: str) -> None:
    if not value:
        raise ConfigError(key, "must list at least one value")
    if any(b <= a for a, b in zip(value, value[1:])):
        raise ConfigError(key, f"{value} must be strictly increasing")


def _import_path(value: Any, key: str) -> None:
    load_object(value, key)  # imports now, so that a bad path is a config error before training


_TIME = Field((float,), range=POSITIVE, help="a length in `unit`s")
_POSITIONS = Field((list,), check=lambda v, k: (_numbers(v, k, POSITIVE), _increasing(v, k)),
                   help="increasing positions in `unit`s")


def _numbers(value: Any, key: str, allowed: Range) -> None:
    for i, x in enumerate(value):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not allowed.contains(x):
            raise ConfigError(f"{key}[{i}]", f"{x!r} must be a number {allowed.describe()}")


#: Value checks by argument name; arguments not listed are typed by their Paddle default.
ARG_FIELDS: Dict[str, Field] = {
    **{name: _TIME for name in list(END_TIMES) + list(PERIOD_TIMES)},
    **{name: _POSITIONS for name in POSITION_TIMES},
    **{name: Field((float,), range=POSITIVE)
       for name in ("gamma", "base_learning_rate", "power", "start_factor", "divide_factor", "exp_gamma")},
    **{name: Field((float,), range=NON_NEGATIVE)
       for name in ("eta_min", "end_lr", "start_lr", "min_lr", "end_learning_rate", "threshold", "epsilon",
                    "end_factor")},
    **{name: Field((int,), range=NON_NEGATIVE) for name in ("patience", "cooldown")},
    **{name: Field((float,), range=OPEN_UNIT) for name in ("factor", "phase_pct")},
    "values": Field((list,), check=lambda v, k: _numbers(v, k, NON_NEGATIVE)),
    "T_mult": Field((int,), range=COUNT),
    "d_model": Field((int,), range=COUNT),
    **{name: Field((str,), check=_import_path, help="import path 'package.module:function'")
       for name in CALLABLE_ARGS},
}


@dataclass(frozen=True)
class SchedulerSpec:
    """One ``paddle.optimizer.lr`` class as the YAML sees it."""

    name: str
    cls: type
    peak_arg: Optional[str]          # receives Optimizer.learning_rate
    fields: Dict[str, Field]         # the YAML keys of the native arguments, with checks and defaults
    per_call: bool                   # decays per step() call (gamma per epoch with unit: epoch)

    def time_kind(self, arg: str) -> Optional[str]:
        """``"end"``, ``"period"``, ``"position"`` or ``None`` (not a time) for one argument."""
        for kind, table in (("end", END_TIMES), ("period", PERIOD_TIMES), ("position", POSITION_TIMES)):
            if self.name in table.get(arg, ()):
                return kind
        return None


def _field_from_default(default: Any) -> Field:
    if default is inspect.Parameter.empty:
        return Field((object,), default=REQUIRED)
    if default is None or isinstance(default, bool) or not isinstance(default, (int, float)):
        return Field((object,) if default is None else (type(default),), default=default)
    return Field((float,), default=default)  # a numeric default: any number (Field widens int to float)


def _spec(name: str, cls: type) -> SchedulerSpec:
    params = inspect.signature(cls.__init__).parameters
    peak = next((p for p in PEAK_ARGS if p in params), None)
    fields: Dict[str, Field] = {}
    for arg, param in params.items():
        if arg in HIDDEN_ARGS or arg == peak:
            continue
        base = _field_from_default(param.default)
        known = ARG_FIELDS.get(arg)
        if known is None:
            fields[arg] = base
            continue
        default = base.default
        if (arg in RUN_LENGTH_DEFAULTS or name in PEAK_DEFAULTS.get(arg, ())) and default is REQUIRED:
            default = None  # filled at build time: the rest of the run / Optimizer.learning_rate
        fields[arg] = Field(known.types, default=default, range=known.range, choices=known.choices,
                            help=known.help, check=known.check)
    return SchedulerSpec(name, cls, peak, fields, name in PER_CALL_DECAYS)


def _catalog() -> Dict[str, SchedulerSpec]:
    specs = {}
    for name in paddle_lr.__all__:
        cls = vars(paddle_lr)[name]
        # LRScheduler itself is the abstract base (its get_lr raises NotImplementedError).
        if cls is not paddle_lr.LRScheduler and issubclass(cls, paddle_lr.LRScheduler):
            specs[name] = _spec(name, cls)
    return specs


#: Every concrete scheduler of ``paddle.optimizer.lr`` by class name.
SCHEDULERS: Dict[str, SchedulerSpec] = _catalog()
