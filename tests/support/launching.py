"""The one way tests start processes: subprocesses that always end, ``paddle.distributed.launch`` of
the one worker (``dist_worker.py``), and the one check that the ranks of a run agree."""
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SUPPORT = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(SUPPORT, "dist_worker.py")
TIMEOUT = 180


def child_env(*paths, **extra):
    """A subprocess's environment: ``paths`` (and this directory) importable, unbuffered output, gloo.

    With CUDA_VISIBLE_DEVICES set (even empty) the launcher looks for GPUs; it is unset: CPU + gloo.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1", PADDLE_DISTRI_BACKEND="gloo")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env["PYTHONPATH"] = os.pathsep.join([*paths, SUPPORT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


def run_process(cmd, timeout=TIMEOUT, env=None, cwd=None):
    """Run ``cmd`` in its own process group; on timeout kill the whole group and fail the test.
    Returns ``(exit code, stdout + stderr)``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not end within {timeout} s (hang):\n{out[-3000:]}")
    return proc.returncode, out


def launcher(log_dir, *options):
    """The ``paddle.distributed.launch`` command line, up to the script."""
    return [sys.executable, "-m", "paddle.distributed.launch", "--log_dir", str(log_dir), *options]


def launch(log_dir, args, nproc=2, env=None, timeout=TIMEOUT, cwd=None):
    """``nproc`` processes of the worker ``dist_worker.py args...`` on this node; ``(exit code, the
    launcher's output followed by every worker's log)``."""
    cmd = launcher(log_dir, "--nproc_per_node", str(nproc)) + [WORKER, *map(str, args)]
    code, out = run_process(cmd, timeout, env=env or child_env(), cwd=cwd)
    return code, out + worker_logs(log_dir)


def worker_logs(log_dir) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(Path(log_dir).glob("workerlog.*")))


def rank_arrays(dump, ranks=(0, 1)):
    """The arrays each rank's worker wrote (``DUMP/rank<r>.npz``)."""
    return [dict(np.load(os.path.join(str(dump), f"rank{r}.npz"))) for r in ranks]


def assert_ranks_identical(dump, must_have=()):
    """Every rank wrote the same arrays, bit for bit (names containing each of ``must_have`` among
    them); returns rank 0's."""
    first, *others = rank_arrays(dump)
    for fragment in must_have:
        assert any(fragment in k for k in first), (fragment, sorted(first))
    for other in others:
        assert sorted(first) == sorted(other)
        for key in first:
            np.testing.assert_array_equal(first[key], other[key], err_msg=key)
    return first


def kill_group(proc):
    """SIGKILL ``proc``'s process group and every descendant of ``proc``: ``paddle.distributed.launch``
    starts each worker in a session of its own, out of the launcher's group."""
    for pid in descendants(proc.pid) + [proc.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def descendants(pid):
    """Process ids below ``pid`` (children first found through Linux's ``/proc/<pid>/stat``)."""
    parents = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # the process ended meanwhile
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [c for c, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found
