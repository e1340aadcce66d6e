"""Grid expansion, per-cell overrides, option parsing and resume planning of compare."""
import json
import os

import pytest

from paddle_optim.compare import grid
from paddle_optim.compare.grid import Cell
from paddle_optim.compare.jobs import job_spec, make_job, plan
from paddle_optim.config import apply_overrides, parse_override
from paddle_optim.errors import UserError

BASE = {"Global": {"seed": 7, "epochs": 3},
        "Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.8, "use_nesterov": True,
                      "weight_decay": 1e-4, "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 10.0}},
        "LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 1e-4, "warmup": {"epochs": 1}}}


@pytest.mark.parametrize("name, lr, expected", [
    # Same optimizer as the base: the user's tuned extras stay, only the lr changes.
    ("Momentum", 0.03, {"name": "Momentum", "learning_rate": 0.03, "momentum": 0.8, "use_nesterov": True,
                        "weight_decay": 1e-4, "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 10.0}}),
    # Another optimizer: shared keys carried over, Momentum's own keys dropped.
    ("AdamW", 0.001, {"name": "AdamW", "learning_rate": 0.001, "weight_decay": 1e-4,
                      "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 10.0}}),
    ("Ranger", 0.01, {"name": "Ranger", "learning_rate": 0.01, "weight_decay": 1e-4,
                      "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 10.0}}),
    ("Lookahead", 0.1, {"name": "Lookahead", "learning_rate": 0.1, "weight_decay": 1e-4, "k": 5, "alpha": 0.5,
                        "inner": {"name": "Momentum", "momentum": 0.9},
                        "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 10.0}}),
])
def test_optimizer_section_is_built_per_optimizer(name, lr, expected):
    assert grid.optimizer_section(BASE["Optimizer"], name, lr) == expected


@pytest.mark.parametrize("base_name", ["Momentum", "Ranger"])
def test_evaluate_on_reaches_only_optimizers_with_slow_weights(base_name):
    """`-o Optimizer.evaluate_on=slow` sweeps Momentum beside Ranger / Lookahead evaluated on their slow weights."""
    base = {"name": base_name, "learning_rate": 0.1, "evaluate_on": "slow"}
    for name in ("Ranger", "Lookahead", "Momentum", "AdamW"):
        section = grid.optimizer_section(base, name, 0.01)
        assert section.get("evaluate_on") == ("slow" if name in ("Ranger", "Lookahead") else None), (base_name, name)


def test_switching_from_adamw_gives_momentum_its_momentum():
    section = grid.optimizer_section({"name": "AdamW", "learning_rate": 1e-3, "beta1": 0.9}, "Momentum", 0.1)
    assert section == {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9}


@pytest.mark.parametrize("scheduler, expected", [
    (grid.CONFIG_SCHEDULER, BASE["LRScheduler"]),
    ("CosineAnnealingDecay", BASE["LRScheduler"]),  # the base's own scheduler keeps its keys
    ("none", None),
    ("ExponentialDecay", {"name": "ExponentialDecay", "warmup": {"epochs": 1}}),  # warmup carried over
])
def test_cell_overrides_round_trip_through_the_override_parser(scheduler, expected):
    cell = Cell("AdamW", 3e-4, 8, scheduler)
    overrides = grid.cell_overrides(cell, BASE, epochs=2)
    config = apply_overrides(BASE, overrides)
    assert config["Optimizer"] == grid.optimizer_section(BASE["Optimizer"], "AdamW", 3e-4)
    assert (config["Global"]["seed"], config["Global"]["epochs"]) == (8, 2)
    assert config["LRScheduler"] == expected
    assert parse_override(grid.output_dir_override("/tmp/a b/c: d")) == (["Global", "output_dir"], "/tmp/a b/c: d")


def test_a_base_hold_stays_in_front_of_every_swept_scheduler():
    base = dict(BASE, LRScheduler={"name": "CosineAnnealingDecay", "hold": {"fraction": 0.7}})
    config = apply_overrides(base, grid.cell_overrides(Cell("AdamW", 3e-4, 8, "LinearLR"), base, epochs=2))
    assert config["LRScheduler"] == {"name": "LinearLR", "hold": {"fraction": 0.7}}


def test_grid_order_and_names():
    cells = grid.expand_grid(["Momentum", "AdamW"], [0.1, 0.01], [0, 1])
    assert len(cells) == 8 and cells[0] == Cell("Momentum", 0.1, 0) and cells[1] == Cell("Momentum", 0.1, 1)
    assert cells[-1].name == "AdamW_lr0.01_seed1"
    assert Cell("RAdam", 3e-4, 2, "OneCycleLR").name == "RAdam_OneCycleLR_lr0.0003_seed2"
    assert len({c.name for c in cells}) == len(cells)


@pytest.mark.parametrize("parse, text, message", [
    (grid.parse_learning_rates, "0.1,abc", "--lr: 'abc' is not a number"),
    (grid.parse_learning_rates, "0.1,-0.01", "must be finite and > 0, got -0.01"),
    (grid.parse_learning_rates, "0.1,nan", "must be finite and > 0, got nan"),
    (grid.parse_learning_rates, "0.1,1e-1", "0.1 is listed twice"),
    (lambda t: grid.parse_names(t, "--optimizers"), "Momentum,,AdamW", "--optimizers: expected a comma-separated"),
    (lambda t: grid.parse_names(t, "--optimizers"), "AdamW,AdamW", "'AdamW' is listed twice"),
])
def test_bad_options_are_user_errors(parse, text, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        parse(text)


def test_base_seed_and_learning_rate():
    assert grid.base_seed(BASE) == 7 and grid.base_seed({}) == 0
    assert grid.base_learning_rate(BASE) == 0.1
    with pytest.raises(UserError, match="--lr is required"):
        grid.base_learning_rate({"Optimizer": {"name": "SGD"}})


def _jobs(tmp_path, config, epochs=None):
    cells = grid.expand_grid(["Momentum", "AdamW"], [0.1], [0])
    return [make_job(c, str(tmp_path / "out"), config, grid.cell_overrides(c, BASE, epochs)) for c in cells]


def test_plan_skips_ended_cells_and_reruns_half_written_ones(tmp_path, run_writer):
    config = tmp_path / "base.yaml"
    config.write_text("Global: {epochs: 3}\n")
    momentum, adamw = _jobs(tmp_path, str(config))
    assert momentum.train_args[-1] == "Global.output_dir=" + momentum.run_dir
    for job, status in ((momentum, "diverged"), (adamw, None)):
        run_writer(job.run_dir, status=status)  # AdamW: logs but no metrics.json
        os.makedirs(os.path.dirname(job.spec_path), exist_ok=True)
        with open(job.spec_path, "w") as fh:
            json.dump(job_spec(job, str(config)), fh)
    assert plan([momentum, adamw], str(config)) == [adamw]


@pytest.mark.parametrize("change", ["epochs", "config"])
def test_plan_refuses_to_reuse_runs_made_with_other_settings(tmp_path, run_writer, change):
    config = tmp_path / "base.yaml"
    config.write_text("Global: {epochs: 3}\n")
    job = _jobs(tmp_path, str(config))[0]
    run_writer(job.run_dir)
    os.makedirs(os.path.dirname(job.spec_path), exist_ok=True)
    with open(job.spec_path, "w") as fh:
        json.dump(job_spec(job, str(config)), fh)
    if change == "epochs":
        job = _jobs(tmp_path, str(config), epochs=5)[0]
    else:
        config.write_text("Global: {epochs: 4}\n")
    with pytest.raises(UserError, match="made with other settings.*first: Momentum_lr0.1_seed0"):
        plan([job], str(config))


def test_nproc_is_passed_on_to_each_train_run(tmp_path):
    job = make_job(Cell("AdamW", 0.01, 0), str(tmp_path), "base.yaml", ["Global.seed=0"], nproc=2)
    assert job.train_args[:3] == ["train", "-c", "base.yaml"] and job.train_args[-2:] == ["--nproc", "2"]


def test_every_registered_optimizer_gets_a_valid_cell_config():
    from paddle_optim.compare.command import validate_cells
    from paddle_optim.config import load_config
    from paddle_optim.factory import list_optimizers

    base = load_config(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "compare", "deep_mlp.yaml"))
    cells = [Cell(name, 0.01, 0) for name, _ in list_optimizers()]
    assert len(cells) >= 12  # the native ones, RAdam, Lookahead, Ranger
    assert validate_cells(base, {c: grid.cell_overrides(c, base, epochs=2) for c in cells}, None) == []
