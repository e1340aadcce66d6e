"""Every section's validation errors: exit 2, one line naming the key, no traceback, and the
output directory of an earlier run untouched."""

import pytest

from paddle_optim.cli import main

BAD = [  # (override, key named in the error, fragment of the message)
    ("Global.epochs=0", "Global.epochs", "allowed: >= 1"),
    ("Global.epoch=3", "Global.epoch", "did you mean 'epochs'"),
    ("Global.device=tpu", "Global.device", "allowed: auto, cpu, gpu"),
    ("Global.accumulate_steps=0", "Global.accumulate_steps", "allowed: >= 1"),
    ("Data.batch_size=-1", "Data.batch_size", "allowed: >= 1"),
    ("Data.dataset.name=digitz", "Data.dataset.name", "did you mean 'digits'"),
    ("Data.dataset.num_classes=two", "Data.dataset.num_classes", "expected integer"),
    ("Data.shufle=false", "Data.shufle", "did you mean 'shuffle'"),
    ("Model.name=resnet19", "Model.name", "did you mean 'resnet18'"),
    ("Model.hiden_sizes=[4]", "Model.hiden_sizes", "did you mean 'hidden_sizes'"),
    ("Loss.name=MSELos", "Loss.name", "did you mean 'MSELoss'"),
    ("Loss.label_smoothing=1.5", "Loss.label_smoothing", "allowed: [0, 1)"),
    ("Loss.label_smoothin=0.1", "Loss.label_smoothin", "did you mean 'label_smoothing'"),
    ("Loss.reduction=none", "Loss.reduction", "allowed: batchmean, mean, sum"),
    ("Loss={name: MSELoss, delta: 1.0}", "Loss.delta", "not an argument of MSELoss"),
    ("Loss={name: BCEWithLogitsLoss, pos_weight: heavy}", "Loss.pos_weight", "expected a list of numbers"),
    ("Loss.name=nosuch_pkg.losses:focal", "Loss.name", "cannot import module 'nosuch_pkg.losses'"),
    ("Loss.name=os.path:nosuch", "Loss.name", "module 'os.path' has no 'nosuch'"),
    # a loss or metric that does not fit the model's outputs / the targets: found on one batch, before training
    ("Loss.name=MSELoss", "Loss.name", "MSELoss compares outputs and targets element by element"),
    ("Loss.name=BCEWithLogitsLoss", "Loss.name", "need one shape; got model outputs (8, 3)"),
    ("Metric=[{name: MAE}]", "Metric[0]", "mae compares outputs and targets value by value"),
    ("Model.num_classes=2", "Model.num_classes", "class label 2, outside the model's 2 outputs"),
    ("Metric=[{name: Precision}]", "Metric[0]", "precision is a binary metric"),
    ("Metric=[{name: MAEE}]", "Metric[0].name", "did you mean 'MAE'"),
    ("Metric=[{name: MAE, mode: up}]", "Metric[0].mode", "allowed: max, min"),
    ("Metric=[{name: Accuracy, topk: [0]}]", "Metric[0].topk", "whole numbers >= 1"),
    ("Metric=[{name: Accuracy, topk: [1, 5]}]", "Metric[0].topk", "top5 of 3 classes"),
    ("Metric=[{name: Auc, curv: ROC}]", "Metric[0].curv", "did you mean 'curve'"),
    ("Metric=[{name: Accuracy}, {name: Accuracy}]", "Metric[1]", "reports 'top1' like Metric[0]"),
    ("Metric=[{name: Accuracy, monitor: true}, {name: Auc, monitor: true}]", "Metric[1].monitor", "only one"),
    ("Metric={name: MAE}", "Metric", "expected a list of metrics"),
    ("Metric=[{name: 'os.path:join', mode: max}]", "Metric[0].name", "not a paddle.metric.Metric subclass"),
    ("Metric=[{name: 'nosuch_pkg.m:IoU', mode: max}]", "Metric[0].name", "cannot import module"),
    ("Global.early_stop_patience=-1", "Global.early_stop_patience", "allowed: >= 0"),
    ("LRScheduler={name: ReduceOnPlateau, metric: mae}", "LRScheduler.metric", "allowed: loss, top1"),
    ("Optimizer.name=Momentun", "Optimizer.name", "did you mean 'Momentum'"),
    ("Optimizer.momentun=0.9", "Optimizer.momentun", "did you mean 'momentum'"),
    ("Optimizer.learning_rate=-1", "Optimizer.learning_rate", "allowed: > 0"),
    ("Optimizer.learning_rate=0", "Optimizer.learning_rate", "allowed: > 0"),
    ("Optimizer.learning_rate=1e-400", "Optimizer.learning_rate", "allowed: > 0"),
    ("Optimizer.grad_clip={name: ClipByNorm}", "Optimizer.grad_clip.name", "did you mean 'ClipGradByNorm'"),
    ("LRScheduler.name=CosineDecay", "LRScheduler.name", "allowed:"),
    ("MomentumScheduler.name=Linaer", "MomentumScheduler.name", "did you mean 'Linear'"),
    ("AMP.level=O3", "AMP.level", "allowed: O1, O2"),
    ("AMP.dtype=fp8", "AMP.dtype", "allowed: bfloat16, float16"),
    ("EMA.decay=1.0", "EMA.decay", "allowed: (0, 1)"),
    ("Checkpoint.keep_last=-1", "Checkpoint.keep_last", "allowed: >= 0"),
    ("Checkpoint.every=2", "Checkpoint.every", "unknown key"),
    ("Trainer.epochs=3", "Trainer", "unknown section"),
]


@pytest.fixture
def earlier_run(make_config):
    cfg, out = make_config({"Global": {"epochs": 1}})
    assert main(["train", "-c", cfg]) == 0
    return cfg, out


def test_each_bad_value_is_one_line_naming_its_key_and_leaves_the_run_untouched(earlier_run, capsys, snapshot):
    cfg, out = earlier_run
    before = snapshot(out)
    capsys.readouterr()
    for override, key, fragment in BAD:
        code = main(["train", "-c", cfg, "-o", override])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, override
        assert len(err) == 1 and err[0].startswith(f"error: {key}") and fragment in err[0], (override, err)
    assert snapshot(out) == before


def test_resume_with_a_corrupt_checkpoint_is_a_clear_error(earlier_run, capsys):
    cfg, out = earlier_run
    latest = out / "checkpoints" / "latest.pdopt"
    latest.write_bytes(latest.read_bytes()[:100])
    capsys.readouterr()
    # named explicitly it is an error; `--resume` without a path skips it (tests/reliability)
    assert main(["train", "-c", cfg, "--resume", str(out / "checkpoints" / "latest")]) == 2
    err = capsys.readouterr().err
    assert "is corrupt" in err and "latest.pdopt" in err and "Traceback" not in err
    assert main(["train", "-c", cfg, "--resume", str(out / "nowhere")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_overrides_are_parsed_as_yaml_and_applied(make_config):
    import json

    cfg, out = make_config()
    assert main(["train", "-c", cfg, "-o", "Global.epochs=1", "-o", "Model.hidden_sizes=[8, 8]",
                 "-o", "Optimizer={name: Adam, learning_rate: 0.01}"]) == 0
    saved = (out / "config.yaml").read_text()
    assert "hidden_sizes:\n  - 8\n  - 8" in saved and "name: Adam" in saved
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1
