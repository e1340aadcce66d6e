"""Run directories in the trainer's output format, written as real files for the compare tests."""
import csv
import json
import os

import pytest


def write_run(run_dir, status="finished", metrics_per_eval=(0.5, 0.8, 0.9), losses=(2.0, 1.0, 0.5, 0.3),
              steps_per_eval=10, train_seconds=6.0, nonfinite_steps=0, momentum=0.9, lr=0.1, mode=None):
    """A run as the trainer leaves it. ``status=None``: crashed (logs, no metrics.json). ``mode``:
    metrics.json's ``metric_mode`` (None: not written, as by runs from before it existed)."""
    os.makedirs(run_dir, exist_ok=True)
    log_every = steps_per_eval * len(metrics_per_eval) // len(losses)
    with open(os.path.join(run_dir, "train_log.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "epoch", "loss", "lr", "momentum"])
        for i, loss in enumerate(losses):
            w.writerow([(i + 1) * log_every, i * len(metrics_per_eval) // len(losses), loss, lr,
                        "" if momentum is None else momentum])
    with open(os.path.join(run_dir, "eval_log.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "step", "loss", "metric"])
        for i, metric in enumerate(metrics_per_eval):
            w.writerow([i + 1, (i + 1) * steps_per_eval, 1.0 - metric, metric])
    if status is None:
        return
    global_step = steps_per_eval * len(metrics_per_eval)
    metrics = {"metric_name": "top1" if mode != "min" else "mae",
               "best_metric": min(metrics_per_eval) if mode == "min" else max(metrics_per_eval),
               "final_metric": metrics_per_eval[-1], "epochs": len(metrics_per_eval),
               "global_step": global_step, "train_seconds": train_seconds,
               "samples_per_second": 1000.0, "status": status, "nonfinite_steps": nonfinite_steps}
    if mode is not None:
        metrics["metric_mode"] = mode
    with open(os.path.join(run_dir, "metrics.json"), "w") as fh:
        json.dump(metrics, fh)


@pytest.fixture
def run_writer():
    return write_run
