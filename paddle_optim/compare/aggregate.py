"""From individual runs to the comparison: per-setting statistics, best settings, lr sensitivity.

Definitions (the report states them too):

* **setting**: one optimizer x scheduler x learning rate, over all its seeds;
* **final / best metric**: ``final_metric`` / ``best_metric`` of ``metrics.json``; mean and sample
  standard deviation over the seeds whose run ended normally (``finished``). Diverged and crashed
  runs are counted as failures instead of being averaged in;
* **steps to target**: the global step of the first evaluation whose metric reaches the target;
  **seconds to target**: ``train_seconds x step / global_step`` of that run (training time is
  logged per run, not per evaluation). Means are over the seeds that reached the target;
* **best setting** of an optimizer: the highest mean final metric among its settings without
  failures (among all settings if every one had a failure);
* **lr sensitivity**: the contiguous range of grid learning rates around the best one whose mean
  final metric is within one point (:data:`POINT`) of the best and that had no failure, reported as
  its width in decades, ``log10(high / low)``: wider is more forgiving. The grid's own spacing
  bounds it (three rates a factor 3 apart: at most ~0.95 decades).

Metrics are taken as higher-is-better (accuracy), on a 0-1 scale.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .grid import Cell
from .runs import DIVERGED, FAILED, FINISHED, RunOutcome, steps_to_target

POINT = 0.01  # "one point" of a 0-1 metric: one percentage point of accuracy
DEFAULT_TARGET_FRACTION = 0.98  # default target: 98% of the best metric any run of the grid reached


@dataclass
class CellResult:
    """One cell's outcome: one row of ``results.csv``."""

    cell: Cell
    run_dir: str
    record: RunOutcome
    target: float

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def steps_to_target(self) -> float:
        if self.status != FINISHED:
            return math.nan
        return steps_to_target(self.record.eval_log, self.target)

    @property
    def seconds_to_target(self) -> float:
        total_steps = self.record.number("global_step")
        if not total_steps > 0:
            return math.nan
        return self.record.number("train_seconds") * self.steps_to_target / total_steps

    def row(self) -> Dict[str, object]:
        """The flat record written to results.csv / results.json."""
        number = self.record.number
        return {
            "optimizer": self.cell.optimizer, "scheduler": self.cell.scheduler,
            "learning_rate": self.cell.learning_rate, "seed": self.cell.seed, "status": self.status,
            "metric_name": self.record.metrics.get("metric_name", ""),
            "final_metric": number("final_metric"), "best_metric": number("best_metric"),
            "steps_to_target": self.steps_to_target, "seconds_to_target": self.seconds_to_target,
            "epochs": number("epochs"), "global_step": number("global_step"),
            "train_seconds": number("train_seconds"), "samples_per_second": number("samples_per_second"),
            "nonfinite_steps": number("nonfinite_steps"), "run_dir": self.run_dir,
        }


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (0 for a single value) of ``count`` values; nan if none."""

    mean: float
    std: float
    count: int

    @classmethod
    def of(cls, values: Iterable[float]) -> "Stat":
        xs = [v for v in values if math.isfinite(v)]
        if not xs:
            return cls(math.nan, math.nan, 0)
        mean = sum(xs) / len(xs)
        var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
        return cls(mean, math.sqrt(var), len(xs))


@dataclass
class Setting:
    """One optimizer x scheduler x learning rate with all its seeds."""

    optimizer: str
    scheduler: str
    learning_rate: float
    runs: List[CellResult] = field(default_factory=list)

    def finished(self) -> List[CellResult]:
        return [r for r in self.runs if r.status == FINISHED]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.runs)

    @property
    def failures(self) -> int:
        """Diverged plus crashed runs."""
        return self.count(DIVERGED) + self.count(FAILED)

    @property
    def final(self) -> Stat:
        return Stat.of(r.record.number("final_metric") for r in self.finished())

    @property
    def best(self) -> Stat:
        return Stat.of(r.record.number("best_metric") for r in self.finished())

    @property
    def steps_to_target(self) -> Stat:
        return Stat.of(r.steps_to_target for r in self.finished())

    @property
    def seconds_to_target(self) -> Stat:
        return Stat.of(r.seconds_to_target for r in self.finished())

    @property
    def nonfinite_steps(self) -> int:
        return int(sum(r.record.number("nonfinite_steps") for r in self.runs
                       if math.isfinite(r.record.number("nonfinite_steps"))))


@dataclass(frozen=True)
class Sensitivity:
    """Learning rates within one point of an optimizer's best: ``low``..``high``, ``count`` of ``total``."""

    low: float
    high: float
    count: int
    total: int

    @property
    def decades(self) -> float:
        return math.log10(self.high / self.low)


def default_target(records: Iterable[RunOutcome]) -> float:
    """:data:`DEFAULT_TARGET_FRACTION` of the highest ``best_metric`` of any finished run (nan if none)."""
    best = [r.number("best_metric") for r in records if r.status == FINISHED]
    best = [b for b in best if math.isfinite(b)]
    return DEFAULT_TARGET_FRACTION * max(best) if best else math.nan


def group_settings(results: Sequence[CellResult]) -> List[Setting]:
    """Runs grouped by optimizer x scheduler x learning rate, in grid order."""
    settings: Dict[Tuple[str, str, float], Setting] = {}
    for result in results:
        cell = result.cell
        key = (cell.optimizer, cell.scheduler, cell.learning_rate)
        settings.setdefault(key, Setting(*key)).runs.append(result)
    return list(settings.values())


def by_optimizer(settings: Sequence[Setting]) -> Dict[Tuple[str, str], List[Setting]]:
    """Settings of each optimizer x scheduler, sorted by learning rate."""
    groups: Dict[Tuple[str, str], List[Setting]] = {}
    for s in settings:
        groups.setdefault((s.optimizer, s.scheduler), []).append(s)
    return {key: sorted(group, key=lambda s: s.learning_rate) for key, group in groups.items()}


def best_setting(group: Sequence[Setting]) -> Optional[Setting]:
    """Highest mean final metric, preferring settings without failures; ``None`` if nothing finished."""
    scored = [s for s in group if math.isfinite(s.final.mean)]
    clean = [s for s in scored if s.failures == 0]
    candidates = clean or scored
    return max(candidates, key=lambda s: s.final.mean) if candidates else None


def lr_sensitivity(group: Sequence[Setting]) -> Optional[Sensitivity]:
    """The contiguous lr range around the best setting that stays within :data:`POINT` of it."""
    best = best_setting(group)
    if best is None:
        return None
    ordered = sorted(group, key=lambda s: s.learning_rate)

    def close(s: Setting) -> bool:
        return s.failures == 0 and s.final.mean >= best.final.mean - POINT

    i = j = ordered.index(best)
    while i > 0 and close(ordered[i - 1]):
        i -= 1
    while j < len(ordered) - 1 and close(ordered[j + 1]):
        j += 1
    return Sensitivity(ordered[i].learning_rate, ordered[j].learning_rate, j - i + 1, len(ordered))


def best_per_optimizer(settings: Sequence[Setting]) -> Dict[Tuple[str, str], Tuple[Optional[Setting], Optional[Sensitivity]]]:
    """``{(optimizer, scheduler): (best setting, lr sensitivity)}``, both ``None`` if nothing finished."""
    return {key: (best_setting(group), lr_sensitivity(group)) for key, group in by_optimizer(settings).items()}
