"""The comparison's PNG plots (matplotlib, Agg backend: no display needed).

* ``sensitivity.png`` -- mean final metric (± std over seeds) against the learning rate, one line per
  optimizer: the flatter and wider the top of a curve, the less the optimizer needs lr tuning;
* ``loss_curves.png`` -- training loss and evaluation metric against the step for each optimizer's
  best setting, mean over seeds with a ±std band (on the log loss axis, the band's floor is clipped
  at mean/10 where the std exceeds 90% of the mean);
* ``schedules.png`` -- the learning rate and momentum (or beta1) each best setting actually used, as
  logged by the trainer.
"""
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import aggregate
from .aggregate import Setting
from .grid import setting_label

SENSITIVITY_PNG, LOSS_PNG, SCHEDULES_PNG = "sensitivity.png", "loss_curves.png", "schedules.png"


def write_plots(out_dir: str, settings: Sequence[Setting], metric: str) -> List[str]:
    """Draw the three PNGs into ``out_dir``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = aggregate.by_optimizer(settings)
    best = {key: s for key, (s, _) in aggregate.best_per_optimizer(settings).items() if s is not None}
    paths = []
    for name, draw in ((SENSITIVITY_PNG, lambda axes: _sensitivity(axes, groups, metric)),
                       (LOSS_PNG, lambda axes: _curves(axes, best, metric)),
                       (SCHEDULES_PNG, lambda axes: _schedules(axes, best))):
        fig, axes = plt.subplots(1, 1 if name == SENSITIVITY_PNG else 2,
                                 figsize=(6.4 if name == SENSITIVITY_PNG else 11, 4.2), squeeze=False)
        draw(axes[0])
        fig.tight_layout()
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def _label(key: Tuple[str, str], setting: Optional[Setting] = None) -> str:
    text = setting_label(*key)
    return f"{text} (lr {setting.learning_rate:g})" if setting is not None else text


def _sensitivity(axes, groups: Dict[Tuple[str, str], List[Setting]], metric: str) -> None:
    ax = axes[0]
    for key, group in groups.items():
        lrs = [s.learning_rate for s in group]
        means = [s.final.mean for s in group]
        stds = [s.final.std if s.final.count else math.nan for s in group]
        ax.errorbar(lrs, means, yerr=stds, marker="o", capsize=3, label=_label(key))
        # Settings with a diverged or crashed seed are circled in red: their mean hides failures.
        failed = [(s.learning_rate, s.final.mean) for s in group if s.failures and math.isfinite(s.final.mean)]
        if failed:
            ax.scatter(*zip(*failed), s=140, facecolors="none", edgecolors="red", zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"final {metric} (mean ± std over seeds)")
    ax.set_title("lr sensitivity (red circle: a seed diverged or crashed)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def _curves(axes, best: Dict[Tuple[str, str], Setting], metric: str) -> None:
    for key, setting in best.items():
        finished = [r.record for r in setting.finished()]
        for ax, log, column in ((axes[0], "train_log", "loss"), (axes[1], "eval_log", "metric")):
            step, mean, std = _mean_curve([getattr(rec, log) for rec in finished], column)
            if step.size:
                ax.plot(step, mean, label=_label(key, setting))
                low = mean - std
                if column == "loss":  # a positive loss on a log axis: keep the band's floor visible
                    low = np.maximum(low, mean / 10)
                ax.fill_between(step, low, mean + std, alpha=0.25)
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel(f"evaluation {metric}")
    _log_scale_if_positive(axes[0])
    for ax in axes:
        _finish(ax)
    axes[0].set_title("best setting per optimizer, mean ± std over seeds", fontsize=10)


def _schedules(axes, best: Dict[Tuple[str, str], Setting]) -> None:
    for key, setting in best.items():
        finished = [r.record for r in setting.finished()]
        if not finished:
            continue
        log = finished[0].train_log  # every seed of a setting uses the same schedule
        for ax, column in ((axes[0], "lr"), (axes[1], "momentum")):
            values = np.asarray(log.get(column, []), dtype=float)
            if values.size and np.isfinite(values).any():
                ax.plot(log["step"], values, label=_label(key, setting))
    axes[0].set_ylabel("learning rate")
    _log_scale_if_positive(axes[0])  # the best learning rates of different optimizers are decades apart
    axes[1].set_ylabel("momentum / beta1")
    for ax in axes:
        _finish(ax)
    axes[0].set_title("schedules used by each best setting", fontsize=10)


def _log_scale_if_positive(ax) -> None:
    if ax.get_lines() and all(np.nanmin(line.get_ydata()) > 0 for line in ax.get_lines()):
        ax.set_yscale("log")


def _finish(ax) -> None:
    ax.set_xlabel("step")
    ax.grid(True, alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "nothing logged by a finished run", ha="center", va="center", transform=ax.transAxes)


def _mean_curve(logs: Sequence[Dict[str, List[float]]], column: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std of ``column`` over runs, on the steps all of them logged (the shortest run)."""
    logs = [log for log in logs if log.get("step") and log.get(column)]
    if not logs:
        empty = np.zeros(0)
        return empty, empty, empty
    n = min(len(log["step"]) for log in logs)
    values = np.asarray([log[column][:n] for log in logs], dtype=float)
    # Sample std, as in the report's tables; a single seed has no spread.
    std = values.std(axis=0, ddof=1) if len(logs) > 1 else np.zeros(n)
    return np.asarray(logs[0]["step"][:n], dtype=float), values.mean(axis=0), std
