"""Exact resume under SIGKILL and atomic, validated checkpoints.

One run is trained without interruption; the same config is trained again and SIGKILLed several times
(during a checkpoint file write, right after a checkpoint's commit point, in the middle of an
evaluation, mid-epoch at a step, and at a seeded random moment), resuming with ``--resume`` each time.
The final weights, optimizer state (RAdam moments, Lookahead slow weights), schedule, EMA, RNG states,
counters, CSV tables and metrics must equal the uninterrupted run's bit for bit.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from paddle_optim.cli import main
from paddle_optim.training import checkpoint

from launching import kill_group
from rel_helpers import FAULT_TRAIN, assert_same_run, child_env, fault_train, load_checkpoint, write_config

# 8 optimizer steps per epoch, 3 epochs; latest.* every 3 steps and at every epoch end.
KILLS = [
    ("checkpoint_write:5", "the 2nd save's .pdopt.tmp written, its .pdstates not yet"),
    ("checkpoint_copy:1", "epoch 1's latest saved, its epoch_1 / best_model copies not made"),
    ("eval_batch:2", "in the second evaluation"),
    ("checkpoint_commit:2", "2nd save committed, files not yet moved into place"),
    ("train_step:20", "mid-epoch 3, before step 20"),
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full")
    config, out = write_config(tmp, "full")
    assert main(["train", "-c", config]) == 0
    return out


def killed_at_random(config, rng, resume):
    """Start a run, wait for its ``started`` line, SIGKILL it after a seeded random delay; its exit code."""
    cmd = [sys.executable, FAULT_TRAIN, "-c", config] + (["--resume"] if resume else [])
    env = child_env()
    env.pop("RELIABILITY_FAULT", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while proc.stdout.readline().strip() != "started":
            assert time.time() < deadline and proc.poll() is None, "the trainer did not start"
        time.sleep(rng.uniform(0.0, 1.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        kill_group(proc)
        proc.stdout.close()
    return proc.returncode


def test_sigkill_at_chosen_and_random_points_then_resume_is_bit_exact(uninterrupted, tmp_path):
    config, out = write_config(tmp_path, "killed")
    latest = str(out / "checkpoints" / "latest")
    steps = []
    for i, (fault, where) in enumerate(KILLS):
        before = checkpoint.newest_complete(str(out / "checkpoints"))
        before_step = load_checkpoint(before)[2]["global_step"] if before else None
        code, log = fault_train(config, fault, resume=i > 0)
        assert code == -signal.SIGKILL and "fault injection: SIGKILL" in log, (fault, code, log[-3000:])
        # whatever was being written, latest is a complete checkpoint (the previous or the new one)
        step = load_checkpoint(latest)[2]["global_step"]
        assert before_step is None or step >= before_step, (fault, where)
        steps.append(step)
    code = killed_at_random(config, random.Random(5), resume=True)
    assert code in (-signal.SIGKILL, 0)
    code, log = fault_train(config, resume=True)
    assert code == 0, log[-3000:]
    assert "resumed from" in log
    assert_same_run(uninterrupted, out)
    assert steps == sorted(steps) and steps[-1] < 24, steps  # progress was made, and lost work bounded


@pytest.fixture(scope="module")
def killed_with_snapshots(tmp_path_factory):
    """A run SIGKILLed before step 20: latest at step 18, epoch_2 at step 16."""
    tmp = tmp_path_factory.mktemp("snap")
    config, out = write_config(tmp, "snap")
    code, log = fault_train(config, "train_step:20")
    assert code == -signal.SIGKILL, log[-3000:]
    assert load_checkpoint(out / "checkpoints" / "latest")[2]["global_step"] == 18
    assert load_checkpoint(out / "checkpoints" / "epoch_2")[2]["global_step"] == 16
    return config, out


def truncate(path):
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)


def garbage(path):
    with open(path, "wb") as fh:
        fh.write(b"\x80\x04not a pickle at all")


def flip_a_byte(path):
    """Same size, same pickle structure: one byte of tensor data in the middle of the file inverted."""
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("suffix,damage", [(".pdparams", truncate), (".pdopt", truncate), (".pdstates", garbage),
                                           (".pdstates", truncate), (".pdparams", flip_a_byte),
                                           (".pdopt", flip_a_byte)])
def test_a_corrupt_latest_is_a_clear_error_and_auto_resume_skips_it(suffix, damage, killed_with_snapshots,
                                                                   uninterrupted, tmp_path, capsys):
    config_src, out_src = killed_with_snapshots
    out = tmp_path / "snap"
    shutil.copytree(out_src, out)
    config = tmp_path / "snap.yaml"
    config.write_text(open(config_src).read().replace(str(out_src), str(out)))
    damage(str(out / "checkpoints" / "latest") + suffix)
    capsys.readouterr()
    assert main(["train", "-c", str(config), "--resume", str(out / "checkpoints" / "latest")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "latest" + suffix in err and "corrupt" in err, err
    # no path: the newest complete checkpoint (epoch_2) is taken, and the run still ends exactly
    assert main(["train", "-c", str(config), "--resume"]) == 0
    captured = capsys.readouterr()
    assert "epoch_2" in captured.out + captured.err
    assert_same_run(uninterrupted, out)


def test_a_kill_between_the_epoch_end_save_and_its_copies_loses_no_snapshot(tmp_path):
    """Copies 1-2 are epoch_1 and best_model of epoch 1; the 3rd is epoch_2: the process dies after the
    final latest was saved and before epoch_2 / best_model were placed. The resumed run places them."""
    changes = {"Global": {"epochs": 2}, "Checkpoint": {"keep_last": 0}}
    config_full, full = write_config(tmp_path, "full", changes)
    assert main(["train", "-c", config_full]) == 0
    config, out = write_config(tmp_path, "copy", changes)
    code, log = fault_train(config, "checkpoint_copy:3")
    assert code == -signal.SIGKILL, log[-3000:]
    assert not (out / "checkpoints" / "epoch_2.pdstates").exists()
    code, log = fault_train(config, resume=True)
    assert code == 0, log[-3000:]
    assert (out / "checkpoints" / "epoch_2.pdstates").exists()
    assert_same_run(full, out)
