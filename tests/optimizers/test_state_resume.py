"""Portable optimizer state: save mid-run, rebuild everything, load, continue bit-for-bit."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from optimizer_info import RESUME_STEPS, resume_configurations
from paddle_optim import Lookahead, RAdam, Ranger
from paddle_optim.optimizers.state import (
    StateDictMismatch,
    load_portable_state_dict,
    portable_state_dict,
)

TOTAL, SAVE_AT = RESUME_STEPS, 7  # 7 is no multiple of Lookahead's k (5) nor Ranger's (6)
# name -> (dtype, factory(params) -> optimizer)
OPTIMIZERS = resume_configurations()


def _scheduler_step(optimizer):
    scheduler = optimizer._learning_rate
    return scheduler.step if isinstance(scheduler, paddle.optimizer.lr.LRScheduler) else None


def _save_state(optimizer):
    if isinstance(optimizer, (RAdam, Lookahead)):
        return optimizer.state_dict()  # our classes' own state_dict is the portable one
    return portable_state_dict(optimizer)


def _load_state(optimizer, state):
    if isinstance(optimizer, (RAdam, Lookahead)):
        optimizer.set_state_dict(state)
    else:
        load_portable_state_dict(optimizer, state)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resume_continues_bit_for_bit(name, problem, tmp_path):
    dtype, make = OPTIMIZERS[name]
    prob = problem(TOTAL)
    params = prob.paddle_params(dtype)
    opt = make(params)
    prob.run_paddle(params, opt, SAVE_AT, after_step=_scheduler_step(opt))
    path = str(tmp_path / "checkpoint.pdopt")
    paddle.save({"params": [p.numpy() for p in params], "optimizer": _save_state(opt)}, path)
    uninterrupted = prob.run_paddle(params, opt, TOTAL - SAVE_AT, start=SAVE_AT,
                                    after_step=_scheduler_step(opt))

    rebuilt = prob.paddle_params(dtype)
    assert {p.name for p in rebuilt}.isdisjoint(p.name for p in params)  # new generated names
    opt2 = make(rebuilt)
    checkpoint = paddle.load(path)
    for param, value in zip(rebuilt, checkpoint["params"]):
        param.set_value(value)
    _load_state(opt2, checkpoint["optimizer"])
    resumed = prob.run_paddle(rebuilt, opt2, TOTAL - SAVE_AT, start=SAVE_AT,
                              after_step=_scheduler_step(opt2))
    for actual, expected in zip(resumed, uninterrupted):
        np.testing.assert_array_equal(actual, expected)


def test_state_holds_the_minimum():
    # RAdam: 2 moments; Ranger: + slow weights (3x params); masters only under multi_precision.
    model = paddle.nn.Linear(5, 3)
    ranger = Ranger(parameters=model.parameters())
    model(paddle.rand([2, 5])).mean().backward()
    ranger.step()
    state = ranger.state_dict()
    inner = state["extra"]["inner"]
    assert sorted(inner["accumulators"]) == ["moment1", "moment2"]
    assert inner["master_weights"] == {} and state["accumulators"] == {}
    assert sorted(state["extra"]["slow_weights"]) == [0, 1]
    values = sum(a.size for kind in inner["accumulators"].values() for a in kind.values())
    values += sum(a.size for a in state["extra"]["slow_weights"].values())
    assert values == 3 * sum(p.size for p in model.parameters())


def _worker():
    spec = importlib.util.spec_from_file_location(
        "resume_worker", Path(__file__).with_name("resume_worker.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_resume_in_a_new_process(tmp_path):
    worker = _worker()
    model, optimizer, scheduler = worker.build(seed=1)
    worker.train(model, optimizer, scheduler, 0, SAVE_AT)
    checkpoint = str(tmp_path / "run.pdckpt")
    paddle.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "step": SAVE_AT}, checkpoint)
    expected = worker.train(model, optimizer, scheduler, SAVE_AT, TOTAL)
    output = str(tmp_path / "resumed.pdparams")
    subprocess.run([sys.executable, str(Path(__file__).with_name("resume_worker.py")),
                    checkpoint, str(TOTAL), output],
                   check=True, timeout=120, env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    for actual, wanted in zip(paddle.load(output)["params"], expected):
        np.testing.assert_array_equal(np.asarray(actual), wanted)


def _trained_adam(sizes):
    layers = [paddle.nn.Linear(3, 3) for _ in range(sum(sizes) // 2)]
    params = [p for layer in layers for p in layer.parameters()]
    groups, start = [], 0
    for size in sizes:
        groups.append({"params": params[start:start + size]})
        start += size
    opt = RAdam(parameters=groups if len(sizes) > 1 else params)
    sum(layer(paddle.rand([2, 3])).sum() for layer in layers).backward()
    opt.step()
    return opt


@pytest.mark.parametrize("saved,loaded,message", [
    ([2], [2, 2], "1 parameter group(s) of sizes [2]; this optimizer has 2 of sizes [2, 2]"),
    ([2, 2], [4], "2 parameter group(s) of sizes [2, 2]; this optimizer has 1 of sizes [4]"),
    ([2, 2], [2, 2, 2], "this optimizer has 3 of sizes [2, 2, 2]"),
])
def test_mismatched_groups_are_refused(saved, loaded, message):
    state = _trained_adam(saved).state_dict()
    with pytest.raises(StateDictMismatch, match=re.escape(message)):
        _trained_adam(loaded).set_state_dict(state)


def test_mismatched_shapes_and_classes_are_refused():
    state = RAdam(parameters=paddle.nn.Linear(3, 3).parameters()).state_dict()
    state_trained = _trained_adam([2]).state_dict()
    message = "moment1 of parameter #0: checkpoint has shape [3, 3] float32, the optimizer expects"
    with pytest.raises(StateDictMismatch, match=re.escape(message)):
        RAdam(parameters=paddle.nn.Linear(4, 3).parameters()).set_state_dict(state_trained)
    with pytest.raises(StateDictMismatch, match="saved from RAdam, it cannot be loaded into Rang"):
        Ranger(parameters=paddle.nn.Linear(3, 3).parameters()).set_state_dict(state)
    with pytest.raises(ValueError, match="not a portable optimizer state"):
        RAdam(parameters=paddle.nn.Linear(3, 3).parameters()).set_state_dict({"moment1_0": 1})
