"""Writing the comparison: ``report.md``, ``results.csv`` and ``results.json``.

``results.csv`` / ``results.json`` hold every run (one row per cell, :meth:`CellResult.row`);
``results.json`` adds the per-setting statistics, the best setting and lr sensitivity per optimizer,
and the target. ``report.md`` is the human summary; its tables are plain Markdown meant to be pasted
into a README as they are.
"""
import csv
import json
import math
import os
from typing import Any, Dict, List, Mapping, Sequence

from . import aggregate
from .aggregate import CellResult, Setting, Stat
from .grid import CONFIG_SCHEDULER
from .runs import DIVERGED, FAILED, FINISHED

REPORT_FILE, CSV_FILE, JSON_FILE = "report.md", "results.csv", "results.json"


def write_results(out_dir: str, results: Sequence[CellResult], settings: Sequence[Setting],
                  target: float, context: Mapping[str, Any]) -> Dict[str, str]:
    """Write the three files into ``out_dir``; return their paths by name."""
    rows = [r.row() for r in results]
    paths = {name: os.path.join(out_dir, name) for name in (REPORT_FILE, CSV_FILE, JSON_FILE)}
    with open(paths[CSV_FILE], "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = {"context": dict(context), "target": _json_number(target),
               "runs": [{k: _json_number(v) for k, v in row.items()} for row in rows],
               "settings": [_setting_json(s) for s in settings],
               "optimizers": _optimizers_json(settings)}
    with open(paths[JSON_FILE], "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2, allow_nan=False)
    with open(paths[REPORT_FILE], "w", encoding="utf-8") as fh:
        fh.write(render_report(settings, target, context))
    return paths


def render_report(settings: Sequence[Setting], target: float, context: Mapping[str, Any]) -> str:
    """The Markdown report: context, the per-setting table, the best settings, definitions, plots."""
    metric = context.get("metric_name") or "metric"
    lines = ["# paddle-optim compare", ""]
    lines += [f"- command: `{context['command']}`" if context.get("command") else None,
              f"- base config: `{context.get('config', '')}`; seeds per setting: {context.get('seeds', '')}",
              f"- metric: `{metric}` (higher is better); target: {_fmt(target)} "
              f"({context.get('target_source', '')})",
              f"- runs: {_status_counts(settings)}", ""]
    lines += ["## Every optimizer x learning rate", "",
              "Mean ± std over the seeds that finished; failures = diverged runs + failed ones (crashed or interrupted: no metrics.json).", ""]
    lines += settings_table(settings, metric)
    lines += ["", "## Best setting per optimizer", ""]
    lines += best_table(settings, metric)
    lines += ["", "Best setting: highest mean final metric among settings without failures. "
              f"lr sensitivity: width in decades (log10 high/low) of the contiguous learning-rate range "
              f"around the best whose mean final {metric} is within {aggregate.POINT:g} "
              "(one point) of it, without failures; wider is more forgiving, bounded by the grid.", ""]
    lines += ["## Plots", "",
              "![metric vs learning rate](sensitivity.png)", "",
              "![loss of each optimizer's best setting](loss_curves.png)", "",
              "![learning rate and momentum used](schedules.png)", ""]
    return "\n".join(line for line in lines if line is not None) + "\n"


def _shows_scheduler(settings: Sequence[Setting]) -> bool:
    """A scheduler column only when some setting overrides the config's scheduler."""
    return any(s.scheduler != CONFIG_SCHEDULER for s in settings)


def settings_table(settings: Sequence[Setting], metric: str) -> List[str]:
    """One row per optimizer x (scheduler x) learning rate."""
    show_scheduler = _shows_scheduler(settings)
    head = ["optimizer"] + (["scheduler"] if show_scheduler else []) + [
        "learning_rate", f"final {metric}", f"best {metric}", "steps to target", "seconds to target",
        "reached", "failures"]
    rows = []
    for s in settings:
        rows.append([s.optimizer] + ([s.scheduler] if show_scheduler else []) + [
            f"{s.learning_rate:g}", _pm(s.final), _pm(s.best), _pm(s.steps_to_target, "{:.0f}"),
            _pm(s.seconds_to_target, "{:.2f}"), f"{s.steps_to_target.count}/{len(s.runs)}",
            _failures(s)])
    return _table(head, rows)


def best_table(settings: Sequence[Setting], metric: str) -> List[str]:
    """One row per optimizer (x scheduler): its best setting and its lr sensitivity."""
    show_scheduler = _shows_scheduler(settings)
    head = ["optimizer"] + (["scheduler"] if show_scheduler else []) + [
        "best learning_rate", f"final {metric}", f"best {metric}", "steps to target",
        "seconds to target", "lr within 1 point", "lr sensitivity (decades)"]
    rows = []
    for (optimizer, scheduler), (best, sens) in aggregate.best_per_optimizer(settings).items():
        prefix = [optimizer] + ([scheduler] if show_scheduler else [])
        if best is None:
            rows.append(prefix + ["no run finished"] + [""] * 6)
            continue
        rows.append(prefix + [f"{best.learning_rate:g}", _pm(best.final), _pm(best.best),
                              _pm(best.steps_to_target, "{:.0f}"), _pm(best.seconds_to_target, "{:.2f}"),
                              f"{sens.low:g} – {sens.high:g} ({sens.count}/{sens.total})",
                              f"{sens.decades:.2f}"])
    return _table(head, rows)


def _setting_json(s: Setting) -> Dict[str, Any]:
    def stat(st: Stat) -> Dict[str, Any]:
        return {"mean": _json_number(st.mean), "std": _json_number(st.std), "count": st.count}

    return {"optimizer": s.optimizer, "scheduler": s.scheduler, "learning_rate": s.learning_rate,
            "runs": len(s.runs), "finished": s.count(FINISHED), "diverged": s.count(DIVERGED),
            "failed": s.count(FAILED), "nonfinite_steps": s.nonfinite_steps,
            "final_metric": stat(s.final), "best_metric": stat(s.best),
            "steps_to_target": stat(s.steps_to_target), "seconds_to_target": stat(s.seconds_to_target)}


def _optimizers_json(settings: Sequence[Setting]) -> List[Dict[str, Any]]:
    out = []
    for (optimizer, scheduler), (best, sens) in aggregate.best_per_optimizer(settings).items():
        out.append({"optimizer": optimizer, "scheduler": scheduler,
                    "best_learning_rate": best.learning_rate if best else None,
                    "lr_within_one_point": [sens.low, sens.high] if sens else None,
                    "lr_sensitivity_decades": sens.decades if sens else None})
    return out


def _status_counts(settings: Sequence[Setting]) -> str:
    counts = {status: sum(s.count(status) for s in settings) for status in (FINISHED, DIVERGED, FAILED)}
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def _failures(s: Setting) -> str:
    parts = [f"{s.count(DIVERGED)} diverged"] if s.count(DIVERGED) else []
    parts += [f"{s.count(FAILED)} failed"] if s.count(FAILED) else []
    # Skipped non-finite steps are worth seeing even when the run recovered and finished.
    parts += [f"{s.nonfinite_steps} non-finite steps"] if s.nonfinite_steps else []
    return f"{s.failures} ({', '.join(parts)})" if parts else "0"


def _pm(stat: Stat, fmt: str = "{:.4f}") -> str:
    if not stat.count:
        return "–"
    return fmt.format(stat.mean) + (" ± " + fmt.format(stat.std) if stat.count > 1 else "")


def _fmt(x: float) -> str:
    return f"{x:.4f}" if math.isfinite(x) else "none (no run finished)"


def _table(head: List[str], rows: List[List[str]]) -> List[str]:
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(row) + " |" for row in rows])


def _json_number(value: Any) -> Any:
    # JSON has no NaN: a number that does not exist (never reached, crashed run) is null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
