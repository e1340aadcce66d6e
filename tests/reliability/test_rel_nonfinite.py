"""Non-finite values: a NaN/Inf loss or gradient injected at a chosen step (user model by import path).

The step must leave everything untouched: weights, optimizer state (moments, Lookahead slow weights,
step counters), the learning-rate schedule and the EMA are the same just before the bad step and just
before the next one. The event is logged, training continues, and ``Global.max_nonfinite_steps`` bad
steps in a row stop the run cleanly (exit code 2, status ``diverged``, the last good checkpoint kept).
``AMP.enable: true`` runs the same checks through the GradScaler code path (on CPU Paddle keeps the
scaler disabled: the scaler's own inf check needs a GPU, see the README).
"""
import json
import logging
import math

import numpy as np
import pytest

import rel_faulty
from paddle_optim.cli import main
from paddle_optim.factory.clipping import global_norm
from paddle_optim.optimizers.state import portable_state_dict
from paddle_optim.training.distributed import World
from paddle_optim.training.loop import Run, train
from paddle_optim.training.records import NoRecords
from paddle_optim.sections import load_resolved_config
from rel_helpers import assert_same_tree, load_checkpoint, to_numpy, write_config

BAD_STEP = 5
NONFINITE = {
    "Global": {"epochs": 2, "seed": 4, "device": "cpu", "log_interval": 1, "max_nonfinite_steps": 3},
    "Data": {"dataset": {"name": "synthetic", "num_samples": 96, "num_val": 24, "num_features": 8,
                         "num_classes": 3, "seed": 1},
             "batch_size": 12},
    # Lookahead k=2: step 5 would be a slow-weight sync step, so skipping it must skip the sync too.
    "Model": {"name": "rel_faulty:NaNAtStepMLP", "bad_steps": [BAD_STEP], "kind": "loss_nan"},
    "Optimizer": {"name": "Ranger", "learning_rate": 0.01, "k": 2},
    "LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 0.0001},
    "EMA": {"enable": True, "decay": 0.9},
    "Checkpoint": {"interval_steps": 2},
}


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def snapshot(run):
    """Everything a step may change, as numpy values."""
    return {"weights": to_numpy(dict(run.model.state_dict())),
            "optimizer": to_numpy(portable_state_dict(run.optimizer)),
            "schedule": to_numpy(run.schedule.state_dict()), "lr": run.schedule.current_lr(),
            "ema": to_numpy(run.ema.state_dict())}


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "amp_scaler_path"])
@pytest.mark.parametrize("kind", ["loss_nan", "loss_inf", "grad_nan", "grad_inf"])
def test_a_non_finite_step_touches_nothing_and_training_continues(kind, amp, tmp_path, monkeypatch):
    path, _ = write_config(tmp_path, "nf", {"Model": {"kind": kind}, "AMP": {"enable": amp}}, base=NONFINITE)
    run = Run(load_resolved_config(path, []), World(0, 1, "cpu"))
    states = {}

    def observe(step):
        if step in (BAD_STEP, BAD_STEP + 1):
            states[step] = snapshot(run)
    monkeypatch.setattr(rel_faulty, "OBSERVER", observe)
    recorder = Recorder()
    logging.getLogger("paddle_optim.train").addHandler(recorder)
    try:
        metrics = train(run, NoRecords())
    finally:
        logging.getLogger("paddle_optim.train").removeHandler(recorder)
    assert_same_tree(states[BAD_STEP], states[BAD_STEP + 1], "state across the bad step")
    assert metrics["status"] == "finished" and metrics["nonfinite_steps"] == 1
    assert any(f"step {BAD_STEP + 1}" in line and "skipped" in line for line in recorder.lines), recorder.lines
    final = to_numpy(dict(run.model.state_dict()))
    assert all(np.isfinite(v).all() for v in final.values())
    assert not np.array_equal(final["fc1.weight"], states[BAD_STEP + 1]["weights"]["fc1.weight"])  # it went on


@pytest.mark.parametrize("kind", ["loss_nan", "grad_inf"])
def test_too_many_in_a_row_stop_cleanly_and_keep_the_last_good_checkpoint(kind, tmp_path, capsys):
    bad = [6, 7, 8]  # max_nonfinite_steps = 3
    path, out = write_config(tmp_path, "div", {"Model": {"kind": kind, "bad_steps": bad}}, base=NONFINITE)
    assert main(["train", "-c", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: training diverged: 3 non-finite steps in a row") and "Global.max_nonfinite_steps" in err, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["nonfinite_steps"] == 3
    model, _, states = load_checkpoint(out / "checkpoints" / "latest")
    assert states["global_step"] <= 9 and all(np.isfinite(v).all() for v in model.values())


@pytest.mark.parametrize("dtypes,bad", [
    ((), None), (("float32",), None), (("float32", "float64"), None),
    (("float32", "float64"), (0, float("nan"))), (("float32", "float64"), (1, float("inf"))),
    (("float64", "float16", "float32"), (1, float("-inf"))), (("float16",), None), (("float16",), (0, float("nan"))),
])
def test_the_global_gradient_norm_is_exact_and_not_finite_for_any_bad_value(dtypes, bad):
    """The trainer's per-step non-finite test is this norm: every tensor and dtype counts."""
    import paddle

    arrays = [np.linspace(-3, 3, 7).astype(d) * (i + 1) for i, d in enumerate(dtypes)]
    if bad is not None:
        arrays[bad[0]][3] = bad[1]
    tensors = [paddle.to_tensor(a) for a in arrays]
    norm = global_norm(tensors)
    if bad is not None:
        assert not math.isfinite(norm)
    else:
        expected = math.sqrt(sum(float(np.sum(a.astype("float64") ** 2)) for a in arrays))
        assert norm == pytest.approx(expected, rel=1e-6)
    for a, t in zip(arrays, tensors):  # measured, not modified
        np.testing.assert_array_equal(t.numpy(), a)


def test_a_float16_gradient_beyond_256_does_not_overflow_the_norm():
    import paddle

    assert global_norm([paddle.to_tensor(np.full([4], 300.0, dtype="float16"))]) == pytest.approx(600.0)
