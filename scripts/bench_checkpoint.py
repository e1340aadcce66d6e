#!/usr/bin/env python
"""What independent checkpoint copies and full verification cost, measured in one run.

1. The quickstart (or ``--config``) trained once with ``paddle_optim train``: how many ``epoch_N`` /
   ``best_model`` copies it makes, the seconds spent in them, and their share of the run's wall time.
2. On that run's ``latest``, side by side in rounds: a save (``checkpoint.save``), an independent copy
   (``checkpoint.copy``: a real, flushed copy of the three files), the hard-link copy of earlier versions
   (``os.link`` + the same commit renames: the baseline), and verifying every checkpoint of the run
   directory as ``--resume`` does (``checkpoint.intact_checkpoints``: digests of all files).

Usage::

    python scripts/bench_checkpoint.py [--config configs/quickstart.yaml] [--rounds 30]
"""
import zlib  # noqa: F401  (before paddle)
import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time

from paddle_optim.sections import load_resolved_config
from paddle_optim.training import checkpoint
from paddle_optim.training.command import run_training


def link_copy(src_prefix: str, dst_prefix: str) -> None:
    """The baseline: earlier versions' copy, hard links renamed into place under the same protocol."""
    checkpoint.recover(dst_prefix)
    for suffix in checkpoint.SUFFIXES[:2]:
        os.link(src_prefix + suffix, dst_prefix + suffix + ".tmp")
    os.link(src_prefix + ".pdstates", dst_prefix + ".pdstates.part")
    os.replace(dst_prefix + ".pdstates.part", dst_prefix + ".pdstates.tmp")
    checkpoint.recover(dst_prefix)


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        config = load_resolved_config(args.config, [f"Global.output_dir={out}", "Global.device=cpu"])
        copies, original = [], checkpoint.copy

        def counted(src, dst):
            copies.append(timed(original, src, dst))
        checkpoint.copy = counted
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            run, _ = run_training(config, None)
        wall = time.perf_counter() - start
        checkpoint.copy = original
        ckpt = os.path.join(out, "checkpoints")
        latest = os.path.join(ckpt, "latest")
        size = sum(os.path.getsize(latest + s) for s in checkpoint.SUFFIXES)
        print(f"{args.config}: {len(copies)} copies of {size / 1024:.0f} KiB in {sum(copies) / 1000:.3f} s of a "
              f"{wall:.1f} s run ({100 * sum(copies) / 1000 / wall:.2f} %)\n")

        rows = {"save (checkpoint.save)": [], "independent copy (checkpoint.copy)": [],
                "hard-link copy (earlier versions)": [], "verify every checkpoint (intact_checkpoints)": []}
        for _ in range(args.rounds):
            rows["save (checkpoint.save)"].append(timed(run.save, latest))
            rows["independent copy (checkpoint.copy)"].append(timed(checkpoint.copy, latest, os.path.join(ckpt, "bench_copy")))
            rows["hard-link copy (earlier versions)"].append(timed(link_copy, latest, os.path.join(ckpt, "bench_link")))
            rows["verify every checkpoint (intact_checkpoints)"].append(timed(checkpoint.intact_checkpoints, ckpt))
        base = statistics.median(rows["save (checkpoint.save)"])
        n = len(checkpoint.intact_checkpoints(ckpt))
        print(f"| operation ({size / 1024:.0f} KiB checkpoint, {args.rounds} rounds; verify: {n} checkpoints) "
              "| median ms | / save |")
        print("|---|---:|---:|")
        for name, values in rows.items():
            print(f"| {name} | {statistics.median(values):.2f} | {statistics.median(values) / base:.2f}x |")


if __name__ == "__main__":
    main()
