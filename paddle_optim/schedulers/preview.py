"""The whole learning-rate and momentum schedule of a configured run, before training.

The values come from :func:`~paddle_optim.schedulers.build_schedule` stepped exactly as the trainer
steps it, so they are the learning rate and momentum every optimizer step will use (``lr-plot``
writes them; the schedule lint reads them).
"""
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional

from .builder import TrainingSchedule, build_schedule


@dataclass(frozen=True)
class ScheduleRow:
    step: int                  # optimizer step, 1 = the first (as the trainer's train_log.csv and VisualDL count)
    epoch: int                 # epoch the step belongs to, 1 = the first
    lr: float                  # learning rate the step uses
    momentum: Optional[float]  # momentum / beta1 the step uses (None: the optimizer has none)


def schedule_table(config: Mapping[str, Any], steps_per_epoch: int,
                   schedule: Optional[TrainingSchedule] = None) -> List[ScheduleRow]:
    """Learning rate and momentum of every optimizer step of a resolved config's run.

    ``schedule`` is the run's schedule when it is already built (``train``): it is stepped through the
    run and then put back where it was, without touching the optimizer it is attached to.
    """
    if schedule is None:
        schedule = build_schedule(config, steps_per_epoch, resolved=True)
    with schedule.detached():
        rows = []
        for index in range(steps_per_epoch * int(config["Global"]["epochs"])):
            rows.append(ScheduleRow(index + 1, index // steps_per_epoch + 1, schedule.current_lr(),
                                    schedule.current_momentum()))
            schedule.step()
    return rows
