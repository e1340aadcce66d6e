"""2-process CPU (gloo) runs through paddle.distributed.launch: identical weights on both ranks,
rank 0 alone writes outputs, and the metric matches the single-process run within noise."""
import json
import subprocess
import sys

import numpy as np
import pytest

from launching import assert_ranks_identical, launch
from paddle_optim.cli import main

TIMEOUT = 150
# 2 ranks x batch 16 = the single process's batch 32, so both runs take the same number of steps.
CHANGES = {"Global": {"epochs": 3, "log_interval": 4}, "Data": {"batch_size": 16},
           "Model": {"name": "mlp", "hidden_sizes": [16], "dropout": 0.1},
           "Optimizer": {"name": "Momentum", "learning_rate": 0.05, "momentum": 0.9},
           "Checkpoint": {"interval_steps": 5}, "Metric": [{"name": "Accuracy", "topk": [1, 2]}]}
#: Float targets, every binary and regression metric, a validation set the ranks split unevenly (67 samples).
MULTILABEL = {"Global": {"epochs": 2}, "Data": {"dataset": {"name": "multilabel", "num_samples": 128, "num_val": 67,
                                                            "num_features": 8, "num_labels": 3}, "batch_size": 16,
                                                "eval_batch_size": 8},
              "Loss": {"name": "BCEWithLogitsLoss"},
              "Metric": [{"name": "Auc"}, {"name": "Precision"}, {"name": "Recall"}, {"name": "MAE"},
                         {"name": "RMSE"}, {"name": "R2"}]}
#: Metrics whose states are counts: the sharded evaluation gives the very same number.
COUNTED = ("top1", "top2", "auc", "precision", "recall")


def train_on_two_ranks(make_config, tmp_path, changes, name):
    """``(dump directory of both ranks, output_dir)`` of ``changes`` trained by 2 processes."""
    cfg, out = make_config(changes, name)
    weights_dir = tmp_path / f"{name}_dump"
    weights_dir.mkdir()
    code, log = launch(tmp_path / f"{name}_launch_log", ["train", weights_dir, cfg], timeout=TIMEOUT)
    assert code == 0, log[-4000:]
    return weights_dir, out


@pytest.mark.slow
def test_two_ranks_hold_identical_weights_and_match_one_process(make_config, tmp_path):
    weights_dir, out_dist = train_on_two_ranks(make_config, tmp_path, CHANGES, "dist")
    assert_ranks_identical(weights_dir, must_have=("/model/", "/optimizer/"))
    dist = json.loads((out_dist / "metrics.json").read_text())
    assert dist["world_size"] == 2 and dist["steps_per_epoch"] == 8 and dist["status"] == "finished"
    assert_sharded_evaluation_is_one_process(weights_dir, {"loss", "top1", "top2"})

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


def assert_sharded_evaluation_is_one_process(weights_dir, names):
    """Both ranks report, for the trained weights, what one process evaluating everything reports:
    counted metrics exactly, float sums to rounding (they are added in another order)."""
    for rank in (0, 1):
        dump = np.load(weights_dir / f"rank{rank}.npz")
        ranks, single = ({k.rpartition("/")[2]: float(dump[k]) for k in dump.files if k.startswith(f"/evaluation/{part}/")}
                         for part in ("ranks", "one_process"))
        assert set(ranks) == set(single) == set(names)
        for name in names:
            if name in COUNTED:
                assert ranks[name] == single[name], name
            elif name == "loss":  # a float32 mean per batch, and the batches differ: float32 rounding
                assert ranks[name] == pytest.approx(single[name], rel=1e-6), name
            else:  # float64 sums of the same per-sample values
                assert ranks[name] == pytest.approx(single[name], rel=1e-9, abs=1e-12), name


@pytest.mark.slow
def test_metrics_over_two_ranks_are_those_of_one_process(make_config, tmp_path):
    weights_dir, out = train_on_two_ranks(make_config, tmp_path, MULTILABEL, "multilabel")
    assert_sharded_evaluation_is_one_process(weights_dir, {"loss", "auc", "precision", "recall", "mae", "rmse", "r2"})
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["metric_name"] == "auc" and metrics["metric_mode"] == "max"
