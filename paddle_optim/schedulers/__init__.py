"""Schedules: every ``paddle.optimizer.lr`` class from YAML, units, warmup, hold, momentum schedules, resume.

Modules:
    units      lengths in epochs <-> optimizer steps
    catalog    the scheduler classes and their arguments, read from Paddle's signatures
    section    validation of the ``LRScheduler`` and ``MomentumScheduler`` config sections
    adapters   per-epoch stepping, the hold phase, a resumable CosineAnnealingWarmRestarts, warmup before ReduceOnPlateau
    momentum   momentum/beta1 schedules and where an optimizer keeps its momentum
    builder    ``build_lr_scheduler``, ``build_schedule`` -> ``TrainingSchedule``
    preview    the ``lr-plot`` command (PNG + CSV of the whole schedule)
"""
from .builder import TrainingSchedule, build_lr_scheduler, build_momentum_schedule, build_schedule
from .momentum import MomentumSchedule
from .section import validate_lr_scheduler_section, validate_momentum_section

__all__ = ["MomentumSchedule", "TrainingSchedule", "build_lr_scheduler", "build_momentum_schedule",
           "build_schedule", "validate_lr_scheduler_section", "validate_momentum_section"]
