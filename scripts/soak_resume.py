#!/usr/bin/env python
"""Soak test of crash-safe exact resume: SIGKILL a training run over and over, resume it each time,
and compare everything with an uninterrupted run, bit for bit.

    python scripts/soak_resume.py --minutes 8 --seed 0

One reference run is trained without interruption. Then, until the time is up, rounds of the same
config are trained in a fresh directory; every process of a round is killed with SIGKILL either at a
deterministic fault point (a checkpoint file written but not committed, a committed checkpoint not yet
moved into place, an epoch-end checkpoint saved but not yet copied to ``epoch_N``/``best_model``, a batch
of an evaluation, the start of an optimizer step; ``tests/reliability/
fault_train.py``) or after a seeded random delay, and the next process resumes with ``--resume``.
After every kill the newest checkpoint must load; when a round finishes, its final checkpoint
(weights, optimizer moments, Lookahead slow weights, schedule, EMA, RNG, counters), every ``epoch_N``
snapshot and ``best_model``, the CSV tables and ``metrics.json`` must equal the reference's. Prints kills survived and
bytes compared; exits 1 on the first difference.
"""
import zlib  # noqa: F401  (before paddle: the Paddle 2.6 wheel breaks a later-loaded zlib)
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELIABILITY_TESTS = os.path.join(ROOT, "tests", "reliability")
# The fault-injection runner and the comparison helpers live with the tests (and use tests/support).
sys.path[:0] = [RELIABILITY_TESTS, os.path.join(ROOT, "tests", "support")]

from rel_helpers import (FAULT_TRAIN, RESUME_CONFIG, assert_same_run, child_env, load_checkpoint,  # noqa: E402
                         write_config)

# Longer than the CI test's run: 8 epochs x 8 steps, latest every 3 steps, every epoch_N kept.
SOAK_CHANGES = {"Global": {"epochs": 8}, "Checkpoint": {"interval_steps": 3, "save_interval": 1, "keep_last": 0}}


# Fault points of tests/reliability/fault_train.py and the highest n each can reach in a soak run.
FAULT_COUNTS = {"checkpoint_write": 12, "checkpoint_commit": 4, "checkpoint_copy": 6, "eval_batch": 6,
                "train_step": 63}


def one_process(config, resume, rng):
    """Start one trainer process and kill it at a random fault point or delay; ``(how, exit code)``."""
    kind = rng.choice(["delay", *FAULT_COUNTS])
    env = child_env()
    env.pop("RELIABILITY_FAULT", None)
    if kind != "delay":
        env["RELIABILITY_FAULT"] = f"{kind}:{rng.randint(1, FAULT_COUNTS[kind])}"
    cmd = [sys.executable, FAULT_TRAIN, "-c", config] + (["--resume"] if resume else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        while proc.stdout.readline().strip() != "started" and proc.poll() is None:
            pass
        if kind == "delay":
            time.sleep(rng.uniform(0.0, 2.0))
            proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.returncode not in (0, -signal.SIGKILL):
        raise SystemExit(f"trainer failed ({kind}, exit {proc.returncode}):\n{out[-3000:]}")
    return env.get("RELIABILITY_FAULT", "random delay"), proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="how long to keep killing (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill points and delays (default 0)")
    parser.add_argument("--workdir", default=None, help="where runs go (default: a temporary directory, removed)")
    args = parser.parse_args()
    from pathlib import Path

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="soak_resume_"))
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    config, reference = write_config(workdir, "reference", SOAK_CHANGES, base=RESUME_CONFIG)
    done = subprocess.run([sys.executable, "-m", "paddle_optim", "train", "-c", config], env=child_env(),
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    start, kills, rounds, compared, points = time.time(), 0, 0, 0, {}
    while time.time() - start < args.minutes * 60:
        rounds += 1
        config, out = write_config(workdir, f"round{rounds}", SOAK_CHANGES, base=RESUME_CONFIG)
        resume = False
        while True:
            how, code = one_process(config, resume, rng)
            if code == 0:
                break
            kills += 1
            points[how.split(":")[0]] = points.get(how.split(":")[0], 0) + 1
            latest = out / "checkpoints" / "latest"
            if os.path.exists(str(latest) + ".pdstates") or os.path.exists(str(latest) + ".pdstates.tmp"):
                load_checkpoint(latest)  # whatever was interrupted, latest is complete
            resume = True
        compared += assert_same_run(reference, out)
        print(f"round {rounds}: identical to the uninterrupted run; {kills} kills survived so far, "
              f"{compared:,} bytes compared, {time.time() - start:.0f} s", flush=True)
        shutil.rmtree(out)
    print(f"soak: {rounds} rounds, {kills} SIGKILLs survived ({', '.join(f'{k} {v}' for k, v in sorted(points.items()))}), "
          f"{compared:,} bytes compared, all bit-identical, {time.time() - start:.0f} s")
    if args.workdir is None:
        shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
