"""Aggregation, report, CSV/JSON and plots of compare, on run directories in the trainer's format."""
import csv
import json
import math
import os

import pytest

from paddle_optim.compare import aggregate
from paddle_optim.compare.aggregate import CellResult, Stat
from paddle_optim.compare.grid import Cell
from paddle_optim.compare.plots import write_plots
from paddle_optim.compare.report import write_results
from paddle_optim.compare.runs import read_run, run_status, steps_to_target

# (optimizer, lr, seed) -> how the run ended; final metric = last of metrics_per_eval.
GRID = {
    ("Momentum", 0.3, 0): dict(status="diverged", metrics_per_eval=(0.3, 0.1), nonfinite_steps=7),
    ("Momentum", 0.3, 1): dict(metrics_per_eval=(0.5, 0.90)),
    ("Momentum", 0.1, 0): dict(metrics_per_eval=(0.7, 0.95)),
    ("Momentum", 0.1, 1): dict(metrics_per_eval=(0.8, 0.97)),
    ("Momentum", 0.01, 0): dict(metrics_per_eval=(0.6, 0.955)),
    ("Momentum", 0.01, 1): dict(metrics_per_eval=(0.6, 0.955)),
    ("AdamW", 0.3, 0): dict(status=None),  # crashed: no metrics.json
    ("AdamW", 0.3, 1): dict(metrics_per_eval=(0.2, 0.3)),
    ("AdamW", 0.1, 0): dict(metrics_per_eval=(0.5, 0.80)),
    ("AdamW", 0.1, 1): dict(metrics_per_eval=(0.5, 0.80)),
    ("AdamW", 0.01, 0): dict(metrics_per_eval=(0.9, 0.93), momentum=None),
    ("AdamW", 0.01, 1): dict(metrics_per_eval=(0.9, 0.95), momentum=None),
}


@pytest.fixture
def results(tmp_path, run_writer):
    out = []
    for (opt, lr, seed), spec in GRID.items():
        run_dir = str(tmp_path / "runs" / f"{opt}_{lr}_{seed}")
        run_writer(run_dir, **spec)
        out.append(CellResult(Cell(opt, lr, seed), run_dir, read_run(run_dir), 0.95))
    return out


@pytest.mark.parametrize("values, mean, std, count", [
    ([1.0, 3.0], 2.0, math.sqrt(2.0), 2),
    ([0.5], 0.5, 0.0, 1),
    ([math.nan, 2.0, 4.0], 3.0, math.sqrt(2.0), 2),
    ([], math.nan, math.nan, 0),
])
def test_stat_is_mean_and_sample_std_of_finite_values(values, mean, std, count):
    stat = Stat.of(values)
    assert stat.count == count
    for got, want in ((stat.mean, mean), (stat.std, std)):
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)


@pytest.mark.parametrize("target, step", [(0.5, 10), (0.8, 20), (0.9, 20), (0.95, math.nan)])
def test_steps_to_target_is_first_evaluation_reaching_it(tmp_path, run_writer, target, step):
    run_writer(str(tmp_path), metrics_per_eval=(0.6, 0.9), steps_per_eval=10)
    got = steps_to_target(read_run(str(tmp_path)).eval_log, target)
    assert (math.isnan(got) and math.isnan(step)) or got == step


@pytest.mark.parametrize("status, expected", [("finished", "finished"), ("diverged", "diverged"),
                                              (None, "failed"), ("running", "failed")])
def test_run_status(tmp_path, run_writer, status, expected):
    run_writer(str(tmp_path), status=status)
    assert run_status(str(tmp_path)) == expected
    assert read_run(str(tmp_path)).status == expected


def test_truncated_metrics_json_is_a_failed_run(tmp_path, run_writer):
    run_writer(str(tmp_path))
    (tmp_path / "metrics.json").write_text('{"status": "fini')
    assert run_status(str(tmp_path)) == "failed"


def test_settings_statistics_and_failures(results):
    settings = {(s.optimizer, s.learning_rate): s for s in aggregate.group_settings(results)}
    assert len(settings) == 6
    m03 = settings[("Momentum", 0.3)]
    assert (m03.count("diverged"), m03.failures, m03.nonfinite_steps) == (1, 1, 7)
    assert m03.final == Stat(0.90, 0.0, 1)  # the diverged seed is counted, not averaged
    m01 = settings[("Momentum", 0.1)]
    assert m01.final.mean == pytest.approx(0.96) and m01.final.std == pytest.approx(math.sqrt(2e-4))
    assert m01.steps_to_target == Stat(20.0, 0.0, 2)  # both reach 0.95 at their 2nd evaluation
    assert m01.seconds_to_target.mean == pytest.approx(6.0)  # 20 of 20 steps, 6 s
    a03 = settings[("AdamW", 0.3)]
    assert (a03.count("failed"), a03.failures) == (1, 1)
    assert settings[("AdamW", 0.01)].steps_to_target == Stat(20.0, 0.0, 1)  # one of two seeds reaches it


def test_best_setting_and_lr_sensitivity(results):
    groups = aggregate.by_optimizer(aggregate.group_settings(results))
    momentum, adamw = groups[("Momentum", "config")], groups[("AdamW", "config")]
    assert aggregate.best_setting(momentum).learning_rate == 0.1
    # 0.01 (0.955) is within one point of 0.96; 0.3 diverged once -> not in the range.
    sens = aggregate.lr_sensitivity(momentum)
    assert (sens.low, sens.high, sens.count, sens.total) == (0.01, 0.1, 2, 3)
    assert sens.decades == pytest.approx(1.0)
    assert aggregate.best_setting(adamw).learning_rate == 0.01
    assert aggregate.lr_sensitivity(adamw).decades == 0.0


def test_best_setting_prefers_settings_without_failures(tmp_path, run_writer):
    results = []
    for lr, spec in ((0.1, dict(status="diverged")), (0.1, dict(metrics_per_eval=(0.99,))),
                     (0.01, dict(metrics_per_eval=(0.9,)))):
        run_dir = str(tmp_path / f"{lr}_{len(results)}")
        run_writer(run_dir, **spec)
        results.append(CellResult(Cell("SGD", lr, len(results)), run_dir, read_run(run_dir), 0.5))
    group = aggregate.by_optimizer(aggregate.group_settings(results))[("SGD", "config")]
    assert aggregate.best_setting(group).learning_rate == 0.01


def test_default_target_is_a_fraction_of_the_best_finished_run(results):
    assert aggregate.default_target(r.record for r in results) == pytest.approx(0.98 * 0.97)
    assert math.isnan(aggregate.default_target([]))


def test_results_csv_json_and_report(tmp_path, results):
    settings = aggregate.group_settings(results)
    paths = write_results(str(tmp_path), results, settings, 0.95,
                          {"command": "paddle-optim compare -c x.yaml", "config": "x.yaml", "seeds": 2,
                           "metric_name": "top1", "target_source": "--target"})
    with open(paths["results.csv"]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(GRID)
    assert [(r["optimizer"], float(r["learning_rate"]), int(r["seed"])) for r in rows] == list(GRID)
    by_key = {(r["optimizer"], float(r["learning_rate"]), int(r["seed"])): r for r in rows}
    assert by_key[("Momentum", 0.3, 0)]["status"] == "diverged"
    assert by_key[("AdamW", 0.3, 0)]["status"] == "failed"
    finished = [r for r in rows if r["status"] == "finished"]
    assert all(math.isfinite(float(r[k])) for r in finished for k in ("final_metric", "best_metric", "train_seconds"))

    with open(paths["results.json"]) as fh:
        data = json.load(fh)  # allow_nan=False when written: strict JSON
    assert len(data["runs"]) == len(GRID) and len(data["settings"]) == 6
    assert {o["optimizer"]: o["best_learning_rate"] for o in data["optimizers"]} == {"Momentum": 0.1, "AdamW": 0.01}

    report = open(paths["report.md"]).read()
    table = [line for line in report.splitlines() if line.startswith("| Momentum") or line.startswith("| AdamW")]
    assert len(table) == 6 + 2  # every optimizer x lr, then the best setting of each
    assert "| Momentum | 0.3 | 0.9000 |" in report and "1 (1 diverged, 7 non-finite steps)" in report
    assert "| AdamW | 0.3 |" in report and "1 (1 failed)" in report
    assert "| Momentum | 0.1 | 0.9600 ± 0.0141 |" in report
    assert "0.01 – 0.1 (2/3) | 1.00 |" in report
    assert "- runs: 10 finished, 1 diverged, 1 failed" in report


def test_plots_are_nonempty_pngs(tmp_path, results):
    paths = write_plots(str(tmp_path), aggregate.group_settings(results), "top1")
    assert [os.path.basename(p) for p in paths] == ["sensitivity.png", "loss_curves.png", "schedules.png"]
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
