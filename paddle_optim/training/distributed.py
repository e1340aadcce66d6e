"""Processes and devices: one trainer code path for 1 process and for ``paddle.distributed.launch``.

Under ``python -m paddle.distributed.launch --nproc_per_node N`` every process runs the same
trainer; rank and world size come from the launcher's environment. CPU runs use the gloo backend
(``PADDLE_DISTRI_BACKEND=gloo``, set here when unset). Only rank 0 writes logs, VisualDL records and
checkpoints (:attr:`World.is_main`).
"""
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import paddle
import paddle.distributed as dist

from ..errors import UserError


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    device: str  # "cpu" or "gpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class PeerLost(UserError):
    """Another process of the job died (killed, out of memory, crashed) or became unreachable: a
    collective operation failed. Not the user's mistake, but an expected operational failure,
    reported the same way: one ``error:`` line naming the ranks, exit code 2, no traceback."""


# What gloo / NCCL / Paddle's TCP store say when the peer of a collective is gone.
_PEER_FAILURE = re.compile(r"gloo|nccl|connection (reset|closed|refused)|broken pipe|timed? ?out|socket",
                           re.IGNORECASE)


@contextlib.contextmanager
def peer_failures_reported(world: "World", what: str):
    """Turn the ``RuntimeError`` of a collective whose peer died into a :class:`PeerLost` naming the ranks.

    Gloo names the peer in some messages (``pair_rank = 1``); otherwise, with 2 processes the lost one
    is the other rank, and with more the message lists the candidates. Any other error passes unchanged.
    """
    try:
        yield
    except RuntimeError as err:
        text = str(err)
        if world.size == 1 or not _PEER_FAILURE.search(text):
            raise
        named = re.search(r"pair_rank\s*=\s*(\d+)", text)
        others = [r for r in range(world.size) if r != world.rank]
        lost = f"rank {named.group(1)}" if named else (
            f"rank {others[0]}" if len(others) == 1 else "one of ranks " + ", ".join(map(str, others)))
        first_line = text.strip().splitlines()[-1][:200] if text.strip() else type(err).__name__
        raise PeerLost(f"rank {world.rank} of {world.size} lost {lost} during {what} ({first_line}): that process "
                       "died or is unreachable (see its launcher log, workerlog.N); the job stops. Continue "
                       "with --resume from the last checkpoint") from None


def cuda_available() -> bool:
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def resolve_device(choice: str) -> str:
    """``auto`` -> gpu when Paddle has CUDA and sees a GPU, else cpu; ``gpu`` without one is an error."""
    if choice == "gpu" and not cuda_available():
        raise UserError("Global.device: gpu requested, but this Paddle build has no CUDA or sees no GPU; "
                        "use device: auto or cpu")
    if choice == "auto":
        return "gpu" if cuda_available() else "cpu"
    return choice


def setup(device_choice: str) -> World:
    """Select the device and, under a launcher with more than one process, join the process group."""
    device = resolve_device(device_choice)
    size = dist.get_world_size()
    if device == "gpu":
        paddle.set_device(f"gpu:{dist.ParallelEnv().device_id}")
    else:
        paddle.set_device("cpu")
    if size > 1:
        if device == "cpu":
            os.environ.setdefault("PADDLE_DISTRI_BACKEND", "gloo")
        dist.init_parallel_env()
    return World(dist.get_rank() if size > 1 else 0, size, device)


def all_reduce_sum(values: Sequence[float], world: World) -> List[float]:
    """Sum a few floats over all processes (float64 so counts stay exact)."""
    if world.size == 1:
        return [float(v) for v in values]
    t = paddle.to_tensor([float(v) for v in values], dtype="float64")
    dist.all_reduce(t)
    return [float(v) for v in t.numpy()]


def barrier(world: World) -> None:
    """Wait until every process gets here (no-op for one process)."""
    if world.size > 1:
        dist.barrier()


#: The script the launcher runs in every process (paddle_optim/launch_entry.py: the command line).
LAUNCH_ENTRY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "launch_entry.py")


def launch_command(nproc: int, cli_args: Sequence[str], device: str, log_dir: Optional[str]) -> List[str]:
    """The ``paddle.distributed.launch`` line that runs ``paddle-optim <cli_args>`` (a sub-command and
    its arguments) in ``nproc`` processes."""
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(nproc)]
    if device == "gpu":
        cmd += ["--devices", ",".join(str(i) for i in range(nproc))]
    if log_dir:
        cmd += ["--log_dir", log_dir]
    return cmd + [LAUNCH_ENTRY] + list(cli_args)



#: Seconds the launcher and its ranks get to end after a forwarded SIGTERM/SIGINT before they are killed
#: (a rank dies at once; one inside a long collective may take a few seconds). Below ``compare``'s
#: 20 s, so a compare cell stopping its ``train --nproc`` never has to kill it first.
STOP_GRACE_SECONDS = 10
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def run_launcher(cmd: Sequence[str], env: Dict[str, str], cwd: Optional[str] = None) -> int:
    """Run ``paddle.distributed.launch`` (``cmd``) and return its exit code, or 128 + the signal number
    (143 for SIGTERM, 130 for SIGINT) when this process was told to stop.

    The launcher starts in a session of its own, so that a stop reaches the job exactly once and from
    here: SIGTERM, SIGINT or SIGHUP to this process is forwarded to the launcher's process group (Paddle's
    launcher then sends it to every rank, each in a session of its own); after
    :data:`STOP_GRACE_SECONDS` the launcher's group and every rank still alive are killed. Without this,
    ``kill PID`` (Docker, schedulers) ended only this process and the job trained on, re-parented.
    A SIGKILL of this process cannot be forwarded: the kernel then sends the launcher a SIGTERM
    (:func:`die_with_parent`, which each rank also calls). A rank stopped mid-step leaves the last
    committed ``latest`` (checkpoints are atomic), so ``--resume`` continues from there.
    """
    stop = _Stop()
    previous = {s: signal.signal(s, stop.forward) for s in _FORWARDED}
    # A caller (CI runner, init shim) may have started us with these blocked; the mask would be
    # inherited by the whole job. Unblock once the handlers are in place (a pending signal arrives now).
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, set(_FORWARDED))
    try:
        prctl = _prctl()  # resolved here: a forked child should not load libraries
        stop.proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, start_new_session=True,
                                     preexec_fn=(lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0))
                                     if prctl else None)
        code = stop.wait()
        return code if stop.signum is None else 128 + stop.signum
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s, handler in previous.items():
            signal.signal(s, handler)


class _Stop:
    """The first stop signal received while a launcher runs, and the processes it must end."""

    def __init__(self):
        self.proc: Optional[subprocess.Popen] = None
        self.signum: Optional[int] = None
        self.deadline = 0.0
        self.sent = False
        self.ranks: List[Tuple[int, str]] = []  # the launcher's descendants when the signal was sent

    def forward(self, signum, frame) -> None:
        if self.signum is None:  # a second Ctrl-C changes nothing: the grace period already runs
            self.signum, self.deadline = signum, time.monotonic() + STOP_GRACE_SECONDS
            if self.proc is not None:
                self._send()

    def _send(self) -> None:
        if self.sent:
            return
        self.sent = True
        self.ranks = [(pid, _start_time(pid)) for pid in descendants(self.proc.pid)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, self.signum)

    def wait(self) -> int:
        """The launcher's exit code; after a stop, also wait for its ranks, killing all at the deadline."""
        if self.signum is not None:  # it arrived while the launcher was being started
            self._send()
        while True:
            try:
                code = self.proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if self.signum is not None and time.monotonic() > self.deadline:
                    self.ranks += [(pid, _start_time(pid)) for pid in descendants(self.proc.pid)]
                    _kill(self._alive())
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
        if self.signum is not None:  # Paddle's launcher exits without waiting for its ranks
            while self._alive() and time.monotonic() < self.deadline:
                time.sleep(0.1)
            _kill(self._alive())
        return code

    def _alive(self) -> List[int]:
        """Ranks still running: same process id AND start time (never a reused id), not a zombie."""
        return [pid for pid, started in self.ranks if started and _start_time(pid) == started]


def _prctl():
    """Linux's ``prctl`` from the C library, or None (other systems)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (no-op elsewhere): a rank whose
    launcher was SIGKILLed stops instead of training on."""
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _stat(pid: int) -> List[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, ppid, ...), or [] if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _start_time(pid: int) -> str:
    """When ``pid`` started (clock ticks since boot), '' when it has ended or is a zombie."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else ""


def descendants(pid: int) -> List[int]:
    """Process ids below ``pid``, from Linux's ``/proc`` (empty elsewhere)."""
    parents: Dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        fields = _stat(int(entry)) if entry.isdigit() else []
        if len(fields) > 1:
            parents[int(entry)] = int(fields[1])
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


def _kill(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
