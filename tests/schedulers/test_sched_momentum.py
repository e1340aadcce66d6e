"""Momentum schedules on real optimizers: the value written is the value the next step uses."""
import zlib  # noqa: F401  (before paddle, see paddle_optim/__init__.py)

import numpy as np
import paddle
import pytest

from paddle_optim.errors import ConfigError
from paddle_optim.optimizers import Lookahead, RAdam, Ranger
from paddle_optim.schedulers import MomentumSchedule, TrainingSchedule, build_schedule
from paddle_optim.schedulers.momentum import momentum_slot, set_momentum

# name -> (factory(parameters, momentum), where the momentum lives)
OPTIMIZERS = {
    "Momentum": (lambda p, m: paddle.optimizer.Momentum(0.1, momentum=m, parameters=p), "momentum"),
    "Momentum-nesterov": (lambda p, m: paddle.optimizer.Momentum(0.1, momentum=m, parameters=p, use_nesterov=True),
                          "momentum"),
    "Momentum-multi-tensor": (lambda p, m: paddle.optimizer.Momentum(0.1, momentum=m, parameters=p,
                                                                     use_multi_tensor=True), "momentum"),
    "Adam": (lambda p, m: paddle.optimizer.Adam(0.1, beta1=m, parameters=p), "beta1"),
    "Adam-multi-tensor": (lambda p, m: paddle.optimizer.Adam(0.1, beta1=m, parameters=p, use_multi_tensor=True),
                          "beta1"),
    "AdamW": (lambda p, m: paddle.optimizer.AdamW(0.1, beta1=m, parameters=p, weight_decay=0.01), "beta1"),
    "RAdam": (lambda p, m: RAdam(0.1, beta1=m, parameters=p), "beta1"),
    "Ranger": (lambda p, m: Ranger(0.1, beta1=m, parameters=p, k=2), "beta1"),
    "Lookahead(Momentum)": (lambda p, m: Lookahead(paddle.optimizer.Momentum(0.1, momentum=m, parameters=p), k=2),
                            "momentum"),
}
COEFS = np.random.default_rng(0).standard_normal((4, 2, 3, 2)).astype("float32")


def parameters(groups):
    rng = np.random.default_rng(1)
    params = [paddle.create_parameter([3, 2], "float32") for _ in range(2)]
    for p in params:
        p.set_value(rng.standard_normal((3, 2)).astype("float32"))
    if groups:  # two parameter groups, the second with its own learning-rate scale
        return params, [{"params": [params[0]]}, {"params": [params[1]], "learning_rate": 0.5}]
    return params, params


def train(name, groups, initial, changes):
    """Parameters after 4 steps; ``changes[step]`` is written into the optimizer before that step."""
    factory, _ = OPTIMIZERS[name]
    params, arg = parameters(groups)
    optimizer = factory(arg, initial)
    target, key = momentum_slot(optimizer)
    for step in range(4):
        if step in changes:
            set_momentum(target, key, changes[step])
        loss = sum((p * paddle.to_tensor(COEFS[step, i])).sum() + 0.5 * (p * p).sum() for i, p in enumerate(params))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
    return np.concatenate([p.numpy().ravel() for p in params])


@pytest.mark.parametrize("groups", [False, True], ids=["params", "param-groups"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_written_momentum_is_used_by_the_next_step(name, groups):
    constructed = train(name, groups, 0.6, {})
    written_first = train(name, groups, 0.9, {0: 0.6})
    np.testing.assert_allclose(written_first, constructed, rtol=0, atol=1e-6)
    unchanged = train(name, groups, 0.9, {})
    changed_mid_run = train(name, groups, 0.9, {2: 0.6})
    assert np.abs(changed_mid_run - unchanged).max() > 1e-4


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_momentum_slot_finds_the_inner_optimizer(name):
    factory, key = OPTIMIZERS[name]
    optimizer = factory(parameters(False)[1], 0.9)
    target, found = momentum_slot(optimizer)
    assert found == key
    assert not hasattr(target, "inner_optimizer")


def test_an_optimizer_without_momentum_is_a_config_error():
    schedule = TrainingSchedule(0.1, MomentumSchedule.linear(0.8, 0.95, 10))
    with pytest.raises(ConfigError) as err:
        schedule.attach(paddle.optimizer.SGD(0.1, parameters=parameters(False)[1]))
    assert err.value.key == "MomentumScheduler" and "SGD" in str(err.value)


def test_attach_applies_the_schedule_every_step():
    config = {"Global": {"epochs": 2}, "Optimizer": {"learning_rate": 0.1},
              "LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 0.001},
              "MomentumScheduler": {"name": "Linear", "start": 0.8, "end": 0.95}}
    schedule = build_schedule(config, 5)
    params = parameters(False)[1]
    optimizer = paddle.optimizer.Momentum(schedule.learning_rate, momentum=0.9, parameters=params)
    schedule.attach(optimizer)
    seen = []
    for _ in range(10):
        seen.append((optimizer.get_lr(), optimizer._momentum, schedule.current_lr(), schedule.current_momentum()))
        sum((p * p).sum() for p in params).backward()
        optimizer.step()
        optimizer.clear_grad()
        schedule.step()
    assert [s[:2] for s in seen] == [s[2:] for s in seen]
    assert seen[0][1] == 0.8 and seen[-1][1] == pytest.approx(0.95) and seen[-1][0] == pytest.approx(0.001)


@pytest.mark.parametrize("schedule,expected", [
    (MomentumSchedule.linear(0.8, 0.95, 3), [0.8, 0.85, 0.9, 0.95, 0.95]),
    (MomentumSchedule.linear(0.8, 0.95, 2, "cos"), [0.8, 0.875, 0.95, 0.95]),
    (MomentumSchedule.step(0.8, 0.95, 2), [0.8, 0.8, 0.95, 0.95]),
    (MomentumSchedule.one_cycle(0.95, 0.85, 10, phase_pct=0.3, anneal_strategy="linear", offset=2),
     [0.95, 0.95, 0.95, 0.9, 0.85, 0.85 + 0.1 / 7, 0.85 + 0.2 / 7]),
])
def test_momentum_shapes(schedule, expected):
    assert [schedule.value(k) for k in range(len(expected))] == pytest.approx(expected)
