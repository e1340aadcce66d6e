"""End-to-end training runs in-process through the CLI: outputs, logs, VisualDL, accumulation, EMA,
non-finite steps, resume."""
import csv
import json

import numpy as np
import paddle

from paddle_optim.cli import main
from paddle_optim.config import load_config
from paddle_optim.sections import resolve_config
from paddle_optim.schedulers import build_schedule


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def train(config_path, *extra):
    return main(["train", "-c", config_path, *extra])


def final_weights(out, prefix="latest"):
    return paddle.load(str(out / "checkpoints" / f"{prefix}.pdparams"))


def test_run_writes_every_output_with_the_agreed_names(make_config):
    cfg, out = make_config({"LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 0.001,
                                            "warmup": {"steps": 3, "start_lr": 0.01}}})
    assert train(cfg) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("metric_name", "best_metric", "final_metric", "epochs", "global_step", "train_seconds",
                "samples_per_second", "status", "nonfinite_steps"):
        assert key in metrics, key
    assert metrics["status"] == "finished" and metrics["epochs"] == 2 and metrics["global_step"] == 16
    assert metrics["best_metric"] > 0.8  # synthetic clusters are easy
    train_rows = read_csv(out / "train_log.csv")
    assert list(train_rows[0]) == ["step", "epoch", "loss", "lr", "momentum"]
    assert [int(r["step"]) for r in train_rows] == list(range(2, 17, 2))  # every log_interval = 2 steps
    eval_rows = read_csv(out / "eval_log.csv")
    assert list(eval_rows[0]) == ["epoch", "step", "loss", "metric"] and len(eval_rows) == 2
    for name in ("config.yaml", "curves.png", "train.log"):
        assert (out / name).stat().st_size > 0
    for name in ("latest", "best_model", "epoch_2"):
        for suffix in (".pdparams", ".pdopt", ".pdstates"):
            assert (out / "checkpoints" / (name + suffix)).exists()
    assert not (out / "checkpoints" / "epoch_1.pdparams").exists()  # keep_last: 1
    saved = load_config(str(out / "config.yaml"))  # the resolved config, defaults filled in
    assert saved["Optimizer"]["momentum"] == 0.9 and saved["Global"]["accumulate_steps"] == 1


def test_visualdl_train_lr_equals_the_schedule_sequence(make_config):
    from visualdl import LogReader

    cfg, out = make_config({"Global": {"log_interval": 1},
                            "LRScheduler": {"name": "StepDecay", "step_size": 1, "gamma": 0.5,
                                            "warmup": {"steps": 4, "start_lr": 0.01}},
                            "MomentumScheduler": {"name": "Linear", "start": 0.8, "end": 0.95, "length": 1}})
    assert train(cfg) == 0
    reader = LogReader(file_path=str(next((out / "vdl").glob("vdlrecords.*"))))
    logged = {tag: {r.id: r.value for r in reader.get_data("scalar", tag)}
              for tag in ("train/lr", "train/momentum", "train/loss", "train/grad_norm", "train/samples_per_sec")}
    resolved = resolve_config(load_config(cfg))
    schedule = build_schedule(resolved, 8)
    expected_lr, expected_momentum = [], []
    for _ in range(16):
        expected_lr.append(schedule.current_lr())
        expected_momentum.append(schedule.current_momentum())
        schedule.step()
    assert sorted(logged["train/lr"]) == list(range(1, 17))
    np.testing.assert_allclose([logged["train/lr"][s] for s in range(1, 17)], expected_lr, rtol=1e-6)
    np.testing.assert_allclose([logged["train/momentum"][s] for s in range(1, 17)], expected_momentum, rtol=1e-6)
    assert all(len(v) == 16 for v in logged.values())
    assert len(reader.get_data("scalar", "eval/top1")) == 2


def test_accumulation_equals_the_large_batch(make_config):
    # SGD without momentum on an MLP without BatchNorm: 2 x 16 accumulated == one batch of 32.
    common = {"Optimizer": {"name": "SGD", "learning_rate": 0.5}, "Data": {"shuffle": False}}
    cfg_big, out_big = make_config(dict(common, Data={"batch_size": 32, "shuffle": False}), "big")
    cfg_acc, out_acc = make_config(dict(common, Data={"batch_size": 16, "shuffle": False},
                                        Global={"accumulate_steps": 2}), "acc")
    assert train(cfg_big) == 0 and train(cfg_acc) == 0
    big, acc = final_weights(out_big), final_weights(out_acc)
    for key in big:
        np.testing.assert_allclose(acc[key].numpy(), big[key].numpy(), rtol=1e-5, atol=1e-6)
    assert json.loads((out_acc / "metrics.json").read_text())["global_step"] == 16


def test_non_finite_losses_skip_steps_then_stop_with_status_diverged(make_config, capsys):
    cfg, out = make_config({"Optimizer": {"name": "SGD", "learning_rate": 1.0e30},
                            "Global": {"max_nonfinite_steps": 3, "epochs": 3}})
    assert train(cfg) == 2
    err = capsys.readouterr().err
    assert "training diverged: 3 non-finite steps in a row" in err and "Traceback" not in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["nonfinite_steps"] == 3
    assert "non-finite loss at step" in (out / "train.log").read_text()


def test_ema_is_saved_and_used_for_evaluation(make_config):
    cfg, out = make_config({"EMA": {"enable": True, "decay": 0.9}})
    assert train(cfg) == 0
    states = paddle.load(str(out / "checkpoints" / "latest.pdstates"))
    assert states["ema"]["updates"] == 16
    weights = final_weights(out)
    shadow = states["ema"]["shadow"]
    assert set(shadow) == set(weights)
    assert not np.allclose(np.asarray(shadow["net.1.weight"]), weights["net.1.weight"].numpy())


def test_resume_at_an_epoch_boundary_continues_exactly(make_config):
    cfg_full, out_full = make_config({"Global": {"epochs": 3}, "Optimizer": {"name": "Adam", "learning_rate": 0.01}},
                                     "full")
    cfg_part, out_part = make_config({"Global": {"epochs": 3}, "Optimizer": {"name": "Adam", "learning_rate": 0.01}},
                                     "part")
    assert train(cfg_full) == 0
    assert train(cfg_part, "-o", "Global.epochs=1") == 0   # stop after one epoch ...
    assert train(cfg_part, "--resume") == 0                 # ... and continue to three
    full, part = final_weights(out_full), final_weights(out_part)
    for key in full:
        np.testing.assert_array_equal(part[key].numpy(), full[key].numpy())
    for name in ("train_log.csv", "eval_log.csv"):
        assert read_csv(out_part / name) == read_csv(out_full / name), name


def test_user_model_and_data_by_import_path(make_config, tmp_path, monkeypatch):
    (tmp_path / "user_task.py").write_text(
        "import numpy as np\n"
        "import paddle\n"
        "from paddle_optim.data.arrays import ArrayDataset\n\n"
        "def blobs(mode, n=64):\n"
        "    rng = np.random.RandomState(0 if mode == 'train' else 1)\n"
        "    y = rng.randint(0, 2, n if mode == 'train' else 32)\n"
        "    return ArrayDataset(rng.randn(len(y), 5) + 3 * y[:, None], y, 2)\n\n"
        "class Net(paddle.nn.Layer):\n"
        "    def __init__(self, num_classes, width=8):\n"
        "        super().__init__()\n"
        "        self.body = paddle.nn.Sequential(paddle.nn.Linear(5, width), paddle.nn.Tanh(),\n"
        "                                         paddle.nn.Linear(width, num_classes))\n\n"
        "    def forward(self, x):\n"
        "        return self.body(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg, out = make_config({"Data": {"dataset": {"name": "user_task:blobs", "kwargs": {"n": 96}, "num_classes": 2},
                                     "batch_size": 16},
                            "Model": {"name": "user_task:Net", "width": 6}})
    assert train(cfg) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps_per_epoch"] == 6 and metrics["best_metric"] > 0.9
    assert final_weights(out)["body.0.weight"].shape == [5, 6]


def test_image_folder_and_npz_data_train_end_to_end(make_config, tmp_path):
    from PIL import Image

    rng = np.random.RandomState(0)
    for split, count in (("train", 12), ("val", 4)):
        for label, level in (("dark", 30), ("light", 220)):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(count):
                pixels = np.clip(level + rng.randn(8, 8, 3) * 10, 0, 255).astype("uint8")
                Image.fromarray(pixels).save(tmp_path / split / label / f"{i}.png")
    cfg, out = make_config({"Data": {"dataset": {"name": "folder", "train_dir": str(tmp_path / "train"),
                                                 "val_dir": str(tmp_path / "val"), "image_size": [8, 8]},
                                     "batch_size": 8},
                            "Model": {"name": "cnn", "channels": [4]},
                            "Global": {"epochs": 3}}, "folder")
    assert train(cfg) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps_per_epoch"] == 3 and metrics["best_metric"] == 1.0

    np.savez(tmp_path / "arrays.npz", x=rng.randn(80, 6).astype("float32") + np.repeat([0.0, 4.0], 40)[:, None],
             y=np.repeat([0, 1], 40))
    cfg, out = make_config({"Data": {"dataset": {"name": "npz", "train": str(tmp_path / "arrays.npz")},
                                     "batch_size": 16}}, "npz")
    assert train(cfg) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps_per_epoch"] == 4 and metrics["best_metric"] > 0.9


def _npz_config(make_config, tmp_path, labels_shape, name, num_classes=None):
    rng = np.random.RandomState(3)
    y = rng.randint(0, 3, 240)
    x = (rng.randn(240, 6) + 2.0 * np.eye(3)[y] @ rng.randn(3, 6)).astype("float32")
    path = tmp_path / f"{name}.npz"
    np.savez(path, x=x, y=y.reshape(labels_shape))
    dataset = {"name": "npz", "train": str(path)}
    if num_classes is not None:
        dataset["num_classes"] = num_classes
    return make_config({"Data": {"dataset": dataset}}, name)


def test_npz_labels_shaped_n_by_1_train_exactly_like_1d_labels(make_config, tmp_path):
    # (N, 1) labels compared with (N,) predictions used to broadcast to (N, N): top-1 = 5.53.
    flat_cfg, flat_out = _npz_config(make_config, tmp_path, (-1,), "flat")
    column_cfg, column_out = _npz_config(make_config, tmp_path, (-1, 1), "column")
    assert train(flat_cfg) == 0 and train(column_cfg) == 0
    flat = json.loads((flat_out / "metrics.json").read_text())
    column = json.loads((column_out / "metrics.json").read_text())
    assert 0.0 <= column["best_metric"] <= 1.0
    assert column["best_metric"] == flat["best_metric"] and column["final_metric"] == flat["final_metric"]
    for key, value in final_weights(flat_out).items():
        np.testing.assert_array_equal(final_weights(column_out)[key].numpy(), value.numpy())


def test_npz_labels_outside_num_classes_are_one_error_line_before_anything_is_written(make_config, tmp_path,
                                                                                       capsys):
    cfg, out = _npz_config(make_config, tmp_path, (-1, 1), "wide", num_classes=2)
    assert train(cfg) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Data.dataset.num_classes:") and "label 2" in err[0], err
    assert not out.exists()
