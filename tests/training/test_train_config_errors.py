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
    ("Loss.name=MSELoss", "Loss.name", "allowed: CrossEntropyLoss"),
    ("Loss.label_smoothing=1.5", "Loss.label_smoothing", "allowed: [0, 1)"),
    ("Optimizer.name=Momentun", "Optimizer.name", "did you mean 'Momentum'"),
    ("Optimizer.momentun=0.9", "Optimizer.momentun", "did you mean 'momentum'"),
    ("Optimizer.learning_rate=-1", "Optimizer.learning_rate", "allowed: >= 0"),
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
