"""``paddle-optim lr-find`` end to end, in process: outputs, the early stop, Ranger, bad input."""
import csv
import os

import pytest
import yaml

from paddle_optim.cli import main
from paddle_optim.lr_find.sweep import finder_config, sweep
from paddle_optim.training.distributed import World
from paddle_optim.training.loop import Run
from paddle_optim.sections import load_resolved_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICKSTART = os.path.join(ROOT, "configs", "quickstart.yaml")
SMALL = {
    "Global": {"epochs": 1, "seed": 3, "device": "cpu", "accumulate_steps": 2},
    "Data": {"dataset": {"name": "synthetic", "num_samples": 256, "num_val": 32, "num_features": 8,
                         "num_classes": 3, "seed": 1}, "batch_size": 16},
    "Model": {"name": "mlp", "hidden_sizes": [16], "dropout": 0.1},
    "Optimizer": {"name": "Ranger", "learning_rate": 0.01, "k": 3,
                  "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 1.0}},
    "LRScheduler": {"name": "CosineAnnealingDecay", "warmup": {"steps": 3, "start_lr": 0.001}},
    "EMA": {"enable": True, "decay": 0.9},
    "AMP": {"enable": True},  # inactive on CPU (no low-precision kernels): the same code path, in float32
}


def write(tmp_path, config):
    config = dict(config, Global=dict(config["Global"], output_dir=str(tmp_path / "run")))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def rows(csv_path):
    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_quickstart_sweep_writes_csv_and_png_stops_early_and_leaves_output_dir_alone(tmp_path, capsys):
    out_dir = tmp_path / "quickstart_run"
    out = tmp_path / "plots" / "lf.png"
    code = main(["lr-find", "-c", QUICKSTART, "-o", f"Global.output_dir={out_dir}", "--start", "1e-4",
                 "--end", "30", "--steps", "40", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert not out_dir.exists()  # nothing written into Global.output_dir
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = rows(tmp_path / "plots" / "lf.csv")
    assert list(table[0]) == ["step", "lr", "loss", "smoothed_loss"]
    # Momentum 0.9 diverges long before lr 30: the sweep stops early and says why.
    assert "stopped early: " in printed and 10 < len(table) < 40, printed
    assert [int(r["step"]) for r in table] == list(range(1, len(table) + 1))
    assert float(table[0]["lr"]) == pytest.approx(1e-4)
    lrs = [float(r["lr"]) for r in table]
    assert all(b / a == pytest.approx((30 / 1e-4) ** (1 / 39)) for a, b in zip(lrs, lrs[1:]))
    for method in ("steepest", "valley", "min/10"):
        assert f"  {method}" in printed
    assert "use: -o Optimizer.learning_rate=" in printed


def test_ranger_sweeps_with_accumulation_and_clipping_and_its_lr_reaches_the_inner_optimizer():
    config = prepare_dict(SMALL)
    run = Run(finder_config(config, 1e-5), World(0, 1, "cpu"))
    applied = []
    lrs = [1e-5 * 1.5 ** i for i in range(12)]
    result = sweep(run, lrs, 5, 4.0, lambda i, lr, loss: applied.append(
        (lr, run.optimizer.inner_optimizer.get_lr(), run.optimizer._inner_steps)))
    assert result.stop is None and len(result.losses) == 12
    assert [a[1] for a in applied] == pytest.approx(lrs)  # Lookahead.set_lr reached RAdam
    assert [a[2] % 3 for a in applied][:6] == [1, 2, 0, 1, 2, 0]  # one inner step per lr: k=3 cycles
    assert run.ema is None and run.schedule.current_lr() == pytest.approx(1e-5)  # no EMA, no schedule


def prepare_dict(config):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "c.yaml")
        with open(path, "w") as fh:
            yaml.safe_dump(dict(config, Global=dict(config["Global"], output_dir=os.path.join(d, "run"))), fh)
        return load_resolved_config(path, [])


def test_ranger_through_the_command_prints_the_rectifier_and_the_ripple(tmp_path, capsys):
    code = main(["lr-find", "-c", write(tmp_path, SMALL), "--start", "1e-4", "--end", "10", "--steps", "30",
                 "--out", str(tmp_path / "r.png")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "note: RAdam rectifier (beta2=0.999): steps 1-5 are momentum-SGD steps" in printed
    assert "note: Lookahead k=3" in printed
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("extra, message", [
    (["--start", "1", "--end", "0.1"], "--start: must be below --end"),
    (["--steps", "5"], "--steps: must be >= 10"),
    (["--start", "0"], "--start: must be > 0"),
    (["--stop-factor", "1"], "--stop-factor: must be > 1"),
    (["--smooth", "4"], "--smooth: must be an odd number"),
    (["--out", "lr.txt"], "is not a .png file"),
    (["--out", "{file}/sub/lr.png"], "is not a directory"),
    (["-o", "Optimizer.nmae=x"], "Optimizer.nmae"),
    (["-o", "Optimizer.name=Rangr"], "Rangr"),
])
def test_bad_input_is_one_error_line_exit_2_and_overwrites_nothing(tmp_path, capsys, extra, message):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    earlier = tmp_path / "lr_find.png"
    earlier.write_bytes(b"earlier run")
    extra = [e.replace("{file}", str(blocker)) for e in extra]
    args = ["lr-find", "-c", write(tmp_path, SMALL), "--out", str(earlier)] + extra
    code = main(args)
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured.err
    assert "Traceback" not in captured.err + captured.out
    assert earlier.read_bytes() == b"earlier run" and not (tmp_path / "run").exists()


def test_a_missing_config_is_an_error_line(tmp_path, capsys):
    assert main(["lr-find", "-c", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_problems_of_the_options_and_of_the_config_are_reported_together(tmp_path, capsys):
    assert main(["lr-find", "-c", write(tmp_path, SMALL), "-o", "Optimizer.nmae=x", "--steps", "3",
                 "--out", str(tmp_path / "x.png")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "--steps" in lines[0] and "Optimizer.nmae" in lines[1], lines
