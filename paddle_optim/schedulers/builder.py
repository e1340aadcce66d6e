"""From resolved config to the learning-rate scheduler and the momentum schedule of one training run.

Conventions (also in the README):

* Every schedule steps once per optimizer step.
* ``unit: epoch`` (default) or ``unit: step`` says what the lengths and positions of a section count.
  Epoch counts become optimizer steps with :func:`~paddle_optim.schedulers.units.steps_per_epoch`:
  a period/count (``step_size``, ``T_0``, ``total_steps`` of OneCycleLR, ...) of E epochs is E·spe steps;
  a length whose end value is reached (``T_max``, ``decay_steps``, ``total_steps`` of LinearLR) of E
  epochs is E·spe − 1 steps, so the end value is applied on the last step of epoch E; positions
  (``milestones``, ``boundaries``) are on the training clock, so a warmup does not move them.
* ``warmup`` wraps the schedule in ``paddle.optimizer.lr.LinearWarmup`` and ``hold`` in
  :class:`~paddle_optim.schedulers.adapters.Hold` (the peak, constant, after the warmup): the schedule
  starts after both and ``T_max``/``decay_steps``/``total_steps``, when omitted, cover the rest of the run;
  positions stay on the training clock and may not fall inside warmup + hold.
* Per-call decays (``ExponentialDecay``, ``NaturalExpDecay``, ``InverseTimeDecay``, ``LambdaDecay``,
  ``MultiplicativeDecay``) advance once per epoch with ``unit: epoch``, once per step with ``unit: step``.
"""
import contextlib
import copy
import math
import warnings
from typing import Any, Dict, Mapping, Optional, Union

import paddle.optimizer.lr as paddle_lr

from ..config.schema import join_key
from ..errors import ConfigError, UserError
from .adapters import CosineAnnealingWarmRestarts, Hold, PerEpoch, PlateauWarmup, feed_metric
from ..config.import_path import load_object
from .catalog import CALLABLE_ARGS, PEAK_DEFAULTS, RUN_LENGTH_DEFAULTS, SCHEDULERS, SPAN_THE_RUN
from .momentum import MOMENTUM_SECTION, MomentumSchedule, momentum_slot, set_momentum, static_momentum
from .section import native_args, phase_length, validate_lr_scheduler_section, validate_momentum_section
from .units import end_steps, to_steps

LR_SECTION = "LRScheduler"
#: Our subclasses that replace a native class only to fix its checkpoint.
_RESUMABLE = {"CosineAnnealingWarmRestarts": CosineAnnealingWarmRestarts}
#: Starting point of a warmup without start_lr, as a fraction of the peak (advice: 1/10 to 1/100, never 0).
DEFAULT_WARMUP_START = 0.01


def _resolved(section: Optional[Mapping[str, Any]], validate, path: str) -> Optional[Dict[str, Any]]:
    """The public builders accept a raw section too (library users) and validate it; the trainer's
    :func:`build_schedule` takes resolved sections and does not validate again."""
    if section is None:
        return None
    resolved, errors = validate(section, path)
    if errors:
        raise UserError.combine(errors)
    return resolved


def phase_steps(section: Optional[Mapping[str, Any]], phase: str, steps_per_epoch: int, total_steps: int) -> int:
    """Optimizer steps of the ``warmup`` or ``hold`` of a resolved LRScheduler section (0 without one);
    a ``fraction`` is of the whole run's ``total_steps``."""
    given = (section or {}).get(phase)
    if given is None:
        return 0
    length, unit = phase_length(given)
    steps = int(round(length * total_steps)) if unit == "fraction" else to_steps(length, unit, steps_per_epoch)
    return max(1, steps)


def lead_in(section: Optional[Mapping[str, Any]]) -> str:
    """The phases before the schedule, for messages: ``warmup``, ``hold``, ``warmup and hold`` or ``""``."""
    return " and ".join(p for p in ("warmup", "hold") if (section or {}).get(p) is not None)


def native_arguments(section: Mapping[str, Any], steps_per_epoch: int, total_steps: int, start: int,
                     learning_rate: float) -> Dict[str, Any]:
    """The native constructor arguments: times in optimizer steps, callables imported, peak injected.

    ``start`` is the optimizer step the schedule starts on (after warmup and hold)."""
    spec = SCHEDULERS[section["name"]]
    unit = section["unit"]
    remaining = total_steps - start
    before = lead_in(section)
    kwargs: Dict[str, Any] = {}
    for arg, value in native_args(section).items():
        key = join_key(LR_SECTION, arg)
        kind = spec.time_kind(arg)
        if kind == "position":
            value = [to_steps(v, unit, steps_per_epoch) - start for v in value]
            if value[0] < 1:
                raise ConfigError(key, f"the first one is at step {value[0] + start}, inside the {before} "
                                       f"({start} steps); move it after the {before}")
        elif value is None and arg in RUN_LENGTH_DEFAULTS:
            value = remaining if kind == "period" else remaining - 1
            if value < 1:
                raise ConfigError(key, f"the run has only {remaining} optimizer step(s){f' after {before}' if before else ''}"
                                       "; train longer")
        elif kind is not None and value is not None:
            given = value
            value = (end_steps if kind == "end" else to_steps)(value, unit, steps_per_epoch)
            if value < 1:
                raise ConfigError(key, f"{given:g} {unit}(s) is under one optimizer step ({steps_per_epoch} per "
                                       "epoch); make it longer")
        if spec.name in SPAN_THE_RUN.get(arg, ()) and value is not None and value < remaining:
            raise ConfigError(key, f"{value} optimizer steps is shorter than the {remaining} steps it must cover "
                                   f"({steps_per_epoch} per epoch); {spec.name} cannot step past its end, omit {arg}")
        if arg in CALLABLE_ARGS and value is not None:
            value = load_object(value, key)
        if value is None and spec.name in PEAK_DEFAULTS.get(arg, ()):  # LinearWarmup as the whole schedule
            value = learning_rate
        kwargs[arg] = value
    if spec.peak_arg is not None:
        kwargs[spec.peak_arg] = learning_rate
    return kwargs


def build_lr_scheduler(section: Optional[Mapping[str, Any]], learning_rate: float, steps_per_epoch: int,
                       epochs: int) -> Union[float, paddle_lr.LRScheduler]:
    """Build the learning rate of an ``LRScheduler`` config section for a run.

    Args:
        section (dict | None): the ``LRScheduler`` section, raw or resolved; ``None`` = constant rate.
        learning_rate (float): the peak learning rate (``Optimizer.learning_rate``).
        steps_per_epoch (int): optimizer steps per epoch (:func:`~paddle_optim.schedulers.units.steps_per_epoch`).
        epochs (int): epochs of the run.

    Returns:
        ``learning_rate`` itself (no schedule) or a ``paddle.optimizer.lr.LRScheduler`` to pass as the
        optimizer's ``learning_rate`` and to ``step()`` once after every optimizer step.
    """
    return _lr_scheduler(_resolved(section, validate_lr_scheduler_section, LR_SECTION), learning_rate,
                         steps_per_epoch, epochs)


def _lr_scheduler(section: Optional[Mapping[str, Any]], learning_rate: float, steps_per_epoch: int,
                  epochs: int) -> Union[float, paddle_lr.LRScheduler]:
    if section is None:
        return float(learning_rate)
    total = steps_per_epoch * epochs
    warmup = phase_steps(section, "warmup", steps_per_epoch, total)
    hold = phase_steps(section, "hold", steps_per_epoch, total)
    if warmup and total - warmup < 2:
        raise ConfigError(join_key(LR_SECTION, "warmup"), f"lasts {warmup} of the run's {total} optimizer steps; "
                                                          "leave at least 2 steps for the schedule")
    if hold and total - warmup - hold < 2:
        raise ConfigError(join_key(LR_SECTION, "hold"),
                          f"lasts {hold} optimizer steps{f' after a {warmup}-step warmup' if warmup else ''}, leaving "
                          f"{max(total - warmup - hold, 0)} of the run's {total} for the schedule; leave at least 2")
    if section["name"] is None:
        if hold:
            raise ConfigError(join_key(LR_SECTION, "hold"), "keeps the peak before a schedule, but there is no "
                              "LRScheduler.name, so the rate is constant anyway; add a decay (e.g. name: "
                              "CosineAnnealingDecay) or remove hold")
        base: Union[float, paddle_lr.LRScheduler] = float(learning_rate)
        on_metrics = False
    else:
        spec = SCHEDULERS[section["name"]]
        cls = _RESUMABLE.get(spec.name, spec.cls)
        kwargs = native_arguments(section, steps_per_epoch, total, warmup + hold, float(learning_rate))
        try:
            base = cls(**kwargs)
        # Paddle's own argument checks (LinearWarmup and a few others use assert), reported at the section.
        except (ValueError, TypeError, AssertionError) as err:
            raise ConfigError(LR_SECTION, f"{spec.name}: {err}") from None
        on_metrics = isinstance(base, paddle_lr.ReduceOnPlateau)  # moves on evaluations, not on the clock
        if spec.per_call and section["unit"] == "epoch":
            base = PerEpoch(base, steps_per_epoch)
        if hold:
            # The hold is the peak, and the schedule takes over from it without a jump.
            if not math.isclose(float(base.last_lr), float(learning_rate), rel_tol=1e-9):
                raise ConfigError(join_key(LR_SECTION, "hold"),
                                  f"{spec.name} starts at {float(base.last_lr):g}, not at the peak "
                                  f"Optimizer.learning_rate {float(learning_rate):g}; hold keeps the peak before a "
                                  "schedule that decays from it (e.g. CosineAnnealingDecay, PolynomialDecay, "
                                  "MultiStepDecay): use one, or remove hold")
            base = Hold(base, hold)
    if not warmup:
        return base
    start_lr = section["warmup"]["start_lr"]
    start_lr = DEFAULT_WARMUP_START * float(learning_rate) if start_lr is None else start_lr
    # The warmup ends where the schedule starts, so the hand-over is continuous.
    end_lr = base if isinstance(base, float) else float(base.last_lr)
    if end_lr <= start_lr:
        raise ConfigError(join_key(LR_SECTION, "warmup.start_lr"),
                          f"{start_lr:g} must be below the learning rate {section['name'] or 'the run'} starts at "
                          f"({end_lr:g}); lower it, or drop the warmup if the schedule already ramps up")
    if on_metrics:
        return PlateauWarmup(base, warmup, start_lr)
    return paddle_lr.LinearWarmup(base, warmup, start_lr, end_lr)


def build_momentum_schedule(section: Optional[Mapping[str, Any]], lr_section: Optional[Mapping[str, Any]],
                            steps_per_epoch: int, epochs: int) -> Optional[MomentumSchedule]:
    """The :class:`MomentumSchedule` of a ``MomentumScheduler`` section (``None`` without one), raw or
    resolved; ``lr_section`` (the LRScheduler section) gives a OneCycle momentum its phases."""
    return _momentum_schedule(_resolved(section, validate_momentum_section, MOMENTUM_SECTION),
                              _resolved(lr_section, validate_lr_scheduler_section, LR_SECTION),
                              steps_per_epoch, epochs)


def _momentum_schedule(section: Optional[Mapping[str, Any]], lr_section: Optional[Mapping[str, Any]],
                       steps_per_epoch: int, epochs: int) -> Optional[MomentumSchedule]:
    if section is None:
        return None
    total = steps_per_epoch * epochs
    unit = section["unit"]
    name = section["name"]
    if name in ("Linear", "Cosine"):
        length = section["length"]
        steps = total - 1 if length is None else end_steps(length, unit, steps_per_epoch)
        return MomentumSchedule.linear(section["start"], section["end"], max(steps, 0),
                                       "cos" if name == "Cosine" else "linear")
    if name == "Step":
        return MomentumSchedule.step(section["start"], section["end"], to_steps(section["at"], unit, steps_per_epoch))
    # OneCycle: the same phases as an OneCycleLR learning rate, when that is the schedule.
    lr = lr_section or {}
    cycle = native_args(lr) if lr.get("name") == "OneCycleLR" else {}
    # OneCycleLR starts after warmup and hold (a hold before it is rejected unless divide_factor is 1).
    offset = phase_steps(lr, "warmup", steps_per_epoch, total) + phase_steps(lr, "hold", steps_per_epoch, total) \
        if cycle else 0
    length = cycle.get("total_steps")
    steps = total - offset if length is None else to_steps(length, lr["unit"], steps_per_epoch)
    pick = {key: section[key] if section[key] is not None else cycle.get(key, default)
            for key, default in (("phase_pct", 0.3), ("anneal_strategy", "cos"), ("three_phase", False))}
    return MomentumSchedule.one_cycle(section["max_momentum"], section["base_momentum"], steps, offset=offset, **pick)


class TrainingSchedule:
    """The learning rate and momentum of one run, stepped by the training loop.

    Use::

        schedule = build_schedule(config, steps_per_epoch)
        optimizer = build_optimizer(..., learning_rate=schedule.learning_rate)
        schedule.attach(optimizer)
        for each optimizer step: optimizer.step(); schedule.step()
        after each evaluation:  schedule.on_evaluation(metrics)
        checkpoint: schedule.state_dict() / schedule.set_state_dict(state)
    """

    def __init__(self, learning_rate: Union[float, paddle_lr.LRScheduler], momentum: Optional[MomentumSchedule],
                 metric: Optional[str] = None, constant_momentum: Optional[float] = None):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.constant_momentum = constant_momentum  # the optimizer's own, used without a momentum schedule
        self.metric = metric
        self.iteration = 0
        self._slot = None

    def attach(self, optimizer: Any) -> None:
        """Bind the momentum schedule to ``optimizer`` and apply its first value (no-op without one)."""
        if self.momentum is None:
            return
        self._slot = momentum_slot(optimizer)
        self._apply_momentum()

    @contextlib.contextmanager
    def detached(self):
        """Step freely inside (a preview of the whole run): the optimizer's momentum is not written, and
        the position and learning-rate state are put back afterwards."""
        state, slot = copy.deepcopy(self.state_dict()), self._slot
        self._slot = None
        try:
            yield self
        finally:
            self.set_state_dict(state)
            self._slot = slot

    def _apply_momentum(self) -> None:
        if self._slot is not None:
            set_momentum(*self._slot, self.momentum.value(self.iteration))

    def step(self) -> None:
        """Advance by one optimizer step (call after every ``optimizer.step()``)."""
        self.iteration += 1
        # ReduceOnPlateau alone moves only on evaluations.
        if isinstance(self.learning_rate, paddle_lr.LRScheduler) and \
                not isinstance(self.learning_rate, paddle_lr.ReduceOnPlateau):
            self.learning_rate.step()
        self._apply_momentum()

    def on_evaluation(self, metrics: Mapping[str, float]) -> None:
        """Drive ReduceOnPlateau with the configured metric of an evaluation (no-op for other schedules)."""
        if self.metric is None:
            return
        if self.metric not in metrics:
            raise UserError(f"{LR_SECTION}.metric: '{self.metric}' is not an evaluation metric; "
                            f"available: {', '.join(sorted(metrics))}")
        feed_metric(self.learning_rate, float(metrics[self.metric]))

    def current_lr(self) -> float:
        """The learning rate the next optimizer step uses."""
        if isinstance(self.learning_rate, paddle_lr.LRScheduler):
            return float(self.learning_rate.last_lr)
        return float(self.learning_rate)

    def current_momentum(self) -> Optional[float]:
        """The momentum (or beta1) the next optimizer step uses: the schedule's, else the optimizer's
        constant one; ``None`` when the optimizer has none."""
        return self.constant_momentum if self.momentum is None else self.momentum.value(self.iteration)

    def state_dict(self) -> Dict[str, Any]:
        lr = self.learning_rate.state_dict() if isinstance(self.learning_rate, paddle_lr.LRScheduler) else None
        return {"iteration": self.iteration, "lr": lr}

    def set_state_dict(self, state: Mapping[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        if state["lr"] is not None:
            with warnings.catch_warnings():
                # LinearWarmup hands its nested scheduler's entry to the base class too, which then
                # warns about an "unused value"; the entry is used (restored by LinearWarmup itself).
                warnings.filterwarnings("ignore", message="There are some unused values in state_dict")
                self.learning_rate.set_state_dict(dict(state["lr"]))
        self._apply_momentum()


def _require(config: Mapping[str, Any], section: str, key: str) -> Any:
    value = (config.get(section) or {}).get(key)
    if value is None:
        raise ConfigError(f"{section}.{key}", "is required to build the schedule")
    return value


def build_schedule(config: Mapping[str, Any], steps_per_epoch: int, resolved: bool = False) -> TrainingSchedule:
    """The :class:`TrainingSchedule` of a config (``Optimizer.learning_rate``, ``Global.epochs``,
    ``LRScheduler``, ``MomentumScheduler``) for a run of ``steps_per_epoch`` optimizer steps per epoch.

    The two schedule sections are validated here unless ``resolved`` says they come from
    :func:`paddle_optim.sections.resolve_config`, which validated them already (the trainer's case).
    """
    epochs = int(_require(config, "Global", "epochs"))
    learning_rate = float(_require(config, "Optimizer", "learning_rate"))
    lr_section, momentum_section = config.get(LR_SECTION), config.get(MOMENTUM_SECTION)
    if not resolved:
        lr_section = _resolved(lr_section, validate_lr_scheduler_section, LR_SECTION)
        momentum_section = _resolved(momentum_section, validate_momentum_section, MOMENTUM_SECTION)
    lr = _lr_scheduler(lr_section, learning_rate, steps_per_epoch, epochs)
    momentum = _momentum_schedule(momentum_section, lr_section, steps_per_epoch, epochs)
    return TrainingSchedule(lr, momentum, (lr_section or {}).get("metric"),
                            static_momentum(config.get("Optimizer") or {}))
