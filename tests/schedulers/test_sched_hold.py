"""``LRScheduler.hold``: the peak, constant, between the warmup and the schedule.

Hand-overs are continuous, units agree, the schedule after the hold equals the native class built by
hand for the rest of the run, positions stay on the training clock, ReduceOnPlateau ignores
evaluations made during the hold, bad input is one error line, suspicious holds are warnings.
The run has 6 epochs of 7 optimizer steps; the peak learning rate is 0.1.
"""
import zlib  # noqa: F401  (before paddle, see paddle_optim/__init__.py)

import paddle.optimizer.lr as L
import pytest
import yaml

from paddle_optim.schedulers.lint import lint_config
from paddle_optim.cli import main
from paddle_optim.sections import resolve_config
from paddle_optim.schedulers import build_schedule
from paddle_optim.schedulers.adapters import Hold

LR, SPE, EPOCHS = 0.1, 7, 6
N = SPE * EPOCHS
HOLD = 2 * SPE          # hold: {epochs: 2} in the tables below
REST = N - HOLD         # optimizer steps left for the schedule
LOSSES = [1.0, 1.1, 0.9, 0.95, 0.96, 0.5]  # one evaluation per epoch; worse after epoch 2 (the hold's last)


def schedule_of(section, momentum=None):
    return build_schedule({"Global": {"epochs": EPOCHS}, "Optimizer": {"learning_rate": LR, "momentum": 0.9},
                           "LRScheduler": section, "MomentumScheduler": momentum}, SPE)


def run(schedule, steps=N):
    """Learning rate of every optimizer step; an evaluation after every epoch (drives ReduceOnPlateau)."""
    values = []
    for k in range(steps):
        values.append(schedule.current_lr())
        schedule.step()
        if (k + 1) % SPE == 0:
            schedule.on_evaluation({"loss": LOSSES[k // SPE], "acc": 0.5})
    return values


def native_after_hold(native, per_epoch=False, losses=None):
    """A native scheduler driven by hand over the REST steps that follow the hold."""
    values = []
    if losses is not None:  # the evaluation after the hold's last step is the plateau's first
        native.step(losses[HOLD // SPE - 1])
    for k in range(REST):
        values.append(native())
        end_of_epoch = (HOLD + k + 1) % SPE == 0
        if losses is not None:
            if end_of_epoch:
                native.step(losses[(HOLD + k) // SPE])
        elif not per_epoch or (k + 1) % SPE == 0:  # per-epoch decays count epochs from the schedule's start
            native.step()
    return values


# YAML section (+ hold {epochs: 2}) -> the native class for the rest of the run, driven by hand
AFTER_HOLD = {
    "CosineAnnealingDecay": ({"name": "CosineAnnealingDecay", "eta_min": 0.001},
                             lambda: native_after_hold(L.CosineAnnealingDecay(LR, REST - 1, 0.001))),
    "PolynomialDecay (linear)": ({"name": "PolynomialDecay", "end_lr": 0.001, "power": 1.0},
                                 lambda: native_after_hold(L.PolynomialDecay(LR, REST - 1, 0.001, 1.0))),
    "LinearLR": ({"name": "LinearLR", "start_factor": 1.0, "end_factor": 0.01},
                 lambda: native_after_hold(L.LinearLR(LR, REST - 1, 1.0, 0.01))),
    "StepDecay": ({"name": "StepDecay", "step_size": 1, "gamma": 0.5},
                  lambda: native_after_hold(L.StepDecay(LR, SPE, 0.5))),
    # milestones at epochs 3 and 5 of the training clock = steps 7 and 21 of the schedule
    "MultiStepDecay": ({"name": "MultiStepDecay", "milestones": [3, 5], "gamma": 0.1},
                       lambda: native_after_hold(L.MultiStepDecay(LR, [3 * SPE - HOLD, 5 * SPE - HOLD], 0.1))),
    "PiecewiseDecay": ({"name": "PiecewiseDecay", "boundaries": [4], "values": [0.1, 0.01]},
                       lambda: native_after_hold(L.PiecewiseDecay([4 * SPE - HOLD], [0.1, 0.01]))),
    "ExponentialDecay per epoch": ({"name": "ExponentialDecay", "gamma": 0.5},
                                   lambda: native_after_hold(L.ExponentialDecay(LR, 0.5), per_epoch=True)),
    "CosineAnnealingWarmRestarts": ({"name": "CosineAnnealingWarmRestarts", "T_0": 1, "T_mult": 2, "eta_min": 0.001},
                                    lambda: native_after_hold(L.CosineAnnealingWarmRestarts(LR, SPE, 2, 0.001))),
    # the evaluation after epoch 1 falls in the hold and is not counted
    "ReduceOnPlateau": ({"name": "ReduceOnPlateau", "patience": 0, "factor": 0.5},
                        lambda: native_after_hold(L.ReduceOnPlateau(LR, patience=0, factor=0.5), losses=LOSSES)),
}


@pytest.mark.parametrize("label", sorted(AFTER_HOLD))
def test_hold_then_the_native_schedule_over_the_rest_of_the_run(label):
    section, native = AFTER_HOLD[label]
    built = run(schedule_of(dict(section, hold={"epochs": 2})))
    assert built[:HOLD] == [LR] * HOLD
    assert built[HOLD:] == native()
    assert len(set(built[HOLD:])) > 1, "the case must exercise a changing learning rate"


def test_plateau_without_hold_would_have_cut_during_those_epochs():
    """The ReduceOnPlateau row above is not vacuous: the same evaluations cut the rate without a hold."""
    section = {"name": "ReduceOnPlateau", "patience": 0, "factor": 0.5}
    held, plain = run(schedule_of(dict(section, hold={"epochs": 2}))), run(schedule_of(section))
    assert plain[2 * SPE] == LR / 2 and held[2 * SPE] == LR  # 1.0 -> 1.1 cuts only when epoch 1's evaluation counts
    assert held[4 * SPE] == LR / 2                            # with the hold, 0.9 -> 0.95 is the first cut


@pytest.mark.parametrize("warmup", [None, {"steps": 5, "start_lr": 0.001}, {"epochs": 1, "start_lr": 0.001}])
def test_hand_overs_are_continuous(warmup):
    section = {"name": "CosineAnnealingDecay", "eta_min": 0.001, "hold": {"epochs": 2}}
    if warmup:
        section["warmup"] = warmup
    lrs = run(schedule_of(section))
    w = {None: 0, 5: 5, 1: SPE}[(warmup or {}).get("steps", (warmup or {}).get("epochs"))]
    if w:
        ramp = (LR - 0.001) / w
        assert lrs[0] == 0.001
        assert lrs[w - 1] == pytest.approx(LR - ramp)   # the warmup's last step, one ramp step below ...
    assert lrs[w:w + HOLD + 1] == [LR] * (HOLD + 1)      # ... the hold, then the cosine's own first value
    cosine = L.CosineAnnealingDecay(LR, N - w - HOLD - 1, 0.001)
    cosine.step()
    assert lrs[w + HOLD + 1] == cosine()                 # the cosine's second value: no jump at the hand-over
    assert all(b < a for a, b in zip(lrs[w + HOLD:], lrs[w + HOLD + 1:]))
    assert lrs[-1] == 0.001                              # T_max re-derived: eta_min on the last step


def test_epochs_steps_and_fraction_agree():
    tables = [run(schedule_of({"name": "CosineAnnealingDecay", "eta_min": 0.001, "warmup": {"steps": 3},
                               "hold": hold})) for hold in ({"epochs": 2}, {"steps": HOLD}, {"fraction": HOLD / N})]
    assert tables[0] == tables[1] == tables[2]
    assert run(schedule_of({"name": "StepDecay", "step_size": 1, "hold": {"epochs": 0.5}}))[:5] == [LR] * 5


def test_fraction_is_of_the_whole_run_not_of_the_rest():
    lrs = run(schedule_of({"name": "CosineAnnealingDecay", "eta_min": 0.001, "warmup": {"epochs": 1},
                           "hold": {"fraction": 0.5}}))
    assert lrs[SPE:SPE + N // 2 + 1] == [LR] * (N // 2 + 1) and lrs[SPE + N // 2 + 1] < LR


def test_hold_is_a_plain_paddle_scheduler_for_library_users():
    import paddle

    import paddle_optim

    sched = paddle_optim.build_lr_scheduler({"name": "CosineAnnealingDecay", "eta_min": 0.0, "hold": {"steps": 4}},
                                            0.1, steps_per_epoch=5, epochs=2)
    assert isinstance(sched, Hold) and isinstance(sched, paddle.optimizer.lr.LRScheduler)
    layer = paddle.nn.Linear(2, 1)
    opt = paddle.optimizer.SGD(learning_rate=sched, parameters=layer.parameters())
    seen = []
    for _ in range(10):
        seen.append(opt.get_lr())
        sched.step()
    assert seen[:5] == [0.1] * 5 and seen[-1] == 0.0


def test_one_cycle_momentum_starts_with_its_cycle_after_warmup_and_hold():
    """MomentumScheduler OneCycle follows OneCycleLR's phases, which start after warmup + hold (OneCycleLR
    can follow a hold only when it starts at the peak, divide_factor: 1)."""
    schedule = schedule_of({"name": "OneCycleLR", "divide_factor": 1.0, "phase_pct": 0.25, "hold": {"epochs": 2}},
                           {"name": "OneCycle"})
    momenta = []
    for _ in range(N):
        momenta.append(schedule.current_momentum())
        schedule.step()
    low = min(range(N), key=lambda i: momenta[i])
    assert momenta[:HOLD + 1] == [0.95] * (HOLD + 1)
    assert low == HOLD + round(0.25 * REST) - 1 and momenta[low] == pytest.approx(0.85)


BASE = {"Global": {"epochs": EPOCHS}, "Data": {"dataset": {"name": "synthetic", "num_samples": 200}, "batch_size": 32},
        "Model": {"name": "mlp"}, "Optimizer": {"name": "Momentum", "learning_rate": LR, "momentum": 0.9}}
COSINE = {"name": "CosineAnnealingDecay", "eta_min": 0.001}

ERRORS = [
    ("no length", dict(COSINE, hold={}), "LRScheduler.hold: give exactly one of 'epochs', 'steps' or 'fraction'"),
    ("two lengths", dict(COSINE, hold={"epochs": 1, "fraction": 0.5}),
     "LRScheduler.hold: give exactly one of 'epochs', 'steps' or 'fraction' (the hold length)"),
    ("negative", dict(COSINE, hold={"steps": -3}), "LRScheduler.hold.steps: -3.0 is out of range; allowed: > 0"),
    ("zero", dict(COSINE, hold={"epochs": 0}), "LRScheduler.hold.epochs: 0.0 is out of range; allowed: > 0"),
    ("fraction 1", dict(COSINE, hold={"fraction": 1}), "LRScheduler.hold.fraction: 1.0 is out of range; allowed: (0, 1)"),
    ("fraction above 1", dict(COSINE, hold={"fraction": 1.5}), "LRScheduler.hold.fraction: 1.5 is out of range"),
    ("not a mapping", dict(COSINE, hold=3), "LRScheduler.hold: expected mapping, got integer 3"),
    ("not a number", dict(COSINE, hold={"steps": "many"}), "LRScheduler.hold.steps: expected number, got string"),
    ("misspelled length", dict(COSINE, hold={"epoch": 2}),
     "LRScheduler.hold.epoch: unknown key (did you mean 'epochs'?); allowed: epochs, fraction, steps"),
    ("start_lr is the warmup's", dict(COSINE, hold={"epochs": 1, "start_lr": 0.01}),
     "LRScheduler.hold.start_lr: unknown key; allowed: epochs, fraction, steps"),
    ("leaves under 2 steps", dict(COSINE, hold={"steps": 41}),
     "LRScheduler.hold: lasts 41 optimizer steps, leaving 1 of the run's 42 for the schedule; leave at least 2"),
    ("leaves nothing after warmup", dict(COSINE, warmup={"epochs": 1}, hold={"fraction": 0.9}),
     "LRScheduler.hold: lasts 38 optimizer steps after a 7-step warmup, leaving 0 of the run's 42"),
    ("no schedule to hold for", {"hold": {"epochs": 1}}, "LRScheduler.hold: keeps the peak before a schedule, but "
                                                         "there is no LRScheduler.name"),
    ("schedule that starts below the peak", {"name": "OneCycleLR", "hold": {"epochs": 1}},
     "LRScheduler.hold: OneCycleLR starts at 0.004, not at the peak Optimizer.learning_rate 0.1"),
    ("Noam ramps up by itself", {"name": "NoamDecay", "d_model": 64, "warmup_steps": 2, "hold": {"epochs": 1}},
     "LRScheduler.hold: NoamDecay starts at 0, not at the peak"),
    ("milestone inside the hold", {"name": "MultiStepDecay", "milestones": [2, 4], "hold": {"epochs": 2}},
     "LRScheduler.milestones: the first one is at step 14, inside the hold (14 steps); move it after the hold"),
    ("milestone inside warmup and hold", {"name": "MultiStepDecay", "milestones": [2, 4], "warmup": {"steps": 3},
                                          "hold": {"epochs": 2}},
     "at step 14, inside the warmup and hold (17 steps); move it after the warmup and hold"),
]


def check_lines(tmp_path, capsys, section):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(dict(BASE, LRScheduler=section)))
    code = main(["check", "-c", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured


@pytest.mark.parametrize("label,section,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_hold_is_one_error_line(tmp_path, capsys, label, section, message):
    code, captured = check_lines(tmp_path, capsys, section)
    lines = captured.err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured.err


WARNINGS = [
    ("decay under 10%", dict(COSINE, warmup={"steps": 3}, hold={"steps": 36}),
     "LRScheduler.hold: warmup and hold take 93% of training, leaving 0.429 epochs (3 steps) for CosineAnnealingDecay "
     "(under 10%); warmup-stable-decay decays over the last 10-20% of the run: shorten the hold"),
    ("cosine longer than the rest", dict(COSINE, T_max=5, hold={"epochs": 2}),
     "LRScheduler.T_max: 4.86 epochs (34 steps) is longer than the rest of the run after hold (4 epochs (28 steps))"),
    ("cosine shorter than the rest", dict(COSINE, T_max=2, warmup={"steps": 2}, hold={"epochs": 1}),
     "but the run after warmup and hold lasts"),
    ("decay length never completes", {"name": "PolynomialDecay", "end_lr": 0.001, "decay_steps": 5,
                                      "hold": {"epochs": 2}},
     "LRScheduler.decay_steps: 4.86 epochs (34 steps) is not shorter than the rest of the run after hold"),
    ("milestone at the end", {"name": "MultiStepDecay", "milestones": [3, 6], "hold": {"epochs": 1}},
     "LRScheduler.milestones: 6 epochs (42 steps) at or beyond the end"),
]


@pytest.mark.parametrize("label,section,message", WARNINGS, ids=[w[0] for w in WARNINGS])
def test_suspicious_hold_is_a_warning(tmp_path, capsys, label, section, message):
    code, captured = check_lines(tmp_path, capsys, section)
    assert code == 0, captured.err
    assert any(line.startswith("warning: ") and message in line for line in captured.out.splitlines()), captured.out


@pytest.mark.parametrize("section", [
    dict(COSINE, hold={"fraction": 0.7}),
    dict(COSINE, warmup={"steps": 3}, hold={"epochs": 4}),
    {"name": "PolynomialDecay", "end_lr": 0.001, "power": 1.0, "warmup": {"steps": 2}, "hold": {"fraction": 0.75}},
    {"name": "MultiStepDecay", "milestones": [4, 5], "gamma": 0.1, "hold": {"epochs": 2}},
    {"name": "ReduceOnPlateau", "factor": 0.5, "hold": {"epochs": 2}},
])
def test_sound_holds_get_no_warning(section):
    assert lint_config(resolve_config(dict(BASE, LRScheduler=section)), SPE) == []


def test_the_trainer_resumed_mid_hold_finishes_like_the_uninterrupted_run(tmp_path):
    """A real ``train`` run resumed from its epoch-1 checkpoint (inside the hold) applies the same learning
    rates and ends with bit-identical weights."""
    import csv

    import numpy as np
    import paddle

    def config(name):
        raw = {"Global": {"epochs": 4, "seed": 3, "device": "cpu", "log_interval": 1, "eval_interval": 1,
                          "output_dir": str(tmp_path / name)},
               "Data": {"dataset": {"name": "synthetic", "num_samples": 256, "num_val": 32, "num_features": 8,
                                    "num_classes": 3, "seed": 1}, "batch_size": 32},
               "Model": {"name": "mlp", "hidden_sizes": [16]},
               "Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9},
               "LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 0.001, "warmup": {"steps": 4},
                               "hold": {"epochs": 2}},   # 8 steps per epoch: warmup 1-4, hold 5-20, cosine 21-32
               "Checkpoint": {"save_interval": 1, "keep_last": 4}}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(raw))
        return str(path)

    assert main(["train", "-c", config("full")]) == 0
    assert main(["train", "-c", config("resumed"), "--resume", str(tmp_path / "full" / "checkpoints" / "epoch_1")]) == 0

    def lrs(name):
        with open(tmp_path / name / "train_log.csv", newline="") as fh:
            return {int(r["step"]): float(r["lr"]) for r in csv.DictReader(fh)}

    full, resumed = lrs("full"), lrs("resumed")
    assert [full[s] for s in range(5, 22)] == [0.1] * 17 and full[22] < 0.1
    assert {s: lr for s, lr in resumed.items() if s > 8} == {s: lr for s, lr in full.items() if s > 8}
    weights = [paddle.load(str(tmp_path / name / "checkpoints" / "latest.pdparams")) for name in ("full", "resumed")]
    for key in weights[0]:
        np.testing.assert_array_equal(weights[1][key].numpy(), weights[0][key].numpy())
