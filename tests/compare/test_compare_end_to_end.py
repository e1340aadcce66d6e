"""The tiny grid for real: ``python -m paddle_optim compare`` on the quickstart data through the trainer.

2 optimizers x 2 learning rates x 1 seed, one epoch each. Momentum at lr 1e4 must diverge (the trainer
stops after 2 non-finite losses in a row here). Then half of the grid is undone and re-run: only the
missing cells train again.
"""
import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paddle_optim.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
# One epoch (45 steps): no warmup (it would take the whole run), no clipping (it would keep lr 1e4 finite).
TINY = ["-o", "Global.max_nonfinite_steps=2", "-o", "Global.log_interval=5", "-o", "LRScheduler.warmup=null",
        "-o", "Optimizer.grad_clip=null", "-o", "Checkpoint={save_interval: 0, save_best: false}",
        "--optimizers", "Momentum,AdamW", "--lr", "0.05,1e4", "--seeds", "1", "--epochs", "1", "--jobs", "2"]
CELLS = ["Momentum_lr0.05_seed42", "Momentum_lr10000_seed42", "AdamW_lr0.05_seed42", "AdamW_lr10000_seed42"]


def _compare(out):
    proc = subprocess.run([sys.executable, "-m", "paddle_optim", "compare", "-c", QUICKSTART, *TINY, "--out", out],
                          capture_output=True, text=True, timeout=240, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _progress(stdout):
    """{cell: progress line} from the one line per cell that compare prints."""
    lines = [line for line in stdout.splitlines() if line.startswith("[")]
    assert len(lines) == len(CELLS), stdout
    return {line.split("] ")[1].split(":")[0]: line for line in lines}


@pytest.fixture(scope="module")
def tiny_grid(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("compare"))
    return out, _compare(out)


def test_tiny_grid_writes_report_csv_json_and_plots(tiny_grid):
    out, stdout = tiny_grid
    progress = _progress(stdout)
    assert sorted(progress) == sorted(CELLS)
    assert "diverged" in progress["Momentum_lr10000_seed42"]
    assert "finished" in progress["Momentum_lr0.05_seed42"] and "finished" in progress["AdamW_lr0.05_seed42"]

    with open(os.path.join(out, "results.csv")) as fh:
        rows = {(r["optimizer"], float(r["learning_rate"])): r for r in csv.DictReader(fh)}
    assert sorted(rows) == sorted([("Momentum", 0.05), ("Momentum", 1e4), ("AdamW", 0.05), ("AdamW", 1e4)])
    assert rows[("Momentum", 1e4)]["status"] == "diverged"
    assert float(rows[("Momentum", 1e4)]["nonfinite_steps"]) >= 2
    for key in [("Momentum", 0.05), ("AdamW", 0.05)]:
        row = rows[key]
        assert row["status"] == "finished" and row["metric_name"]
        for column in ("final_metric", "best_metric", "global_step", "train_seconds", "samples_per_second"):
            assert math.isfinite(float(row[column])), (key, column, row[column])
        assert 0.0 <= float(row["final_metric"]) <= 1.0 and float(row["global_step"]) > 0

    with open(os.path.join(out, "results.json")) as fh:
        data = json.load(fh)
    assert len(data["runs"]) == 4 and len(data["settings"]) == 4
    assert {o["optimizer"]: o["best_learning_rate"] for o in data["optimizers"]}["Momentum"] == 0.05

    report = Path(out, "report.md").read_text()
    for optimizer, lr in rows:
        assert f"| {optimizer} | {lr:g} |" in report
    assert "| Momentum | 10000 | – | – | – | – | 0/1 | 1 (1 diverged" in report
    assert "| Momentum | 0.05 |" in report and "## Best setting per optimizer" in report

    for name in ("sensitivity.png", "loss_curves.png", "schedules.png"):
        data = Path(out, name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


def test_rerun_trains_only_the_missing_cells(tiny_grid):
    out, _ = tiny_grid
    runs = Path(out, "runs")
    kept = {name: (runs / name / "metrics.json").stat().st_mtime_ns
            for name in ("Momentum_lr10000_seed42", "AdamW_lr10000_seed42")}
    shutil.rmtree(runs / "Momentum_lr0.05_seed42")  # never ran
    (runs / "AdamW_lr0.05_seed42" / "metrics.json").unlink()  # half-written: killed before the end
    (runs / "AdamW_lr0.05_seed42" / "leftover.txt").write_text("from the killed run")

    progress = _progress(_compare(out))
    for name, mtime in kept.items():
        assert "earlier, skipped" in progress[name]
        assert (runs / name / "metrics.json").stat().st_mtime_ns == mtime
    for name in ("Momentum_lr0.05_seed42", "AdamW_lr0.05_seed42"):
        assert "finished" in progress[name] and "skipped" not in progress[name]
        assert (runs / name / "metrics.json").exists()
    assert not (runs / "AdamW_lr0.05_seed42" / "leftover.txt").exists()  # rerun from scratch


@pytest.mark.parametrize("argv, message", [
    (["--optimizers", "Momentom,AdamW"], "error: --optimizers: unknown optimizer 'Momentom' (did you mean 'Momentum'?)"),
    (["--lr", "0.1,fast"], "error: --lr: 'fast' is not a number"),
    (["-o", "Global.epochz=3"], "error: Global.epochz: unknown key (did you mean 'epochs'?)"),
    (["--schedulers", "none,StepDecay"], "error: AdamW + StepDecay lr 0.05: LRScheduler.step_size: is required"),
    # The quickstart's warmup starts at 0.005: fine for lr 0.05, impossible for 0.001.
    (["--lr", "0.05,0.001"], "error: AdamW lr 0.001: LRScheduler.warmup.start_lr: 0.005 must be below"),
])
def test_bad_input_is_one_error_line_and_nothing_runs(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    code = main(["compare", "-c", QUICKSTART, "--optimizers", "AdamW", "--lr", "0.05", *argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def _processes_mentioning(text):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if text.encode() in fh.read():
                    found.append(int(pid))
        except OSError:  # the process ended while we looked
            pass
    return found


def _block_sigterm():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


# Some launchers (CI runners among them) start processes with SIGTERM blocked, a mask inherited
# through exec: compare must still stop, and stop its trainers.
@pytest.mark.parametrize("start_blocked", [False, True], ids=["sigterm-unblocked", "sigterm-blocked-by-launcher"])
def test_sigterm_stops_the_running_train_processes(tmp_path, start_blocked):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "paddle_optim", "compare", "-c", QUICKSTART, "--optimizers", "AdamW",
                             "--lr", "0.01,0.02", "--epochs", "30", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                            preexec_fn=_block_sigterm if start_blocked else None)
    try:
        log = out / "cells" / "AdamW_lr0.01_seed42.log"
        for _ in range(600):  # until the first cell's trainer has started training
            if log.exists() and "training mlp" in log.read_text():
                break
            time.sleep(0.1)
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted" in err
    assert _processes_mentioning(str(out)) == []
    assert not (out / "runs" / "AdamW_lr0.01_seed42" / "metrics.json").exists()  # incomplete: rerun next time


def test_refuses_to_run_inside_distributed_launch(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PADDLE_TRAINERS_NUM", "2")
    assert main(["compare", "-c", QUICKSTART, "--out", str(tmp_path / "out")]) == 2
    assert "use `compare --nproc N` to give each cell N ranks" in capsys.readouterr().err


def test_nproc_runs_each_cell_on_that_many_ranks(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "paddle_optim", "compare", "-c", QUICKSTART, "-o", "LRScheduler.warmup=null",
                           "-o", "Checkpoint={save_interval: 0, save_best: false}", "--optimizers", "AdamW",
                           "--lr", "0.01", "--epochs", "1", "--nproc", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=240, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    metrics = json.loads((out / "runs" / "AdamW_lr0.01_seed42" / "metrics.json").read_text())
    assert (metrics["status"], metrics["world_size"]) == ("finished", 2)
