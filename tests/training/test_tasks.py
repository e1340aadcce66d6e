"""Tasks other than single-label classification, end to end through ``paddle-optim train``: regression
and multi-label on the built-in generated sets, losses by name and by import path (a dict of terms),
metrics and the monitor's direction (best_model, early stopping, ReduceOnPlateau's lint)."""
import json
import math
import textwrap

import numpy as np
import paddle
import pytest

from paddle_optim.cli import main
from paddle_optim.compare.runs import read_columns
from paddle_optim.training.metrics import MAE, R2, RMSE

REGRESSION = {"Global": {"epochs": 6}, "Data": {"dataset": {"name": "regression", "num_samples": 512, "num_val": 128,
                                                            "num_targets": 2}},
              "Model": {"name": "mlp", "hidden_sizes": [32]}, "Loss": {"name": "MSELoss"},
              "Metric": [{"name": "MAE"}, {"name": "RMSE"}, {"name": "R2"}],
              "Optimizer": {"name": "Adam", "learning_rate": 0.01}}
MULTILABEL = {"Global": {"epochs": 4}, "Data": {"dataset": {"name": "multilabel", "num_samples": 512, "num_val": 128}},
              "Model": {"name": "mlp", "hidden_sizes": [32]}, "Loss": {"name": "BCEWithLogitsLoss"},
              "Metric": [{"name": "Precision"}, {"name": "Recall"}, {"name": "Auc", "monitor": True}],
              "Optimizer": {"name": "Adam", "learning_rate": 0.01}}

# A user module: a loss returning a dict of terms, a loss with a wrong output, and a metric that reports
# a scripted value per evaluation (so that a test can say where the best is).
USER_CODE = """
import paddle
import paddle.nn.functional as F


def mse_plus_l1(outputs, targets, l1_weight=0.1):
    mse, l1 = F.mse_loss(outputs, targets), F.l1_loss(outputs, targets)
    return {"loss": mse + l1_weight * l1, "mse": mse, "l1": l1}


def per_sample(outputs, targets):
    return ((outputs - targets) ** 2).mean(axis=1)


class Scripted(paddle.metric.Metric):
    \"\"\"Reports VALUES[i] at the i-th evaluation of the process.\"\"\"
    VALUES = [0.5, 0.3, 0.6, 0.55, 0.7, 0.65]
    calls = 0
    state_names = ()

    def __init__(self):
        super().__init__()

    def reset(self):
        pass

    def update(self, outputs, targets):
        pass

    def accumulate(self):
        Scripted.calls += 1
        return Scripted.VALUES[(Scripted.calls - 2) % len(Scripted.VALUES)]  # call 1: the dry run

    def name(self):
        return "scripted"
"""


@pytest.fixture
def user_code(tmp_path, monkeypatch):
    (tmp_path / "task_code.py").write_text(textwrap.dedent(USER_CODE))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    import sys
    sys.modules.pop("task_code", None)
    return importlib.import_module("task_code")


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


def _trained(make_config, changes):
    """``(metrics.json, eval_log.csv columns, VisualDL scalar tags, output_dir)`` of a run of ``changes``."""
    from visualdl import LogReader

    cfg, out = make_config(changes)
    assert main(["train", "-c", cfg]) == 0
    reader = LogReader(file_path=str(next((out / "vdl").glob("vdlrecords.*"))))
    return _metrics(out), read_columns(str(out / "eval_log.csv")), set(reader.get_tags()["scalar"]), out


def test_regression_trains_end_to_end_and_reports_mae_rmse_r2(make_config):
    metrics, evals, tags, _ = _trained(make_config, REGRESSION)
    assert {"eval/mae", "eval/rmse", "eval/r2", "eval/loss", "train/loss"} <= tags
    assert metrics["metric_name"] == "mae" and metrics["metric_mode"] == "min"
    assert list(evals) == ["epoch", "step", "loss", "metric", "rmse", "r2"]
    assert min(evals["metric"]) < 0.75 * evals["metric"][0] and max(evals["r2"]) > 0.8
    assert metrics["best_metric"] == min(evals["metric"])  # lower is better
    assert metrics["best_epoch"] == 1 + int(np.argmin(evals["metric"]))
    # the eval loss is the MSE over every target value: RMSE squared
    assert evals["loss"][-1] == pytest.approx(evals["rmse"][-1] ** 2, rel=1e-5)
    assert set(metrics["final_metrics"]) == {"loss", "mae", "rmse", "r2"}


def test_multilabel_trains_end_to_end_with_the_monitor_it_names(make_config):
    metrics, evals, tags, _ = _trained(make_config, MULTILABEL)
    assert metrics["metric_name"] == "auc" and metrics["metric_mode"] == "max"
    assert list(evals) == ["epoch", "step", "loss", "metric", "precision", "recall"]
    assert evals["metric"][-1] > 0.9 and evals["precision"][-1] > 0.75 and evals["recall"][-1] > 0.75
    assert {"eval/auc", "eval/precision", "eval/recall", "eval/loss"} <= tags


def test_a_loss_returning_terms_optimises_loss_and_logs_every_term(make_config, user_code):
    _, _, tags, out = _trained(make_config, dict(REGRESSION, Global={"epochs": 2},
                                                 Loss={"name": "task_code:mse_plus_l1", "l1_weight": 0.5}))
    rows = read_columns(str(out / "train_log.csv"))
    assert list(rows) == ["step", "epoch", "loss", "lr", "momentum", "mse", "l1"]
    for loss, mse, l1 in zip(rows["loss"], rows["mse"], rows["l1"]):  # interval means of each term
        assert loss == pytest.approx(mse + 0.5 * l1, rel=1e-5)
    assert {"train/mse", "train/l1", "train/loss"} <= tags


@pytest.mark.parametrize("mode, best_epoch, epochs", [("min", 2, 4), ("max", 5, 6)])
def test_the_monitor_direction_drives_best_model_and_early_stopping(make_config, user_code, mode, best_epoch, epochs):
    """Scripted monitor 0.5, 0.3, 0.6, 0.55, 0.7, 0.65 with patience 2: lower-is-better is best at epoch 2
    and stops after epoch 4; higher-is-better improves at 3 and 5 and runs all 6 epochs."""
    cfg, out = make_config(dict(REGRESSION, Global={"epochs": 6, "early_stop_patience": 2},
                                Checkpoint={"keep_last": 0},
                                Metric=[{"name": "task_code:Scripted", "mode": mode}, {"name": "MAE"}]))
    assert main(["train", "-c", cfg]) == 0
    metrics = _metrics(out)
    assert (metrics["best_epoch"], metrics["epochs"]) == (best_epoch, epochs)
    assert metrics["early_stopped"] is (epochs < 6) and metrics["metric_mode"] == mode
    best = paddle.load(str(out / "checkpoints" / "best_model.pdparams"))
    of_epoch = paddle.load(str(out / "checkpoints" / f"epoch_{best_epoch}.pdparams"))
    for key in best:
        np.testing.assert_array_equal(best[key].numpy(), of_epoch[key].numpy())
    assert not (out / "checkpoints" / f"epoch_{epochs + 1}.pdparams").exists()


def test_reduce_on_plateau_is_checked_against_the_monitor_direction(make_config, capsys):
    plateau = {"name": "ReduceOnPlateau", "metric": "mae", "mode": "max", "patience": 1}
    cfg, out = make_config(dict(REGRESSION, Global={"epochs": 1}, LRScheduler=plateau))
    assert main(["train", "-c", cfg]) == 0
    assert "LRScheduler.mode: 'max' with metric 'mae' cuts the rate whenever mae stops rising" in capsys.readouterr().out
    cfg, _ = make_config(dict(REGRESSION, Global={"epochs": 1}, LRScheduler=dict(plateau, metric="rsme")), "rsme")
    assert main(["train", "-c", cfg]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: LRScheduler.metric: unknown evaluation metric 'rsme' (did you mean 'rmse'?); allowed: loss, mae, r2, "
                   "rmse (the evaluation loss and the names the Metric section reports)"]


@pytest.mark.parametrize("changes, line", [
    ({"Loss": {"name": "task_code:mse_plus_l1", "l2_weight": 1.0}},
     "error: Loss.l2_weight: not an argument of mse_plus_l1 (did you mean 'l1_weight'?); allowed: l1_weight"),
    ({"Loss": {"name": "task_code:per_sample"}},
     "error: Loss.name: task_code:per_sample must return one number per batch"),
    ({"Loss": {"name": "task_code:nosuch"}}, "error: Loss.name: module 'task_code' has no 'nosuch'"),
    ({"Metric": [{"name": "task_code:Scripted"}]},
     "error: Metric[0].mode: is required for task_code:Scripted: max or min"),
    ({"Metric": [{"name": "task_code:Scripted", "mode": "min", "size": 3}]},
     "error: Metric[0].size: not an argument of Scripted"),
    ({"Metric": [{"name": "Accuracy"}]}, "error: Metric[0]: top1 needs logits (N, classes) and class indices (N,)"),
    ({"Loss": {"name": "CrossEntropyLoss"}, "Metric": [{"name": "MAE"}]},
     "error: Loss.name: CrossEntropyLoss needs class-index targets (N,) for outputs (N, classes)"),
])
def test_a_loss_or_metric_that_does_not_fit_is_one_error_before_anything_is_written(
        make_config, user_code, capsys, changes, line):
    cfg, out = make_config(dict(REGRESSION, **changes))
    assert main(["train", "-c", cfg]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(line), err
    assert not out.exists()


def test_regression_metrics_are_the_formulas_over_every_target_value():
    rng = np.random.RandomState(0)
    batches = [(rng.randn(n, 2), rng.randn(n, 2)) for n in (5, 7, 1)]
    p = np.concatenate([b[0] for b in batches]).ravel()
    y = np.concatenate([b[1] for b in batches]).ravel()
    want = {MAE: np.abs(p - y).mean(), RMSE: math.sqrt(((p - y) ** 2).mean()),
            R2: 1 - ((p - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()}
    for cls, value in want.items():
        metric = cls()
        for preds, labels in batches:
            metric.update(preds, labels)
        assert metric.accumulate() == pytest.approx(value, rel=1e-12)
        metric.reset()
        assert metric.count == 0


def test_a_resumed_run_with_loss_terms_and_a_min_monitor_continues_exactly(make_config, user_code):
    """Stopped after epoch 2 and resumed to 4 (log intervals of 5 steps straddle the epoch end: the
    terms' partial sums are in the checkpoint): the same tables and summary as one run of 4 epochs."""
    changes = dict(REGRESSION, Global={"epochs": 4, "log_interval": 5},
                   Loss={"name": "task_code:mse_plus_l1"}, Metric=[{"name": "RMSE"}, {"name": "MAE"}])
    cfg, whole = make_config(changes, "whole")
    assert main(["train", "-c", cfg]) == 0
    cfg, parts = make_config(changes, "parts")
    assert main(["train", "-c", cfg, "-o", "Global.epochs=2"]) == 0
    assert main(["train", "-c", cfg, "--resume"]) == 0
    for table in ("train_log.csv", "eval_log.csv"):
        assert read_columns(str(parts / table)) == read_columns(str(whole / table)), table
    a, b = _metrics(whole), _metrics(parts)
    for key in ("best_metric", "best_epoch", "final_metrics", "metric_name", "metric_mode", "global_step"):
        assert a[key] == b[key], key


USER_DATA = """
import numpy as np
import paddle


class Values(paddle.io.Dataset):
    \"\"\"y = x . w + noise as float targets (N,), served one sample at a time (the DataLoader path).\"\"\"

    def __init__(self, mode):
        rng = np.random.RandomState(0 if mode == "train" else 1)
        self.x = rng.randn(256 if mode == "train" else 64, 4).astype("float32")
        self.y = (self.x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32")).reshape(-1, 1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]
"""


@pytest.mark.parametrize("source", ["npz", "user"])
def test_float_targets_from_an_npz_or_a_user_data_set_train_a_regression(make_config, tmp_path, monkeypatch, source):
    """``targets: values`` of an npz (a 1-D array, read as (N, 1)) and a user paddle.io.Dataset of float
    targets (collated by paddle.io.DataLoader) train the same kind of model to a low error."""
    if source == "npz":
        rng = np.random.RandomState(0)
        x = rng.randn(320, 4).astype("float32")
        np.savez(tmp_path / "values.npz", x=x, y=x @ np.array([1.0, -2.0, 0.5, 0.0]))
        dataset = {"name": "npz", "train": str(tmp_path / "values.npz"), "targets": "values"}
    else:
        (tmp_path / "value_data.py").write_text(textwrap.dedent(USER_DATA))
        monkeypatch.syspath_prepend(str(tmp_path))
        dataset = {"name": "value_data:Values", "num_classes": 1}
    metrics, evals, _, _ = _trained(make_config, dict(REGRESSION, Global={"epochs": 8}, Data={"dataset": dataset},
                                                      Metric=[{"name": "R2"}, {"name": "MAE"}]))
    assert metrics["metric_name"] == "r2" and metrics["best_metric"] > 0.98, evals
