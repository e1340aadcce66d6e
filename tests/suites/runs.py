"""Running ``paddle-optim suite-train`` in a new process, as a user would."""
import subprocess
import sys


def suite_train(*args, nproc=None, cwd=None, timeout=900):
    """``paddle-optim suite-train [--nproc N] <args>`` in a new process; the CompletedProcess."""
    cmd = [sys.executable, "-m", "paddle_optim", "suite-train"] + (["--nproc", str(nproc)] if nproc else []) + list(args)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def check_ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
