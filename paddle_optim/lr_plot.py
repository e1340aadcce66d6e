"""``lr-plot``: the whole learning-rate and momentum schedule of a configured run, before training.

``lr.csv`` holds :func:`~paddle_optim.schedulers.preview.schedule_table`: the learning rate and
momentum every optimizer step will use. No model is built and the data set is only measured (its size
gives the steps per epoch), or not read at all with ``--steps-per-epoch``.
"""
import csv
import os
from typing import List

from .config import load_config
from .data import config_steps_per_epoch
from .errors import UserError
from .schedulers.builder import LR_SECTION, phase_steps
from .schedulers.preview import ScheduleRow, schedule_table
from .sections import resolve_config


def write_csv(rows: List[ScheduleRow], path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["step", "epoch", "lr", "momentum"])
        for r in rows:
            writer.writerow([r.step, r.epoch, repr(r.lr), "" if r.momentum is None else repr(r.momentum)])


def plot(rows: List[ScheduleRow], path: str, steps_per_epoch: int, warmup: int, title: str, hold: int = 0) -> None:
    """PNG: learning rate (and momentum, when there is one) vs step; epoch boundaries, warmup and hold shaded."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    has_momentum = any(r.momentum is not None for r in rows)
    fig, axes = plt.subplots(2 if has_momentum else 1, 1, sharex=True, squeeze=False,
                             figsize=(8, 5.5 if has_momentum else 3.5))
    steps = [r.step for r in rows]
    series = [("learning rate", [r.lr for r in rows], "tab:blue")]
    if has_momentum:
        series.append(("momentum / beta1", [r.momentum for r in rows], "tab:orange"))
    epochs = rows[-1].epoch if rows else 0
    every = max(1, epochs // 50)  # at most ~50 boundary lines
    for ax, (label, values, color) in zip(axes[:, 0], series):
        ax.plot(steps, values, color=color, linewidth=1.5)
        ax.set_ylabel(label)
        for epoch in range(every, epochs, every):
            ax.axvline(epoch * steps_per_epoch, color="0.85", linewidth=0.6, zorder=0)
        if warmup:
            ax.axvspan(0, warmup, color="tab:green", alpha=0.12, label=f"warmup ({warmup} steps)")
        if hold:
            ax.axvspan(warmup, warmup + hold, color="tab:purple", alpha=0.08, label=f"hold ({hold} steps)")
        if warmup or hold:
            ax.legend(loc="best", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[-1, 0].set_xlabel(f"optimizer step ({steps_per_epoch} per epoch; grey lines: epoch boundaries)")
    axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def lr_plot_command(args) -> int:
    """``paddle-optim lr-plot -c CONFIG [--out lr.png] [--steps-per-epoch N] [--nproc N]``."""
    config = resolve_config(load_config(args.config, args.override))
    spe = args.steps_per_epoch or config_steps_per_epoch(config, args.nproc)
    rows = schedule_table(config, spe)
    out = args.out
    csv_path = os.path.splitext(out)[0] + ".csv"
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    except OSError as err:  # e.g. a path through a regular file
        raise UserError(f"--out: cannot create the directory of {out}: {err.strerror} ({err.filename}); "
                        "allowed: a PNG path in a writable directory") from None
    write_csv(rows, csv_path)
    lr_section = config.get(LR_SECTION) or {}
    name = lr_section.get("name") or "constant"
    warmup, hold = (phase_steps(lr_section, phase, spe, len(rows)) for phase in ("warmup", "hold"))
    phases = "".join(f" + {phase}" for phase, steps in (("warmup", warmup), ("hold", hold)) if steps)
    title = f"{name}{phases}: {config['Global']['epochs']} epochs x {spe} steps"
    plot(rows, out, spe, warmup, title, hold)
    print(f"wrote {out} and {csv_path} ({len(rows)} optimizer steps, {spe} per epoch, "
          f"lr {rows[0].lr:.4g} -> max {max(r.lr for r in rows):.4g} -> {rows[-1].lr:.4g})")
    return 0
