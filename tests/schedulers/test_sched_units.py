"""Epoch <-> step conversion, warmup hand-over and positions on the training clock (the steps per epoch
themselves: tests/data/test_steps_per_epoch.py)."""
import zlib  # noqa: F401  (before paddle, see paddle_optim/__init__.py)

import math

import pytest

from paddle_optim.sections import resolve_config
from paddle_optim.schedulers.preview import schedule_table
from paddle_optim.data import config_steps_per_epoch

def run_config(lr_section, world=1, accumulate=1, epochs=10, momentum=None):
    raw = {"Global": {"epochs": epochs, "accumulate_steps": accumulate},
           "Data": {"dataset": {"name": "synthetic", "num_samples": 1000}, "batch_size": 32},
           "Model": {"name": "mlp"}, "Optimizer": {"name": "Momentum", "learning_rate": 0.1},
           "LRScheduler": lr_section}
    if momentum:
        raw["MomentumScheduler"] = momentum
    config = resolve_config(raw)
    return config, config_steps_per_epoch(config, world)


@pytest.mark.parametrize("world,accumulate,spe", [(1, 1, 32), (2, 1, 16), (1, 4, 8), (2, 4, 4)])
@pytest.mark.parametrize("t_max", [None, 10])  # omitted = the run; or 10 epochs written out
def test_ten_epoch_cosine_ends_at_eta_min_on_the_last_optimizer_step(world, accumulate, spe, t_max):
    section = {"name": "CosineAnnealingDecay", "eta_min": 1e-4}
    if t_max:
        section["T_max"] = t_max
    config, derived = run_config(section, world, accumulate)
    assert derived == spe
    rows = schedule_table(config, derived)
    assert len(rows) == 10 * spe
    assert rows[0].lr == 0.1
    assert rows[-1].lr == 1e-4
    assert rows[-2].lr > 1e-4
    assert [(r.step, r.epoch) for r in rows[spe - 1:spe + 1]] == [(spe, 1), (spe + 1, 2)]


@pytest.mark.parametrize("warmup,steps", [({"epochs": 1}, 32), ({"steps": 50}, 50), ({"epochs": 0.5}, 16)])
def test_warmup_hands_over_continuously_and_cosine_still_reaches_eta_min(warmup, steps):
    config, spe = run_config({"name": "CosineAnnealingDecay", "eta_min": 1e-4, "warmup": dict(warmup, start_lr=0.001)})
    lrs = [r.lr for r in schedule_table(config, spe)]
    ramp = (0.1 - 0.001) / steps
    assert lrs[0] == 0.001
    assert lrs[steps - 1] == pytest.approx(0.1 - ramp)   # the warmup's last step ...
    assert lrs[steps] == 0.1                              # ... hands over to the peak, one ramp step later
    assert max(lrs) == 0.1
    assert all(b <= a for a, b in zip(lrs[steps:], lrs[steps + 1:]))  # then only decays
    assert lrs[-1] == 1e-4


def test_warmup_default_start_is_a_hundredth_of_the_peak():
    config, spe = run_config({"name": "StepDecay", "step_size": 4, "warmup": {"steps": 10}})
    assert schedule_table(config, spe)[0].lr == pytest.approx(0.001)


def test_milestones_stay_on_the_training_clock_with_warmup():
    """Detection recipe: MultiStepDecay at epochs [6, 8] with 50 warmup iterations."""
    config, spe = run_config({"name": "MultiStepDecay", "milestones": [6, 8], "gamma": 0.1,
                              "warmup": {"steps": 50, "start_lr": 1e-4}})
    lrs = [r.lr for r in schedule_table(config, spe)]
    assert lrs[6 * spe - 1] == 0.1 and lrs[6 * spe] == pytest.approx(0.01)
    assert lrs[8 * spe - 1] == pytest.approx(0.01) and lrs[8 * spe] == pytest.approx(0.001)


def test_step_unit_and_epoch_unit_agree():
    by_epoch, spe = run_config({"name": "StepDecay", "step_size": 3, "gamma": 0.5})
    by_step, _ = run_config({"name": "StepDecay", "step_size": 3 * spe, "gamma": 0.5, "unit": "step"})
    assert schedule_table(by_epoch, spe) == schedule_table(by_step, spe)


def test_per_epoch_decay_drops_at_epoch_boundaries():
    config, spe = run_config({"name": "ExponentialDecay", "gamma": 0.9})
    lrs = [r.lr for r in schedule_table(config, spe)]
    assert lrs[:spe] == [0.1] * spe
    assert lrs[spe] == pytest.approx(0.09) and lrs[3 * spe - 1] == pytest.approx(0.1 * 0.9 ** 2)


def test_one_cycle_momentum_moves_inversely_to_the_learning_rate():
    config, spe = run_config({"name": "OneCycleLR", "phase_pct": 0.25}, momentum={"name": "OneCycle"})
    rows = schedule_table(config, spe)
    peak = max(range(len(rows)), key=lambda i: rows[i].lr)
    low = min(range(len(rows)), key=lambda i: rows[i].momentum)
    assert peak == low == math.ceil(0.25 * len(rows) - 1)
    assert rows[0].momentum == rows[-1].momentum == 0.95
    assert rows[peak].momentum == pytest.approx(0.85)


def test_build_lr_scheduler_for_library_users():
    import paddle.optimizer.lr as L

    import paddle_optim

    scheduler = paddle_optim.build_lr_scheduler({"name": "StepDecay", "step_size": 2, "gamma": 0.5,
                                                 "warmup": {"steps": 5}}, 0.1, steps_per_epoch=10, epochs=6)
    assert isinstance(scheduler, L.LinearWarmup)
    lrs = []
    for _ in range(60):
        lrs.append(scheduler())
        scheduler.step()
    assert lrs[5:7] == [0.1, 0.1] and lrs[25] == 0.05 and lrs[45] == 0.025
    assert paddle_optim.build_lr_scheduler(None, 0.1, 10, 6) == 0.1
