"""Two CPU processes (gloo) under paddle.distributed.launch: Ranger identical on both ranks."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest


@pytest.mark.slow
def test_ranger_weights_and_slow_weights_identical_on_two_ranks(tmp_path):
    worker = Path(__file__).with_name("dist_worker.py")
    env = dict(os.environ)
    # With CUDA_VISIBLE_DEVICES set (even empty) the launcher looks for GPUs; unset it: CPU + gloo.
    env.pop("CUDA_VISIBLE_DEVICES", None)
    launched = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
         "--log_dir", str(tmp_path / "log"), str(worker), str(tmp_path)],
        timeout=180, env=env, capture_output=True, text=True)
    logs = "".join(log.read_text()[-2000:] for log in sorted((tmp_path / "log").glob("workerlog*")))
    assert launched.returncode == 0, launched.stderr[-2000:] + logs
    rank0, rank1 = (paddle.load(str(tmp_path / f"rank{r}.pdparams")) for r in (0, 1))
    for key in ("weights", "slow"):
        for a, b in zip(rank0[key], rank1[key]):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=key)
    # The ranks saw different data and training moved the weights: equality is the all-reduce.
    assert any(not np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(rank0["weights"], rank0["initial"]))
