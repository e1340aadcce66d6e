"""``paddle-optim compare``: plan the grid, validate it, run it, report it."""
import os
import shlex
from typing import Any, Dict, List, Optional, Sequence

from ..check import check_config
from ..config import apply_overrides, load_config
from ..data import config_steps_per_epoch
from ..sections import resolve_config
from ..errors import UserError
from ..factory import get_spec
from . import aggregate, grid
from .aggregate import CellResult
from .plots import write_plots
from .report import best_table, write_results
from .jobs import make_job, run_jobs
from .runs import FINISHED


def compare_command(args) -> int:
    """Entry point of the sub-command (``args`` from :func:`paddle_optim.cli.build_parser`).

    Returns 0 when at least one run finished (failed cells are recorded in the report, not fatal),
    1 when none did.
    """
    _refuse_inside_launch()
    base = load_config(args.config, args.override)
    cells = grid.expand_grid(
        optimizer_names(args.optimizers),
        grid.parse_learning_rates(args.lr) if args.lr else [grid.base_learning_rate(base)],
        [grid.base_seed(base) + i for i in range(args.seeds)],
        grid.parse_names(args.schedulers, "--schedulers") if args.schedulers else [grid.CONFIG_SCHEDULER])
    overrides = {cell: grid.cell_overrides(cell, base, args.epochs) for cell in cells}
    for line in validate_cells(base, overrides, args.nproc):
        print(f"warning: {line}")
    os.makedirs(args.out, exist_ok=True)
    jobs = [make_job(cell, args.out, args.config, list(args.override) + overrides[cell], args.nproc)
            for cell in cells]
    print(f"compare: {len(jobs)} runs ({len(set(c.optimizer for c in cells))} optimizers), "
          f"{args.jobs} at a time, into {os.path.abspath(args.out)}", flush=True)
    records = run_jobs(jobs, args.config, args.jobs, echo=lambda line: print(line, flush=True),
                       ranks_per_job=args.nproc or 1)
    target = args.target if args.target is not None else aggregate.default_target(records.values())
    results = [CellResult(job.cell, job.run_dir, records[job.cell], target) for job in jobs]
    settings = aggregate.group_settings(results)
    metric = next((r.metrics["metric_name"] for r in records.values() if r.metrics.get("metric_name")), "metric")
    context = {"command": reproduce_command(args), "config": args.config, "seeds": args.seeds,
               "metric_name": metric,
               "target_source": "--target" if args.target is not None else
               f"{aggregate.DEFAULT_TARGET_FRACTION:g} x the best {metric} of any run"}
    paths = list(write_results(args.out, results, settings, target, context).values())
    paths += write_plots(args.out, settings, metric)
    print("\n".join(best_table(settings, metric)))
    print("wrote " + ", ".join(paths))
    return 0 if any(r.status == FINISHED for r in results) else 1


def optimizer_names(text: str) -> List[str]:
    """``--optimizers`` as registry names: ``adamw`` -> ``AdamW``; an alias (``Nesterov``) stays itself.

    An unknown name is an error here, before anything runs, with the registry's "did you mean".
    """
    names = []
    for name in grid.parse_names(text, "--optimizers"):
        spec, preset = get_spec(name, "--optimizers")
        canonical = name if preset else spec.name
        if canonical in names:
            raise UserError(f"--optimizers: '{name}' is {canonical}, already listed")
        names.append(canonical)
    return names


def validate_cells(base: Dict[str, Any], overrides: Dict[grid.Cell, List[str]], nproc: Optional[int]) -> List[str]:
    """Check every setting (optimizer x scheduler x learning rate) as ``check`` would, before anything runs.

    Returns the distinct schedule warnings; raises one :class:`UserError` with every problem. A
    problem all settings share (the base config's) is reported once; one that only some settings
    have is prefixed with them, e.g. a warmup ``start_lr`` above one of the swept learning rates.
    Otherwise such a cell would fail minutes later, one log at a time.
    """
    found: Dict[str, List[str]] = {}
    warnings: List[str] = []
    steps_per_epoch: Optional[int] = None
    for cell, cell_overrides in overrides.items():
        label = f"{grid.setting_label(cell.optimizer, cell.scheduler)} lr {cell.learning_rate:g}"
        if label in found:  # seeds do not change the config's validity
            continue
        try:
            config = resolve_config(apply_overrides(base, cell_overrides))
            steps_per_epoch = steps_per_epoch or config_steps_per_epoch(config, nproc or 1)
            warnings += [w for w in check_config(config, steps_per_epoch) if w not in warnings]
            found[label] = []
        except UserError as err:
            found[label] = err.problems
    common = set.intersection(*(set(lines) for lines in found.values()))
    problems = [line for line in next(iter(found.values())) if line in common]
    problems += [f"{label}: {line}" for label, lines in found.items() for line in lines if line not in common]
    if problems:
        raise UserError(problems)
    return warnings


def reproduce_command(args) -> str:
    """The command line that recreates this report (for report.md)."""
    parts: List[Any] = ["paddle-optim", "compare", "-c", args.config]
    for override in args.override:
        parts += ["-o", override]
    parts += ["--optimizers", args.optimizers]
    options: Sequence = (("--lr", args.lr), ("--seeds", args.seeds), ("--schedulers", args.schedulers),
                         ("--epochs", args.epochs), ("--target", args.target), ("--nproc", args.nproc),
                         ("--jobs", args.jobs), ("--out", args.out))
    for option, value in options:
        if value is not None:
            parts += [option, str(value)]
    return shlex.join(parts)


def _refuse_inside_launch() -> None:
    # Under paddle.distributed.launch every rank would run the whole grid. Each cell gets its own
    # launch instead: --nproc N is passed on to `train --nproc N`.
    if int(os.environ.get("PADDLE_TRAINERS_NUM", "1") or 1) > 1:
        raise UserError("compare starts one training job per cell; do not run it under "
                        "paddle.distributed.launch: use `compare --nproc N` to give each cell N ranks")
