"""Stopping ``train --nproc N`` (and a ``compare`` cell that uses it) stops the whole job, and what a rank
would refuse is refused before the launcher starts.

* the forwarding itself, as a table over a stand-in process tree of the launcher's shape
  (``rel_fake_launcher.py``): SIGTERM -> 143, SIGINT -> 130, a launcher and ranks that ignore the
  signal are killed after the grace period; no process survives;
* real ``paddle.distributed.launch`` on CPU/gloo, 2 ranks, stopped inside a known step by
  ``rel_gate:GatedMLP``: SIGTERM to ``train --nproc 2`` -> exit 143, no process of the job left,
  ``latest`` loads, ``--resume`` then finishes; SIGINT to ``compare --nproc 2`` -> 130, nothing left;
* pre-launch errors (a missing or damaged ``--resume``, bad config values): one error line, exit 2,
  no launcher started, the earlier run's directory (its ``launch_log`` included) unchanged.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from paddle_optim.cli import main
from paddle_optim.training import checkpoint, distributed
from paddle_optim.training.records import setup_logging
from configs import TINY_RUN
from launching import kill_group, run_process
from rel_helpers import HERE, child_env, write_config

FAKE_LAUNCHER = os.path.join(HERE, "rel_fake_launcher.py")
GATED = {"Model": {"name": "rel_gate:GatedMLP", "block_at": 5},
         "Global": {"epochs": 3}, "Checkpoint": {"interval_steps": 2}}


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _processes_mentioning(text: str):
    """Live processes whose command line contains ``text`` (the test's own tmp path)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and _running(int(entry)):
                found.append((int(entry), cmdline[:200]))
    return found


def _wait_for_files(directory, count, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(os.listdir(directory)) >= count:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signum, code, mode", [
    (signal.SIGTERM, 143, "obedient"),
    (signal.SIGINT, 130, "obedient"),
    (signal.SIGTERM, 143, "stubborn"),  # ignores SIGTERM: killed after the grace period
])
def test_a_stop_reaches_the_launcher_and_every_rank(tmp_path, monkeypatch, signum, code, mode):
    monkeypatch.setattr(distributed, "STOP_GRACE_SECONDS", 2)
    gate = tmp_path / "gate"
    gate.mkdir()

    def stop_once_the_ranks_run():
        _wait_for_files(gate, 2, timeout=60)
        os.kill(os.getpid(), signum)  # to this process, inside run_launcher: as `kill PID` / Ctrl-C would

    before = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)]
    threading.Thread(target=stop_once_the_ranks_run, daemon=True).start()
    assert distributed.run_launcher([sys.executable, FAKE_LAUNCHER, str(gate), mode], dict(os.environ)) == code
    assert [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)] == before
    ranks = [int(name[len("rank"):]) for name in os.listdir(gate)]
    assert len(ranks) == 2
    deadline = time.monotonic() + 10  # killed ranks are reaped by init, not by us
    while any(_running(pid) for pid in ranks) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in ranks if _running(pid)]


def _start(cmd, env):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)


def _stop_and_collect(proc, signum, gate, tmp_path):
    """Wait until both ranks block in their gated step, send ``signum`` to ``proc`` only; its exit code
    and output. On a hang, every process of the test is killed and the test fails."""
    try:
        assert _wait_for_files(gate, 2), "the ranks never reached the gated step"
        os.kill(proc.pid, signum)
        out, _ = proc.communicate(timeout=120)
    except BaseException:
        kill_group(proc)
        for pid, _ in _processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
        raise
    return proc.returncode, out


def _nothing_left(tmp_path):
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _processes_mentioning(str(tmp_path))
    for pid, _ in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, left


def test_sigterm_to_train_nproc_2_stops_every_process_and_resume_finishes(tmp_path):
    config, out = write_config(tmp_path, "run", GATED, base=TINY_RUN)
    gate = tmp_path / "gate"
    gate.mkdir()
    cmd = [sys.executable, "-m", "paddle_optim", "train", "-c", config, "--nproc", "2"]
    code, output = _stop_and_collect(_start(cmd, child_env(REL_GATE_DIR=str(gate))), signal.SIGTERM, gate, tmp_path)
    assert code == 143, output[-3000:]
    _nothing_left(tmp_path)
    _, _, states = checkpoint.load(str(out / "checkpoints" / "latest"))
    assert states["global_step"] >= 2
    code, output = run_process(cmd + ["--resume"], env=child_env())
    assert code == 0, output[-3000:]
    assert f"resumed from {out / 'checkpoints' / 'latest'}" in output
    assert '"status": "finished"' in (out / "metrics.json").read_text()


def test_sigint_to_compare_stops_its_nproc_2_cell(tmp_path):
    config, _ = write_config(tmp_path, "base", GATED, base=TINY_RUN)
    gate = tmp_path / "gate"
    gate.mkdir()
    cmd = [sys.executable, "-m", "paddle_optim", "compare", "-c", config, "--optimizers", "Momentum",
           "--nproc", "2", "--out", str(tmp_path / "cmp")]
    code, output = _stop_and_collect(_start(cmd, child_env(REL_GATE_DIR=str(gate))), signal.SIGINT, gate, tmp_path)
    assert code == 130, output[-3000:]
    _nothing_left(tmp_path)


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A finished one-process run whose directory also holds an earlier launch's ``launch_log``, and a
    damaged copy of its checkpoints (``latest.pdopt`` cut in half)."""
    tmp = tmp_path_factory.mktemp("prelaunch")
    config, out = write_config(tmp, "run", base=TINY_RUN)
    assert main(["train", "-c", config]) == 0
    setup_logging(None, keep_early=False)  # close train.log: the cases below must not write to it
    (out / "launch_log").mkdir()
    (out / "launch_log" / "workerlog.0").write_text("the earlier launch\n")
    damaged = tmp / "damaged"
    shutil.copytree(out / "checkpoints", damaged)
    pdopt = damaged / "latest.pdopt"
    pdopt.write_bytes(pdopt.read_bytes()[: pdopt.stat().st_size // 2])
    return config, out, damaged


@pytest.mark.parametrize("extra, fragment", [
    (["--resume", "/nonexistent"], "--resume: no checkpoint at /nonexistent"),
    (["--resume", "DAMAGED/latest"], "latest.pdopt"),
    (["-o", "Optimizer.learning_rate=0"], "Optimizer.learning_rate: 0.0 is out of range; allowed: > 0"),
    (["-o", "Global.epochs=" + "9" * 5000], "override Global.epochs: an integer of 5000 digits"),
    (["-o", "Model.hidden_sizes=" + "[" * 5000], "nested deeper than 100 levels"),
])
def test_errors_are_reported_before_the_launcher_starts(earlier_run, snapshot, capsys, extra, fragment):
    config, out, damaged = earlier_run
    before = snapshot(str(out))
    extra = [a.replace("DAMAGED", str(damaged)) for a in extra]
    assert main(["train", "-c", config, "--nproc", "2"] + extra) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err[-2000:]
    assert snapshot(str(out)) == before  # launch_log untouched: no launcher ran
