"""State other Paddle code can read: "LR_Scheduler", and native name-keyed entries refused."""
import re

import paddle
import pytest

from paddle_optim import RAdam, Ranger
from paddle_optim.optimizers.state import (NATIVE_SCHEDULER_KEY, StateDictMismatch,
                                           load_portable_state_dict, portable_state_dict)


def _trained(make, steps=3):
    paddle.seed(0)
    layer = paddle.nn.Linear(3, 2)
    scheduler = paddle.optimizer.lr.StepDecay(0.1, step_size=2, gamma=0.5)
    opt = make(scheduler, layer.parameters())
    for _ in range(steps):
        layer(paddle.ones([4, 3])).pow(2).mean().backward()
        opt.step()
        opt.clear_grad()
        scheduler.step()
    return opt, scheduler


MAKERS = {
    "Ranger": lambda lr, ps: Ranger(lr, parameters=ps),
    "RAdam": lambda lr, ps: RAdam(lr, parameters=ps),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_state_dict_exposes_the_scheduler_under_paddles_key(name):
    opt, scheduler = _trained(MAKERS[name])
    state = opt.state_dict()
    assert state[NATIVE_SCHEDULER_KEY] == scheduler.state_dict() == state["lr_scheduler"]
    # ppdet's EMA resume reads exactly this; a float learning rate has no such key, as in Paddle.
    assert NATIVE_SCHEDULER_KEY not in RAdam(0.1, parameters=paddle.nn.Linear(2, 2).parameters()
                                             ).state_dict()


def test_the_scheduler_loads_from_paddles_key_alone():
    opt, scheduler = _trained(MAKERS["Ranger"], steps=5)
    state = dict(opt.state_dict(), lr_scheduler=None)
    fresh, fresh_scheduler = _trained(MAKERS["Ranger"], steps=0)
    fresh.set_state_dict(state)
    assert fresh_scheduler.last_epoch == scheduler.last_epoch == 5
    assert fresh.get_lr() == scheduler()


def test_native_entries_merged_into_a_fresh_state_are_refused():
    """PaddleDetection's resume: load a Momentum checkpoint, add the keys of our fresh state_dict()
    that it lacks, then set_state_dict(): an error naming the native entries, not a fresh start."""
    native, _ = _trained(lambda lr, ps: paddle.optimizer.Momentum(lr, parameters=ps))
    merged = native.state_dict()
    ours, _ = _trained(MAKERS["Ranger"], steps=0)
    for key, value in ours.state_dict().items():
        merged.setdefault(key, value)
    velocity = sorted(k for k in merged if "velocity" in k)
    assert velocity and velocity[0].endswith("_velocity_0")
    message = ("optimizer state mixes a portable state with 2 name-keyed entries "
               f"('{velocity[0]}', '{velocity[1]}') of a native Paddle optimizer")
    with pytest.raises(StateDictMismatch, match=re.escape(message)):
        ours.set_state_dict(merged)
    with pytest.raises(StateDictMismatch, match="not a portable optimizer state: it has 2 name"):
        load_portable_state_dict(ours, native.state_dict())
    # Our own state of the native optimizer loads (the portable route for native optimizers).
    load_portable_state_dict(native, portable_state_dict(native))
