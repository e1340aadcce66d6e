"""Schedule lint: warnings about the classic schedule mistakes of a resolved config, from tuning practice.

Each warning says what to change. They are advice, never errors: what cannot run is rejected by
validation (:mod:`paddle_optim.sections`) or by building the schedule. ``check`` and ``train``
print the same warnings.
"""
from typing import Any, Dict, List, Mapping, Optional

from ..config.metrics import IMPROVES
from .builder import LR_SECTION, MOMENTUM_SECTION, TrainingSchedule, lead_in, native_arguments, phase_steps
from .catalog import SCHEDULERS, SPAN_THE_RUN
from .momentum import static_momentum
from .preview import ScheduleRow, schedule_table
from .section import native_args

#: Thresholds of the warnings (from the tuning advice in the README's schedule section).
MAX_MOMENTUM = 0.99
MAX_WARMUP_FRACTION = 0.2
MIN_DECAY_FRACTION = 0.1         # after warmup + hold (WSD decays over the last 10-20%)
MIN_STEP_SIZE_FRACTION = 0.25
STEP_GAMMA = (0.1, 0.5)          # StepDecay / MultiStepDecay
EPOCH_GAMMA = (0.98, 0.995)      # ExponentialDecay, per epoch
NEAR_ZERO = 1e-3                 # of the peak learning rate ...
NEAR_ZERO_BEFORE = 0.9           # ... reached before this fraction of training


class ScheduleFacts:
    """The numbers every warning needs: steps, warmup, hold, peak learning rate, the schedule's values."""

    def __init__(self, config: Mapping[str, Any], steps_per_epoch: int, rows: List[ScheduleRow]):
        self.spe = steps_per_epoch
        self.total = steps_per_epoch * int(config["Global"]["epochs"])
        self.section: Dict[str, Any] = config.get(LR_SECTION) or {}
        self.warmup = phase_steps(self.section, "warmup", steps_per_epoch, self.total)
        self.hold = phase_steps(self.section, "hold", steps_per_epoch, self.total)
        self.start = self.warmup + self.hold  # the schedule's first step
        # "the run after warmup and hold" / "the run" in messages
        self.rest = f"rest of the run after {lead_in(self.section)}" if self.start else "run"
        self.peak = float(config["Optimizer"]["learning_rate"])
        self.rows = rows
        self.args: Dict[str, Any] = {}
        if self.section.get("name"):
            self.args = native_arguments(self.section, steps_per_epoch, self.total, self.start, self.peak)

    def epochs(self, steps: float) -> str:
        epochs = steps / self.spe
        number = f"{epochs:.0f}" if epochs.is_integer() else f"{epochs:.3g}"
        return f"{number} epochs ({int(steps)} steps)"


def _warmup(run: ScheduleFacts) -> List[str]:
    warmup = run.section.get("warmup")
    if warmup is None:
        return []
    out = []
    if warmup["start_lr"] == 0:
        out.append(f"{LR_SECTION}.warmup.start_lr: 0 makes the first step a no-op; start at 1/10 to 1/100 of "
                   f"Optimizer.learning_rate (e.g. {run.peak / 100:g}), or omit it for 1/100")
    if run.warmup > MAX_WARMUP_FRACTION * run.total:
        out.append(f"{LR_SECTION}.warmup: {run.epochs(run.warmup)} is {run.warmup / run.total:.0%} of training "
                   f"(over {MAX_WARMUP_FRACTION:.0%}); 5-10% is usually enough")
    if run.section.get("name") == "OneCycleLR":
        out.append(f"{LR_SECTION}.warmup: OneCycleLR already warms up (its first phase); remove LRScheduler.warmup")
    return out


def _hold(run: ScheduleFacts) -> List[str]:
    decay = run.total - run.start
    if not run.hold or decay >= MIN_DECAY_FRACTION * run.total:
        return []
    return [f"{LR_SECTION}.hold: {lead_in(run.section)} take {run.start / run.total:.0%} of training, leaving "
            f"{run.epochs(decay)} for {run.section['name']} (under {MIN_DECAY_FRACTION:.0%}); warmup-stable-decay "
            "decays over the last 10-20% of the run: shorten the hold"]


def _cosine(run: ScheduleFacts) -> List[str]:
    name, out = run.section.get("name"), []
    if name in ("CosineAnnealingDecay", "CosineAnnealingWarmRestarts") and run.args["eta_min"] == 0:
        out.append(f"{LR_SECTION}.eta_min: 0 wastes the last epochs at a learning rate of ~0; set it to 1e-3..1e-2 "
                   f"of Optimizer.learning_rate (e.g. {run.peak * 1e-3:g})")
    if name == "CosineAnnealingDecay":
        t_max, end = run.args["T_max"], run.total - run.start - 1  # eta_min should fall on the last step
        if t_max < end:
            out.append(f"{LR_SECTION}.T_max: the cosine reaches eta_min at the end of {run.epochs(t_max + 1)} but the run "
                       f"{f'after {lead_in(run.section)} ' if run.start else ''}lasts {run.epochs(end + 1)}; Paddle's "
                       "cosine then rises again. Omit T_max to span the rest of the run")
        elif t_max > end:
            out.append(f"{LR_SECTION}.T_max: {run.epochs(t_max)} is longer than the {run.rest} ({run.epochs(end + 1)}), so "
                       f"training stops at lr {run.rows[-1].lr:.3g} instead of eta_min; omit T_max to span it")
    return out


def _decays(run: ScheduleFacts) -> List[str]:
    name, out = run.section.get("name"), []
    unit_gamma = run.args.get("gamma")
    if name == "StepDecay":
        step_size = run.args["step_size"]
        if step_size < MIN_STEP_SIZE_FRACTION * run.total:
            out.append(f"{LR_SECTION}.step_size: {run.epochs(step_size)} is under 1/4 of the run "
                       f"({run.epochs(run.total)}), so the rate drops {(run.total - run.start - 1) // step_size} "
                       f"times; use 1/3 to 1/2 of the run")
    if name in ("StepDecay", "MultiStepDecay") and not STEP_GAMMA[0] <= unit_gamma <= STEP_GAMMA[1]:
        out.append(f"{LR_SECTION}.gamma: {unit_gamma:g} is outside the usual {STEP_GAMMA[0]}-{STEP_GAMMA[1]} "
                   f"for {name} ({'the rate grows' if unit_gamma >= 1 else 'each drop is very steep'}); "
                   f"use {STEP_GAMMA[0]}-{STEP_GAMMA[1]} (0.1 is the classic x10 drop)")
    if name == "ExponentialDecay":
        per_epoch = unit_gamma if run.section["unit"] == "epoch" else unit_gamma ** run.spe
        if not EPOCH_GAMMA[0] <= per_epoch <= EPOCH_GAMMA[1]:
            out.append(f"{LR_SECTION}.gamma: {per_epoch:.4g} per epoch is outside the usual "
                       f"{EPOCH_GAMMA[0]}-{EPOCH_GAMMA[1]}" + ("" if run.section["unit"] == "epoch" else
                                                              " (with unit: step, gamma applies every step)") +
                       f"; use gamma {EPOCH_GAMMA[0]}-{EPOCH_GAMMA[1]} with unit: epoch")
    for key in ("milestones", "boundaries"):
        late = [p + run.start for p in run.args.get(key, ()) if p + run.start >= run.total]
        if late:
            out.append(f"{LR_SECTION}.{key}: {', '.join(run.epochs(p) for p in late)} at or beyond the end of "
                       f"training ({run.epochs(run.total)}) never take effect; move them inside the run")
    if name == "PiecewiseDecay" and run.args["values"][0] != run.peak:
        out.append(f"{LR_SECTION}.values: starts at {run.args['values'][0]:g}, not at "
                   f"Optimizer.learning_rate {run.peak:g}; PiecewiseDecay uses its values as given")
    return out


def _near_zero(run: ScheduleFacts) -> List[str]:
    floor = NEAR_ZERO * run.peak
    first = next((r for r in run.rows[run.start:] if r.lr <= floor), None)
    if first is None or first.step > NEAR_ZERO_BEFORE * run.total:
        return []
    return [f"{LR_SECTION}: the learning rate falls below {NEAR_ZERO:.1%} of its peak in epoch {first.epoch} of "
            f"{run.total // run.spe} (after {(first.step - 1) / run.total:.0%} of training), so the rest barely trains; decay "
            "later or less (step_size, milestones, gamma, T_max, eta_min) or train fewer epochs"]


def _momentum(config: Mapping[str, Any]) -> List[str]:
    section = config.get(MOMENTUM_SECTION)
    values = {"Optimizer momentum/beta1": static_momentum(config.get("Optimizer") or {})} if section is None else \
        {f"{MOMENTUM_SECTION}.{k}": section.get(k) for k in ("start", "end", "max_momentum", "base_momentum")}
    return [f"{key}: {value:g} is above {MAX_MOMENTUM}, which overshoots; use 0.8-0.99 (e.g. 0.9, or 0.95 late)"
            for key, value in values.items() if value is not None and value > MAX_MOMENTUM]


def _too_long(run: ScheduleFacts) -> List[str]:
    """A given length the run never reaches: usually a step count written with the default unit: epoch."""
    if not run.section.get("name"):
        return []
    spec = SCHEDULERS[run.section["name"]]
    remaining = run.total - run.start
    out = []
    for arg, given in native_args(run.section).items():
        kind = spec.time_kind(arg)
        # T_max has its own warning; OneCycleLR's total_steps is checked by the builder.
        if given is None or arg == "T_max" or kind not in ("end", "period") or spec.name in SPAN_THE_RUN.get(arg, ()):
            continue
        steps = run.args[arg]
        if steps >= remaining:
            hint = (f"; lengths count epochs with unit: epoch (the default), so {given:g} means {given:g} epochs: "
                    "set unit: step for steps" if run.section["unit"] == "epoch" else "; shorten it")
            out.append(f"{LR_SECTION}.{arg}: {run.epochs(steps)} is not shorter than the {run.rest} "
                       f"({run.epochs(remaining)}), "
                       f"so it never completes{hint}")
    return out


def _plateau(run: ScheduleFacts) -> List[str]:
    """ReduceOnPlateau must watch its metric in the direction that metric improves."""
    if run.section.get("name") != "ReduceOnPlateau":
        return []
    metric, mode = run.section["metric"], run.args["mode"]
    if mode != IMPROVES[metric]:
        return [f"{LR_SECTION}.mode: '{mode}' with metric '{metric}' cuts the rate whenever {metric} stops "
                f"{'falling' if mode == 'min' else 'rising'}, i.e. while it improves; use mode: {IMPROVES[metric]}"]
    return []


def lint_config(config: Mapping[str, Any], steps_per_epoch: int,
                schedule: Optional[TrainingSchedule] = None) -> List[str]:
    """Warnings about the schedule of a resolved config, each with what to change.

    Building the schedule raises :class:`~paddle_optim.errors.ConfigError` for what cannot run with
    this many steps (e.g. a milestone inside the warmup, Paddle rejecting a scheduler argument).
    ``schedule``: the run's schedule when it is already built (see :func:`schedule_table`).
    """
    rows = schedule_table(config, steps_per_epoch, schedule)
    run = ScheduleFacts(config, steps_per_epoch, rows)
    return _momentum(config) + _warmup(run) + _hold(run) + _cosine(run) + _decays(run) + _too_long(run) + _plateau(run) + _near_zero(run)
