"""Processes and devices: one trainer code path for 1 process and for ``paddle.distributed.launch``.

Under ``python -m paddle.distributed.launch --nproc_per_node N`` every process runs the same
trainer; rank and world size come from the launcher's environment. CPU runs use the gloo backend
(``PADDLE_DISTRI_BACKEND=gloo``, set here when unset). Only rank 0 writes logs, VisualDL records and
checkpoints (:attr:`World.is_main`).
"""
import contextlib
import os
import re
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence

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
