"""``paddle-optim lr-find``: check the arguments and the config, sweep (here or under
``paddle.distributed.launch``), then write the CSV and the plot and print the suggestions."""
import csv
import os
import sys
from typing import List

import numpy as np

from ..errors import UserError
from ..optimizers.lookahead import Lookahead
from ..sections import load_resolved_config
from ..training import distributed
from ..training.distributed import launch_command, resolve_device, run_launcher
from ..training.loop import Run
from ..training.records import setup_logging
from ..training.seeding import seed_step
from .curve import MIN_STEPS, Analysis, analyse, default_window, learning_rates, sync_ripple
from .plot import plot_curve
from .sweep import finder_config, sweep, warm_up_notes

#: The suggestion printed as the ``-o Optimizer.learning_rate=...`` to use (see the README's evidence).
PREFERRED = ("valley", "steepest", "min/10")


def argument_problems(args) -> List[str]:
    """Every problem of the sweep's own options."""
    problems = []
    if not args.start > 0:
        problems.append(f"--start: must be > 0, got {args.start:g}")
    if not args.start < args.end:
        problems.append(f"--start: must be below --end, got --start {args.start:g} >= --end {args.end:g}")
    if args.steps < MIN_STEPS:
        problems.append(f"--steps: must be >= {MIN_STEPS} (a curve needs points), got {args.steps}")
    if not args.stop_factor > 1:
        problems.append(f"--stop-factor: must be > 1 (a multiple of the minimum loss), got {args.stop_factor:g}")
    if args.smooth is not None and (args.smooth < 1 or args.smooth % 2 == 0):
        problems.append(f"--smooth: must be an odd number of steps >= 1, got {args.smooth}")
    return problems + _out_problems(args.out)


def _out_problems(out: str) -> List[str]:
    allowed = "allowed: a .png path in a writable directory"
    if not out.lower().endswith(".png"):
        return [f"--out: '{out}' is not a .png file; {allowed}"]
    directory = os.path.dirname(os.path.abspath(out))
    probe = directory
    while not os.path.exists(probe):  # the first existing ancestor decides whether it can be created
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        return [f"--out: cannot create the directory of {out}: {probe} is not a directory; {allowed}"]
    for path in (out, os.path.splitext(out)[0] + ".csv"):
        if os.path.isdir(path) or (os.path.exists(path) and not os.access(path, os.W_OK)):
            return [f"--out: cannot write {path}; {allowed}"]
    if not os.access(probe, os.W_OK | os.X_OK):
        return [f"--out: {probe} is not writable; {allowed}"]
    return []


def lr_find_command(args) -> int:
    """CLI adapter (``args`` from :func:`paddle_optim.cli.build_parser`)."""
    problems = argument_problems(args)
    try:
        config = load_resolved_config(args.config, args.override)
    except UserError as err:  # reported together with the options' problems
        problems += err.problems
    if problems:
        raise UserError(problems)
    if args.nproc and args.nproc > 1 and "PADDLE_TRAINER_ID" not in os.environ:
        return _launch(args, config)
    return run_lr_find(config, args)


def run_lr_find(config, args) -> int:
    world = distributed.setup(config["Global"]["device"])
    setup_logging(None, keep_early=False)
    lrs = learning_rates(args.start, args.end, args.steps, args.mode)
    run = Run(finder_config(config, args.start), world)
    seed_step(config["Global"]["seed"], world.rank, 0)
    lookahead_k = run.optimizer.k if isinstance(run.optimizer, Lookahead) else None
    window = args.smooth or default_window(args.steps, lookahead_k)
    say = print if world.is_main else (lambda *a, **k: None)
    g, data = config["Global"], config["Data"]
    say(f"lr-find: {config['Optimizer']['name']} on {config['Model']['name']} ({len(run.train_set)} samples), "
        f"{args.steps} steps from {args.start:g} to {args.end:g} ({args.mode}), batch {data['batch_size']} x "
        f"{g['accumulate_steps']} accumulated x {world.size} process(es); stop at {args.stop_factor:g}x the "
        f"minimum smoothed loss; smoothing: centred mean over {window} steps", flush=True)
    every = max(1, args.steps // 10)

    def progress(i, lr, loss):
        if (i + 1) % every == 0:
            say(f"  step {i + 1:4d}  lr {lr:.3g}  loss {loss:.4g}", flush=True)

    with distributed.peer_failures_reported(world, "lr-find"):
        result = sweep(run, lrs, window, args.stop_factor, progress)
    finite = len(result.losses)
    for i, loss in enumerate(result.losses):
        if not np.isfinite(loss):
            finite = i
            break
    analysis = analyse(result.lrs[:finite], result.losses[:finite], window, result.stop is not None)
    if not world.is_main:
        return 0
    say(f"stopped early: {result.stop}" if result.stop else
        f"reached --end {args.end:g} after {len(result.lrs)} steps without the loss diverging")
    say("suggestions:")
    for s in analysis.suggestions:
        where = "" if s.index is None else f"  (step {s.index + 1})" if s.method != "min/10" else \
            f"  (minimum at step {s.index + 1}, lr {result.lrs[s.index]:.3g})"
        say(f"  {s.method:9s} " + (f"lr {s.lr:.3g}{where}" if s.lr is not None else f"none: {s.reason}"))
    for warning in analysis.warnings:
        say(f"warning: {warning}")
    ripple = None
    if lookahead_k:
        ripple = sync_ripple(result.losses, analysis.smoothed, lookahead_k, analysis.minimum + 1)
    steps_of = {s.method: s.index for s in analysis.suggestions if s.lr is not None}
    for note in warm_up_notes(run, len(result.lrs), steps_of, ripple, analysis.descent):
        say(f"note: {note}")
    chosen = next((analysis.suggestion(m) for m in PREFERRED if analysis.suggestion(m).lr is not None), None)
    if chosen is not None:
        say(f"use: -o Optimizer.learning_rate={chosen.lr:.3g}   ({chosen.method}; the peak of your schedule)")
    else:
        say("use: no learning rate can be read from this curve (see the warnings)")
    csv_path = write_outputs(args.out, result.lrs, result.losses, finite, analysis, args.mode,
                             f"lr-find: {config['Optimizer']['name']}, {config['Model']['name']}")
    say(f"wrote {args.out} and {csv_path}")
    return 0


def write_outputs(out: str, lrs, losses, finite: int, analysis: Analysis, mode: str, title: str) -> str:
    """``out`` (PNG) and the CSV beside it; returns the CSV's path."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    except OSError as err:
        raise UserError(f"--out: cannot create the directory of {out}: {err.strerror}") from None
    csv_path = os.path.splitext(out)[0] + ".csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["step", "lr", "loss", "smoothed_loss"])
        for i, (lr, loss) in enumerate(zip(lrs, losses)):
            writer.writerow([i + 1, repr(lr), repr(loss), repr(float(analysis.smoothed[i])) if i < finite else ""])
    plot_curve(out, lrs[:finite], losses[:finite], analysis, mode, title)
    return csv_path


def _launch(args, config) -> int:
    """Re-run this command in ``--nproc`` processes through ``paddle.distributed.launch``."""
    device = config["Global"]["device"]
    device = resolve_device(device) if device == "auto" else device
    cli_args = ["lr-find", "-c", args.config] + [a for o in args.override for a in ("-o", o)]
    cli_args += ["--start", repr(args.start), "--end", repr(args.end), "--steps", str(args.steps),
                 "--mode", args.mode, "--stop-factor", repr(args.stop_factor), "--out", args.out]
    if args.smooth is not None:
        cli_args += ["--smooth", str(args.smooth)]
    env = dict(os.environ)
    if device == "cpu":
        env.setdefault("PADDLE_DISTRI_BACKEND", "gloo")
    # Not in Global.output_dir (lr-find writes nothing there): beside the plot.
    log_dir = os.path.splitext(args.out)[0] + "_launch_log"
    cmd = launch_command(args.nproc, cli_args, device, log_dir)
    print("launching: " + " ".join(cmd), file=sys.stderr)
    return run_launcher(cmd, env)  # the launcher streams rank 0's report to our stdout
