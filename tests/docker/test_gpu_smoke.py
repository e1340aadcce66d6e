"""scripts/gpu_smoke.sh and its Python part, on a machine without a GPU.

The shell script must parse; its CPU rows must pass and its GPU rows say ``SKIP (no GPU)`` (or FAIL
under ``--require-gpu``); the table's exit code follows the rows; the 2-GPU row's worker and rank
comparison run for real on two CPU processes (gloo), which is what the row does on two GPUs.
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import paddle
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_smoke.sh"


def _load_smoke():
    spec = importlib.util.spec_from_file_location("gpu_smoke", ROOT / "scripts" / "gpu_smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


smoke = _load_smoke()
NO_GPU = smoke._gpu_count() == 0


def _table_rows(stdout: str) -> dict:
    """check name -> result column, read from the printed table."""
    rows = {}
    for line in stdout.splitlines():
        match = re.match(r"((?:cpu|gpu|2 GPUs): .+?)\s{2,}(PASS|FAIL|SKIP \([^)]*\))", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_shell_script_parses():
    proc = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cpu_rows_pass_and_gpu_rows_skip():
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHON": sys.executable})
    rows = _table_rows(proc.stdout)
    assert [name for name, _ in smoke.all_checks()] == list(rows), proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, status in rows.items():
        if name.startswith("cpu:"):
            assert status == "PASS", name
        elif NO_GPU:
            assert status == "SKIP (no GPU)", name


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_require_gpu_turns_missing_gpu_into_failures():
    rows, _ = smoke.run_checks([("gpu: CUDA place", smoke.check_cuda_place)], require_gpu=True)
    assert rows == [smoke.Row("gpu: CUDA place", smoke.FAIL, "no GPU (--require-gpu)")]


def test_only_a_missing_gpu_fails_under_require_gpu():
    def unsupported():
        raise smoke.Skip("bfloat16 needs compute capability >= 8.0, this GPU has 7.5")

    rows, _ = smoke.run_checks([("gpu: AMP O1 bfloat16 RAdam", unsupported)], require_gpu=True)
    assert rows[0].status == "SKIP (bfloat16 needs compute capability >= 8.0, this GPU has 7.5)"


def test_a_failing_row_is_reported_with_its_traceback():
    def broken():
        raise AssertionError("loss 1 -> 2: not halved in 60 steps")

    rows, tracebacks = smoke.run_checks([("cpu: broken", broken), ("cpu: fine", lambda: "ok")], require_gpu=False)
    assert rows == [smoke.Row("cpu: broken", smoke.FAIL, "loss 1 -> 2: not halved in 60 steps"),
                    smoke.Row("cpu: fine", smoke.PASS, "ok")]
    assert len(tracebacks) == 1 and "AssertionError" in tracebacks[0]
    assert "cpu: broken  FAIL    loss 1 -> 2" in smoke.format_table(rows)


def test_two_process_worker_keeps_ranks_identical(tmp_path):
    # On GPUs the row launches with --devices 0,1; on this CPU machine the same worker runs on gloo.
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", str(tmp_path / "log"), str(ROOT / "scripts" / "gpu_smoke.py"),
                           "--ddp-worker", str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "bit-identical on both ranks" in smoke.compare_ranks(tmp_path)


def test_rank_comparison_notices_a_difference(tmp_path):
    import numpy as np

    np.savez(tmp_path / "rank0.npz", np.zeros(3))
    np.savez(tmp_path / "rank1.npz", np.array([0.0, 0.0, 1e-7]))
    with pytest.raises(AssertionError, match="differ between ranks"):
        smoke.compare_ranks(tmp_path)


def test_gpu_rows_exercise_every_optimizer_amp_level_and_dtype():
    names = [name for name, _ in smoke.all_checks()]
    for optimizer in smoke.OPTIMIZERS:
        for level in ("O1", "O2"):
            for dtype in ("float16", "bfloat16"):
                assert f"gpu: AMP {level} {dtype} {optimizer}" in names
        assert f"gpu: {optimizer} kernels match CPU" in names
    assert paddle.__version__  # the rows are built against the installed Paddle
