"""Every paddle.optimizer.lr class from YAML: same values as the native class driven by hand; exact resume.

One table row per scheduler: the YAML section, the native object built by hand with the step counts
the YAML means, and whether the native object is stepped per epoch (per-call decays with unit: epoch)
or per optimizer step. The run has 6 epochs of 7 optimizer steps; the peak learning rate is 0.1.
"""
import zlib  # noqa: F401  (before paddle, see paddle_optim/__init__.py)

import paddle
import paddle.optimizer.lr as L
import pytest

from paddle_optim.schedulers import build_schedule
from paddle_optim.schedulers.catalog import SCHEDULERS

LR, SPE, EPOCHS = 0.1, 7, 6
N = SPE * EPOCHS
LOSSES = [1.0, 0.9, 0.95, 0.96, 0.97, 0.5]  # one evaluation per epoch (drives ReduceOnPlateau)

# name -> (LRScheduler section, native built by hand, stepped per epoch)
CASES = {
    "NoamDecay": ({"name": "NoamDecay", "unit": "step", "d_model": 64, "warmup_steps": 10},
                  lambda: L.NoamDecay(64, 10, learning_rate=LR), False),
    "PiecewiseDecay": ({"name": "PiecewiseDecay", "boundaries": [2, 4], "values": [0.1, 0.05, 0.01]},
                       lambda: L.PiecewiseDecay([2 * SPE, 4 * SPE], [0.1, 0.05, 0.01]), False),
    "NaturalExpDecay": ({"name": "NaturalExpDecay", "gamma": 0.1}, lambda: L.NaturalExpDecay(LR, 0.1), True),
    "InverseTimeDecay": ({"name": "InverseTimeDecay", "unit": "step", "gamma": 0.5},
                         lambda: L.InverseTimeDecay(LR, 0.5), False),
    "PolynomialDecay": ({"name": "PolynomialDecay", "end_lr": 0.001, "power": 2.0},
                        lambda: L.PolynomialDecay(LR, N - 1, 0.001, 2.0), False),
    "LinearWarmup": ({"name": "LinearWarmup", "warmup_steps": 2, "start_lr": 0.01},
                     lambda: L.LinearWarmup(LR, 2 * SPE, 0.01, LR), False),
    "ExponentialDecay": ({"name": "ExponentialDecay", "gamma": 0.9}, lambda: L.ExponentialDecay(LR, 0.9), True),
    "MultiStepDecay": ({"name": "MultiStepDecay", "milestones": [2, 5], "gamma": 0.5},
                       lambda: L.MultiStepDecay(LR, [2 * SPE, 5 * SPE], 0.5), False),
    "StepDecay": ({"name": "StepDecay", "step_size": 2, "gamma": 0.5}, lambda: L.StepDecay(LR, 2 * SPE, 0.5), False),
    "LambdaDecay": ({"name": "LambdaDecay", "lr_lambda": "sched_user_fns:halve_every_2"},
                    lambda: L.LambdaDecay(LR, lambda e: 0.5 ** (e // 2)), True),
    "ReduceOnPlateau": ({"name": "ReduceOnPlateau", "patience": 1, "factor": 0.5},
                        lambda: L.ReduceOnPlateau(LR, patience=1, factor=0.5), None),
    "CosineAnnealingDecay": ({"name": "CosineAnnealingDecay", "eta_min": 0.001},
                             lambda: L.CosineAnnealingDecay(LR, N - 1, 0.001), False),
    "MultiplicativeDecay": ({"name": "MultiplicativeDecay", "unit": "step", "lr_lambda": "sched_user_fns:ninety_pct"},
                            lambda: L.MultiplicativeDecay(LR, lambda e: 0.9), False),
    "OneCycleLR": ({"name": "OneCycleLR", "end_learning_rate": 0.0001}, lambda: L.OneCycleLR(LR, N, end_learning_rate=0.0001),
                   False),
    "CyclicLR": ({"name": "CyclicLR", "base_learning_rate": 0.01, "step_size_up": 1, "mode": "triangular2"},
                 lambda: L.CyclicLR(0.01, LR, SPE, mode="triangular2"), False),
    "LinearLR": ({"name": "LinearLR", "start_factor": 0.5}, lambda: L.LinearLR(LR, N - 1, start_factor=0.5), False),
    "CosineAnnealingWarmRestarts": ({"name": "CosineAnnealingWarmRestarts", "T_0": 1, "T_mult": 2, "eta_min": 0.001},
                                    lambda: L.CosineAnnealingWarmRestarts(LR, SPE, 2, 0.001), False),
}


@pytest.fixture(autouse=True)
def user_functions(tmp_path, monkeypatch):
    """A user module with lr_lambda functions, importable as 'sched_user_fns:...'."""
    (tmp_path / "sched_user_fns.py").write_text(
        "def halve_every_2(epoch):\n    return 0.5 ** (epoch // 2)\n\n"
        "def ninety_pct(epoch):\n    return 0.9\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def config(section, momentum=None):
    return {"Global": {"epochs": EPOCHS}, "Optimizer": {"learning_rate": LR}, "LRScheduler": section,
            "MomentumScheduler": momentum}


def run_schedule(schedule, steps, start=0):
    """(lr, momentum) of optimizer steps start..start+steps-1; an evaluation after every epoch."""
    values = []
    for k in range(start, start + steps):
        values.append((schedule.current_lr(), schedule.current_momentum()))
        schedule.step()
        if (k + 1) % SPE == 0:
            schedule.on_evaluation({"loss": LOSSES[k // SPE], "acc": 0.5})
    return values


def run_native(native, per_epoch):
    values = []
    for k in range(N):
        values.append(native())
        end_of_epoch = (k + 1) % SPE == 0
        if per_epoch is None:  # ReduceOnPlateau: stepped by the evaluation after each epoch
            if end_of_epoch:
                native.step(LOSSES[k // SPE])
        elif not per_epoch or end_of_epoch:
            native.step()
    return values


def test_the_table_covers_every_paddle_scheduler():
    assert sorted(CASES) == sorted(SCHEDULERS)
    assert len(SCHEDULERS) == 17  # paddle.optimizer.lr.__all__: these + the abstract LRScheduler base


@pytest.mark.parametrize("name", sorted(CASES))
def test_builder_equals_native_driven_by_hand(name):
    section, native, per_epoch = CASES[name]
    built = [lr for lr, _ in run_schedule(build_schedule(config(section), SPE), N)]
    expected = run_native(native(), per_epoch)
    assert built == expected
    assert len(set(built)) > 1, "the case must exercise a changing learning rate"


def saved_and_loaded(state, tmp_path):
    """Through a real checkpoint file, as the trainer stores it."""
    path = str(tmp_path / "sched.pdparams")
    paddle.save(state, path)
    return paddle.load(path)


RESUME_CASES = [(name, CASES[name][0], None, k) for name in sorted(CASES) for k in (3, 23)] + [
    ("warmup+cosine, mid-warmup", {"name": "CosineAnnealingDecay", "eta_min": 1e-3, "warmup": {"epochs": 1}}, None, 4),
    ("warm restarts mid-cycle + warmup", {"name": "CosineAnnealingWarmRestarts", "T_0": 1, "T_mult": 2,
                                          "warmup": {"steps": 3}}, None, 17),
    ("per-epoch decay + warmup", {"name": "ExponentialDecay", "gamma": 0.5, "warmup": {"steps": 3}}, None, 16),
    ("plateau + warmup", {"name": "ReduceOnPlateau", "patience": 0, "warmup": {"steps": 9}}, None, 22),
    ("momentum ramp mid-ramp", {"name": "StepDecay", "step_size": 2},
     {"name": "Linear", "start": 0.8, "end": 0.95, "length": 4}, 12),
    ("one-cycle momentum", {"name": "OneCycleLR"}, {"name": "OneCycle"}, 20),
    # hold: mid-warmup, mid-hold, right at the hand-over to the schedule, mid-schedule
    *[(f"warmup+hold+cosine, {where}", {"name": "CosineAnnealingDecay", "eta_min": 1e-3, "warmup": {"steps": 4},
                                        "hold": {"epochs": 2}}, None, k)
      for where, k in (("mid-warmup", 2), ("mid-hold", 9), ("hand-over", 18), ("mid-decay", 30))],
    ("hold+per-epoch decay, mid-hold", {"name": "ExponentialDecay", "gamma": 0.5, "hold": {"fraction": 0.5}}, None, 11),
    ("hold+per-epoch decay, mid-decay", {"name": "ExponentialDecay", "gamma": 0.5, "hold": {"fraction": 0.5}}, None, 30),
    ("hold+warm restarts, mid-cycle", {"name": "CosineAnnealingWarmRestarts", "T_0": 1, "hold": {"steps": 10}}, None, 20),
    ("hold+plateau, mid-hold", {"name": "ReduceOnPlateau", "patience": 0, "hold": {"epochs": 2}}, None, 10),
    ("warmup+hold+plateau, mid-hold", {"name": "ReduceOnPlateau", "patience": 0, "warmup": {"steps": 5},
                                       "hold": {"epochs": 1}}, None, 9),
    ("warmup+hold+plateau, after", {"name": "ReduceOnPlateau", "patience": 0, "warmup": {"steps": 5},
                                    "hold": {"epochs": 1}}, None, 29),
    ("hold+multistep+momentum ramp, mid-hold", {"name": "MultiStepDecay", "milestones": [4, 5], "hold": {"epochs": 3}},
     {"name": "Cosine", "start": 0.85, "end": 0.95}, 16),
]


@pytest.mark.parametrize("label,section,momentum,k", RESUME_CASES, ids=[f"{c[0]}@{c[3]}" for c in RESUME_CASES])
def test_resume_gives_the_uninterrupted_values(label, section, momentum, k, tmp_path):
    cfg = config(section, momentum)
    uninterrupted = run_schedule(build_schedule(cfg, SPE), N)
    first = build_schedule(cfg, SPE)
    run_schedule(first, k)
    resumed = build_schedule(cfg, SPE)
    resumed.set_state_dict(saved_and_loaded(first.state_dict(), tmp_path))
    assert run_schedule(resumed, N - k, start=k) == uninterrupted[k:]


def test_native_warm_restarts_checkpoint_loses_the_cycle():
    """Why the builder uses a subclass: the native state_dict does not resume to the right value."""
    native = L.CosineAnnealingWarmRestarts(LR, 4, 2)
    for _ in range(6):
        native.step()
    fresh = L.CosineAnnealingWarmRestarts(LR, 4, 2)
    fresh.set_state_dict(native.state_dict())
    native.step()
    fresh.step()
    assert fresh() != native()
