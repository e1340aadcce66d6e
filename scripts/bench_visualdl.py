#!/usr/bin/env python
"""What the trainer's own VisualDL writer costs next to ``visualdl.LogWriter``, measured side by side in one run.

    python scripts/bench_visualdl.py [--steps 1350] [--rounds 5]

Both write the points of a quickstart-sized run (``--steps`` log points of 5 scalars, a flush every 45 steps:
one checkpoint per epoch) into a fresh directory: ``LogWriter`` with its writer thread, point by point, as the
trainer did before; ``paddle_optim.training.records.VisualDL`` encoding VisualDL's records itself in batches
and writing them synchronously (so that a failed write is an error, not a dropped point). Prints the median
wall time of each and the ratio.
"""
import zlib  # noqa: F401  (before paddle: the Paddle 2.6 wheel breaks a later-loaded zlib)
import argparse
import statistics
import tempfile
import time

from visualdl import LogWriter

from paddle_optim.training.records import VisualDL

TAGS = ("train/loss", "train/lr", "train/momentum", "train/grad_norm", "train/samples_per_sec")


def log_writer(steps: int) -> float:
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        writer = LogWriter(logdir=logdir, max_queue=1000, flush_secs=30)
        for step in range(1, steps + 1):
            for tag in TAGS:
                writer.add_scalar(tag=tag, value=1.0 / step, step=step)
            if step % 45 == 0:
                writer.flush()
        writer.close()
        return time.perf_counter() - start


def ours(steps: int) -> float:
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        vdl = VisualDL(logdir)
        for step in range(1, steps + 1):
            vdl.scalars({tag: 1.0 / step for tag in TAGS}, step)
            if step % 45 == 0:
                vdl.flush()
        vdl.close()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1350, help="log points (default 1350: the quickstart)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of each (default 5)")
    args = parser.parse_args()
    times = {"visualdl.LogWriter (thread, point by point)": [], "records.VisualDL (batches, synchronous)": []}
    for _ in range(args.rounds):
        times["visualdl.LogWriter (thread, point by point)"].append(log_writer(args.steps))
        times["records.VisualDL (batches, synchronous)"].append(ours(args.steps))
    base = statistics.median(next(iter(times.values())))
    print(f"{args.steps} log points x {len(TAGS)} scalars, flush every 45, median of {args.rounds}\n")
    print("| writer | median ms | ratio |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values) * 1000:.1f} | {statistics.median(values) / base:.2f}x |")


if __name__ == "__main__":
    main()
