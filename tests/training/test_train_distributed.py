"""2-process CPU (gloo) runs through paddle.distributed.launch: identical weights on both ranks,
rank 0 alone writes outputs, and the metric matches the single-process run within noise."""
import json
import subprocess
import sys

import pytest

from launching import assert_ranks_identical, launch
from paddle_optim.cli import main

TIMEOUT = 150
# 2 ranks x batch 16 = the single process's batch 32, so both runs take the same number of steps.
CHANGES = {"Global": {"epochs": 3, "log_interval": 4}, "Data": {"batch_size": 16},
           "Model": {"name": "mlp", "hidden_sizes": [16], "dropout": 0.1},
           "Optimizer": {"name": "Momentum", "learning_rate": 0.05, "momentum": 0.9},
           "Checkpoint": {"interval_steps": 5}}


@pytest.mark.slow
def test_two_ranks_hold_identical_weights_and_match_one_process(make_config, tmp_path):
    cfg_dist, out_dist = make_config(CHANGES, "dist")
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    code, log = launch(tmp_path / "launch_log", ["train", weights_dir, cfg_dist], timeout=TIMEOUT)
    assert code == 0, log[-4000:]
    assert_ranks_identical(weights_dir, must_have=("/model/", "/optimizer/"))
    dist = json.loads((out_dist / "metrics.json").read_text())
    assert dist["world_size"] == 2 and dist["steps_per_epoch"] == 8 and dist["status"] == "finished"

    single_changes = dict(CHANGES, Data={"batch_size": 32})
    cfg_single, out_single = make_config(single_changes, "single")
    assert main(["train", "-c", cfg_single]) == 0
    single = json.loads((out_single / "metrics.json").read_text())
    assert single["global_step"] == dist["global_step"]
    assert abs(single["final_metric"] - dist["final_metric"]) <= 0.05


@pytest.mark.slow
def test_nproc_option_launches_the_same_trainer_and_resumes(make_config):
    cfg, out = make_config({"Global": {"epochs": 1}, "Data": {"batch_size": 16}}, "nproc")

    def paddle_optim_train(*extra):
        proc = subprocess.run([sys.executable, "-m", "paddle_optim", "train", "-c", cfg, "--nproc", "2", *extra],
                              timeout=TIMEOUT, capture_output=True, text=True)
        logs = "".join(p.read_text() for p in (out / "launch_log").glob("workerlog.*"))
        assert proc.returncode == 0, proc.stderr[-2000:] + logs[-3000:]
        return json.loads((out / "metrics.json").read_text())

    metrics = paddle_optim_train()
    assert metrics["world_size"] == 2 and metrics["global_step"] == 8
    # only rank 0 writes: one VisualDL record file
    assert len(list((out / "vdl").glob("vdlrecords.*"))) == 1
    metrics = paddle_optim_train("-o", "Global.epochs=2", "--resume")  # both ranks continue from rank 0's files
    assert metrics["epochs"] == 2 and metrics["global_step"] == 16
