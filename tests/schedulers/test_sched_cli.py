"""``lr-plot`` and ``check`` from the command line: CSV = what training applies; errors; warnings."""
import zlib  # noqa: F401  (before paddle, see paddle_optim/__init__.py)

import csv
import subprocess
import sys

import paddle
import pytest
import yaml

from paddle_optim.schedulers.lint import lint_config
from paddle_optim.cli import main
from paddle_optim.sections import resolve_config
from paddle_optim.schedulers import build_schedule
from paddle_optim.data import config_steps_per_epoch

BASE = {"Global": {"epochs": 12}, "Data": {"dataset": {"name": "synthetic", "num_samples": 200}, "batch_size": 32},
        "Model": {"name": "mlp"}, "Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9}}
SPE = 7  # ceil(200 / 32)


def write_config(tmp_path, **sections):
    raw = dict(BASE, **sections)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path), raw


PREVIEWED = {
    "warmup+cosine": {"name": "CosineAnnealingDecay", "eta_min": 1e-3, "warmup": {"epochs": 1, "start_lr": 0.01}},
    "warmup+hold+cosine": {"name": "CosineAnnealingDecay", "eta_min": 1e-3, "warmup": {"epochs": 1, "start_lr": 0.01},
                           "hold": {"fraction": 0.5}},
    "hold+linear (WSD)": {"name": "PolynomialDecay", "end_lr": 1e-3, "power": 1.0, "hold": {"epochs": 8}},
}


@pytest.mark.parametrize("label", sorted(PREVIEWED))
def test_lr_plot_csv_is_what_training_applies(tmp_path, label):
    path, raw = write_config(tmp_path, LRScheduler=PREVIEWED[label],
                             MomentumScheduler={"name": "Linear", "start": 0.8, "end": 0.95, "length": 4})
    out = tmp_path / "plots" / "lr.png"
    assert main(["lr-plot", "-c", path, "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "plots" / "lr.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["step", "epoch", "lr", "momentum"]
    planned = [(int(r["step"]), int(r["epoch"]), float(r["lr"]), float(r["momentum"])) for r in rows]

    # What a training loop applies: the optimizer's own learning rate and momentum before each step.
    config = resolve_config(raw)
    schedule = build_schedule(config, config_steps_per_epoch(config))
    layer = paddle.nn.Linear(4, 2)
    optimizer = paddle.optimizer.Momentum(schedule.learning_rate, momentum=0.9, parameters=layer.parameters())
    schedule.attach(optimizer)
    applied = []
    for step in range(12 * SPE):
        applied.append((step + 1, step // SPE + 1, optimizer.get_lr(), optimizer._momentum))
        layer(paddle.rand([3, 4])).mean().backward()
        optimizer.step()
        optimizer.clear_grad()
        schedule.step()
    assert planned == applied


@pytest.mark.parametrize("args,spe", [([], SPE), (["--nproc", "2"], 4), (["--steps-per-epoch", "50"], 50)])
def test_lr_plot_steps_per_epoch_sources(tmp_path, args, spe, capsys):
    path, _ = write_config(tmp_path, LRScheduler={"name": "StepDecay", "step_size": 4})
    assert main(["lr-plot", "-c", path, "--out", str(tmp_path / "s.png")] + args) == 0
    assert f"{12 * spe} optimizer steps, {spe} per epoch" in capsys.readouterr().out


ERRORS = [
    ("negative length", {"LRScheduler": {"name": "StepDecay", "step_size": -2}},
     "LRScheduler.step_size: -2.0 is out of range; allowed: > 0"),
    ("gamma 0", {"LRScheduler": {"name": "MultiStepDecay", "milestones": [4, 8], "gamma": 0}},
     "LRScheduler.gamma: 0.0 is out of range; allowed: > 0"),
    ("milestones not increasing", {"LRScheduler": {"name": "MultiStepDecay", "milestones": [8, 4]}},
     "LRScheduler.milestones: [8, 4] must be strictly increasing"),
    ("unknown scheduler", {"LRScheduler": {"name": "CosineAnnealing"}},
     "LRScheduler.name: unknown scheduler 'CosineAnnealing' (did you mean 'CosineAnnealingDecay'?); allowed: "),
    ("unknown key", {"LRScheduler": {"name": "CosineAnnealingDecay", "T_mx": 10}},
     "LRScheduler.T_mx: unknown key (did you mean 'T_max'?); allowed: T_max, eta_min, hold, name, unit, warmup"),
    ("peak repeated", {"LRScheduler": {"name": "StepDecay", "step_size": 4, "learning_rate": 0.1}},
     "LRScheduler.learning_rate: the peak learning rate is set once, as Optimizer.learning_rate"),
    ("bad unit", {"LRScheduler": {"name": "StepDecay", "step_size": 4, "unit": "epochs"}},
     "LRScheduler.unit: unknown value 'epochs' (did you mean 'epoch'?)"),
    ("warmup without length", {"LRScheduler": {"name": "StepDecay", "step_size": 4, "warmup": {"start_lr": 0.01}}},
     "LRScheduler.warmup: give exactly one of 'epochs' or 'steps'"),
    ("warmup longer than the run", {"LRScheduler": {"name": "StepDecay", "step_size": 4, "warmup": {"epochs": 12}}},
     "LRScheduler.warmup: lasts 84 of the run's 84 optimizer steps"),
    ("milestone inside warmup", {"LRScheduler": {"name": "MultiStepDecay", "milestones": [1, 8],
                                                 "warmup": {"epochs": 2}}}, "inside the warmup"),
    ("length under one step", {"LRScheduler": {"name": "StepDecay", "step_size": 0.05}},
     "LRScheduler.step_size: 0.05 epoch(s) is under one optimizer step (7 per epoch)"),
    ("Paddle's own check", {"LRScheduler": {"name": "OneCycleLR", "anneal_strategy": "cosine"}},
     "LRScheduler: OneCycleLR: 'anneal_strategy' must"),
    ("warmup into a schedule starting lower", {"LRScheduler": {"name": "NoamDecay", "d_model": 64, "warmup_steps": 2,
                                                               "warmup": {"steps": 5}}},
     "LRScheduler.warmup.start_lr: 0.001 must be below the learning rate NoamDecay starts at (0)"),
    ("plateau metric not evaluated", {"LRScheduler": {"name": "ReduceOnPlateau", "metric": "acc"}},
     "LRScheduler.metric: unknown evaluation metric 'acc'"),
    ("lr_lambda not importable", {"LRScheduler": {"name": "LambdaDecay", "lr_lambda": "no_such_module_x:f"}},
     "LRScheduler.lr_lambda: cannot import module 'no_such_module_x'"),
    ("unknown momentum shape", {"MomentumScheduler": {"name": "Cosin", "start": 0.8, "end": 0.9}},
     "MomentumScheduler.name: unknown momentum schedule 'Cosin' (did you mean 'Cosine'?)"),
    ("momentum out of range", {"MomentumScheduler": {"name": "Linear", "start": 0.8, "end": 1.5}},
     "MomentumScheduler.end: 1.5 is out of range; allowed: [0, 1)"),
    ("optimizer without momentum", {"Optimizer": {"name": "SGD", "learning_rate": 0.1},
                                    "MomentumScheduler": {"name": "Linear", "start": 0.8, "end": 0.9}},
     "MomentumScheduler: optimizer SGD has no momentum"),
]


@pytest.mark.parametrize("label,sections,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_check_reports_bad_values_in_one_line(tmp_path, capsys, label, sections, message):
    path, _ = write_config(tmp_path, **sections)
    assert main(["check", "-c", path]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured.err
    assert "Traceback" not in captured.err + captured.out


def test_check_exits_2_without_traceback_in_a_real_process(tmp_path):
    path, _ = write_config(tmp_path, LRScheduler={"name": "CosineAnealingDecay"})
    proc = subprocess.run([sys.executable, "-m", "paddle_optim", "check", "-c", path], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    # Paddle 3 may print its own import-time UserWarning (ccache) on stderr; the errors are ours.
    assert [line for line in proc.stderr.splitlines() if line.startswith("error")] == [
        "error: LRScheduler.name: unknown scheduler 'CosineAnealingDecay' (did you mean 'CosineAnnealingDecay'?); "
        "allowed: CosineAnnealingDecay, CosineAnnealingWarmRestarts, CyclicLR, ExponentialDecay, InverseTimeDecay, "
        "LambdaDecay, LinearLR, LinearWarmup, MultiStepDecay, MultiplicativeDecay, NaturalExpDecay, NoamDecay, "
        "OneCycleLR, PiecewiseDecay, PolynomialDecay, ReduceOnPlateau, StepDecay"]


WARNINGS = [
    ("cosine shorter than the run", {"LRScheduler": {"name": "CosineAnnealingDecay", "T_max": 6, "eta_min": 1e-3}},
     "LRScheduler.T_max: the cosine reaches eta_min at the end of 6 epochs"),
    ("cosine longer than the run after warmup", {"LRScheduler": {"name": "CosineAnnealingDecay", "T_max": 12,
                                                                 "eta_min": 1e-3, "warmup": {"epochs": 1}}},
     "is longer than the rest of the run after warmup"),
    ("eta_min 0", {"LRScheduler": {"name": "CosineAnnealingDecay"}}, "LRScheduler.eta_min: 0 wastes"),
    ("warmup start_lr 0", {"LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 1e-3,
                                           "warmup": {"epochs": 1, "start_lr": 0}}}, "warmup.start_lr: 0 makes"),
    ("warmup over 20%", {"LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 1e-3, "warmup": {"epochs": 3}}},
     "is 25% of training (over 20%)"),
    ("momentum above 0.99", {"Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.995}},
     "Optimizer momentum/beta1: 0.995 is above 0.99"),
    ("scheduled momentum above 0.99", {"MomentumScheduler": {"name": "Linear", "start": 0.9, "end": 0.999}},
     "MomentumScheduler.end: 0.999 is above 0.99"),
    ("step_size under a quarter", {"LRScheduler": {"name": "StepDecay", "step_size": 2, "gamma": 0.5}},
     "LRScheduler.step_size: 2 epochs (14 steps) is under 1/4 of the run"),
    ("gamma outside 0.1-0.5", {"LRScheduler": {"name": "StepDecay", "step_size": 4, "gamma": 0.9}},
     "LRScheduler.gamma: 0.9 is outside the usual 0.1-0.5"),
    ("exponential gamma per step", {"LRScheduler": {"name": "ExponentialDecay", "gamma": 0.99, "unit": "step"}},
     "per epoch is outside the usual 0.98-0.995 (with unit: step"),
    ("milestones beyond the end", {"LRScheduler": {"name": "MultiStepDecay", "milestones": [6, 14], "gamma": 0.1}},
     "LRScheduler.milestones: 14 epochs (98 steps) at or beyond the end"),
    ("plateau mode against the metric", {"LRScheduler": {"name": "ReduceOnPlateau", "metric": "top1"}},
     "LRScheduler.mode: 'min' with metric 'top1' cuts the rate"),
    ("steps written as epochs", {"LRScheduler": {"name": "NoamDecay", "d_model": 512, "warmup_steps": 4000}},
     "LRScheduler.warmup_steps: 4000 epochs (28000 steps) is not shorter than the run (12 epochs (84 steps)), so it "
     "never completes; lengths count epochs with unit: epoch (the default), so 4000 means 4000 epochs: set unit: step"),
    ("step_size longer than the run", {"LRScheduler": {"name": "StepDecay", "step_size": 90, "unit": "step"}},
     "LRScheduler.step_size: 12.9 epochs (90 steps) is not shorter than the run (12 epochs (84 steps)), so it never "
     "completes; shorten it"),
    ("decayed to zero early", {"LRScheduler": {"name": "MultiStepDecay", "milestones": [2, 4, 6], "gamma": 0.05}},
     "falls below 0.1% of its peak in epoch 7 of 12 (after 50% of training)"),
    ("OneCycleLR has its own warmup", {"LRScheduler": {"name": "OneCycleLR", "warmup": {"steps": 5}}},
     "OneCycleLR already warms up"),
]


@pytest.mark.parametrize("label,sections,message", WARNINGS, ids=[w[0] for w in WARNINGS])
def test_check_warns_about_classic_mistakes(tmp_path, capsys, label, sections, message):
    path, _ = write_config(tmp_path, **sections)
    assert main(["check", "-c", path]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("warning: ") and message in line for line in out.splitlines()), out


@pytest.mark.parametrize("sections", [
    {"LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 1e-3, "warmup": {"epochs": 1}},
     "MomentumScheduler": {"name": "Linear", "start": 0.85, "end": 0.95}},
    {"LRScheduler": {"name": "MultiStepDecay", "milestones": [8, 10], "gamma": 0.1, "warmup": {"steps": 10}}},
    {"LRScheduler": {"name": "StepDecay", "step_size": 4, "gamma": 0.5}},
    {"LRScheduler": {"name": "ReduceOnPlateau", "metric": "top1", "mode": "max", "factor": 0.5}},
    {},
])
def test_sound_schedules_get_no_warning(sections):
    config = resolve_config(dict(BASE, **sections))
    assert lint_config(config, SPE) == []


@pytest.mark.parametrize("hold", [None, {"steps": 4}])
def test_lr_plot_csv_equals_the_trainers_log(tmp_path, hold):
    """The real trainer (2 micro-batches per step, log every step) logs exactly the previewed rows."""
    lr_section = {"name": "CosineAnnealingDecay", "eta_min": 1e-3, "warmup": {"steps": 3}}
    if hold:
        lr_section["hold"] = hold
    path, _ = write_config(
        tmp_path, Global={"epochs": 3, "accumulate_steps": 2, "log_interval": 1, "eval_interval": 1,
                          "output_dir": str(tmp_path / "run")},
        Data={"dataset": {"name": "synthetic", "num_samples": 100, "num_val": 16}, "batch_size": 16},
        Checkpoint={"save_interval": 0, "keep_last": 1, "save_best": False},
        LRScheduler=lr_section, MomentumScheduler={"name": "Step", "start": 0.85, "end": 0.95, "at": 2})
    assert main(["lr-plot", "-c", path, "--out", str(tmp_path / "lr.png")]) == 0
    assert main(["train", "-c", path]) == 0

    def table(csv_path):
        with open(csv_path, newline="") as fh:
            return [(r["step"], r["epoch"], float(r["lr"]), float(r["momentum"])) for r in csv.DictReader(fh)]

    planned, logged = table(tmp_path / "lr.csv"), table(tmp_path / "run" / "train_log.csv")
    assert len(planned) == 3 * 4  # ceil(ceil(100 / 16) / 2) = 4 steps per epoch
    assert logged == planned
    if hold:  # steps 4-7 (1-based) are the hold at the peak, then the cosine
        assert [lr for _, _, lr, _ in planned[3:8]] == [0.1] * 5 and planned[8][2] < 0.1


@pytest.mark.parametrize("command", ["check", "lr-plot", "train"])
def test_a_batch_larger_than_the_data_with_drop_last_is_one_error_line_for_every_command(tmp_path, capsys, command):
    path, _ = write_config(tmp_path, Data={"dataset": {"name": "synthetic", "num_samples": 200}, "batch_size": 500,
                                           "drop_last": True},
                           Global={"epochs": 1, "output_dir": str(tmp_path / "out")})
    extra = ["--out", str(tmp_path / "lr.png")] if command == "lr-plot" else []
    assert main([command, "-c", path] + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Data.batch_size") and "no full batch of 500" in err and "Traceback" not in err, err
