"""Reading one finished (or crashed) training run from its output directory.

The trainer writes, into ``Global.output_dir``:

* ``metrics.json`` -- at least ``metric_name``, ``best_metric``, ``final_metric``, ``epochs``,
  ``global_step``, ``train_seconds``, ``samples_per_second``, ``status`` (``finished`` or
  ``diverged``) and ``nonfinite_steps``; written last, so its presence means the run ended;
* ``train_log.csv`` -- ``step,epoch,loss,lr,momentum``, one row per log interval;
* ``eval_log.csv`` -- ``epoch,step,loss,metric``, one row per evaluation.

A directory without ``metrics.json`` is a run that crashed or was interrupted: status ``failed``.
"""
import csv
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping

from ..training.records import DIVERGED, EVAL_LOG, FINISHED, METRICS_FILE, TRAIN_LOG

FAILED = "failed"  # no metrics.json: the run crashed or was interrupted
ENDED = (FINISHED, DIVERGED)  # statuses of a cell that is complete and is skipped on a re-run


@dataclass
class RunOutcome:
    """What one run left behind. Missing numbers are ``nan``; missing logs are empty column dicts."""

    status: str
    metrics: Dict[str, Any] = field(default_factory=dict)
    train_log: Dict[str, List[float]] = field(default_factory=dict)
    eval_log: Dict[str, List[float]] = field(default_factory=dict)

    def number(self, key: str) -> float:
        """``metrics[key]`` as a float, ``nan`` when absent or not a number."""
        value = self.metrics.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return math.nan
        return float(value)


def run_status(run_dir: str) -> str:
    """``finished`` / ``diverged`` from metrics.json, else ``failed`` (crashed, interrupted, unreadable)."""
    metrics = _read_metrics(run_dir)
    status = metrics.get("status") if metrics is not None else None
    return status if status in ENDED else FAILED


def read_run(run_dir: str) -> RunOutcome:
    """Everything the report needs from ``run_dir``; never raises for a broken or missing run."""
    metrics = _read_metrics(run_dir)
    if metrics is None:
        return RunOutcome(FAILED)
    status = metrics.get("status")
    return RunOutcome(status if status in ENDED else FAILED, metrics,
                     read_columns(os.path.join(run_dir, TRAIN_LOG)),
                     read_columns(os.path.join(run_dir, EVAL_LOG)))


def read_columns(path: str) -> Dict[str, List[float]]:
    """A numeric CSV as ``{column: [values]}``; empty or non-numeric cells become ``nan``."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    return {name: [_to_float(row.get(name)) for row in rows] for name in rows[0]}


def steps_to_target(eval_log: Mapping[str, List[float]], target: float) -> float:
    """Global step of the first evaluation whose metric is ``>= target`` (``nan`` if never)."""
    for step, metric in zip(eval_log.get("step", []), eval_log.get("metric", [])):
        if metric >= target:
            return step
    return math.nan


def _read_metrics(run_dir: str):
    path = os.path.join(run_dir, METRICS_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        # Missing, or cut short by a kill: a failed run, to be rerun; not a crash of compare.
        return None
    return data if isinstance(data, dict) else None


def _to_float(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
