"""``paddle-optim suite-train [--nproc N] SCRIPT [ARGS...]``: a suite's training script with our names.

The script (``tools/train.py`` of PaddleDetection, PaddleSeg, PaddleClas or PaddleOCR, or any
script of the same shape) runs as ``__main__`` in this process, from the suite's root directory
(the parent of ``tools/``, which is also put on ``sys.path`` as the suites' scripts expect), after
:func:`paddle_optim.suites.register` for that suite (the one whose package sits in the root; else
every importable one). No suite file is edited. With ``--nproc N`` the same command
runs in N processes under ``paddle.distributed.launch`` (CPU: gloo), each registering for itself.
"""
import os
import runpy
import sys
from typing import Optional, Sequence

from ..errors import UserError
from . import register, suite_at
from ..training.distributed import launch_command, resolve_device, run_launcher

def suite_root(script: str) -> str:
    """The directory the suite's scripts run from: the parent of ``tools/``, else the script's own."""
    here = os.path.dirname(os.path.abspath(script))
    return os.path.dirname(here) if os.path.basename(here) == "tools" else here


def run_script(script: str, args: Sequence[str], suite: Optional[str], replace_native: bool) -> int:
    """Register, then run ``script`` as ``__main__`` from the suite's root; its exit code."""
    if not os.path.isfile(script):
        raise UserError(f"suite-train: script '{script}' does not exist")
    script = os.path.abspath(script)
    root = suite_root(script)
    os.chdir(root)
    # As `python tools/train.py` would: the script's directory first, the suite root importable.
    sys.path[:0] = [os.path.dirname(script)] + ([root] if root not in sys.path else [])
    register(suite or suite_at(root), replace_native=replace_native)
    sys.argv = [script] + list(args)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1
    except Exception as err:
        # PaddleSeg re-raises any error of a component's constructor as a RuntimeError; a bad key
        # in our adapter's section still deserves its one error line.
        if isinstance(err.__context__, UserError):
            raise err.__context__ from None
        raise
    return 0


def suite_train_command(args) -> int:
    forwarded = (["--suite", args.suite] if args.suite else []) + (["--replace-native"] if args.replace_native else [])
    forwarded += [os.path.abspath(args.script)] + list(args.args)
    if args.nproc is None:
        return run_script(args.script, args.args, args.suite, args.replace_native)
    if not os.path.isfile(args.script):
        raise UserError(f"suite-train: script '{args.script}' does not exist")
    env = dict(os.environ)
    device = resolve_device("auto")
    if device == "cpu":
        env.setdefault("PADDLE_DISTRI_BACKEND", "gloo")  # CPU ranks talk over gloo
    log_dir = os.path.abspath(args.log_dir) if args.log_dir else None
    return run_launcher(launch_command(args.nproc, ["suite-train"] + forwarded, device, log_dir), env,
                        cwd=suite_root(args.script))
