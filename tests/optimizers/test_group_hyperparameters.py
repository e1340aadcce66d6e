"""Per-group beta1 / beta2 / epsilon, momentum schedules over groups, and coupled L1 decay."""
import re

import numpy as np
import paddle
import pytest

from paddle_optim import RAdam, Ranger
from paddle_optim.schedulers.momentum import momentum_slot, set_momentum

STEPS = 500
LR = 0.01
TOLERANCE = 1e-10
SECOND = dict(beta1=0.5, beta2=0.99, epsilon=1e-6)  # the second group's own values


def _run_torch(torch, prob, make_groups, before_step=None):
    params = prob.torch_params("float64")
    opt = torch.optim.RAdam(make_groups(params), lr=LR)
    for step in range(STEPS):
        opt.zero_grad()
        prob.torch_loss(params, step).backward()
        if before_step is not None:
            before_step(params)
        opt.step()
    return [p.detach().numpy() for p in params]


def test_groups_with_their_own_betas_match_torch(problem, rel_err, torch_oracle):
    prob = problem(STEPS)
    expected = _run_torch(torch_oracle, prob, lambda ps: [
        {"params": ps[:1]},
        {"params": ps[1:], "betas": (SECOND["beta1"], SECOND["beta2"]), "eps": SECOND["epsilon"]}])
    params = prob.paddle_params("float64")
    opt = RAdam(LR, parameters=[{"params": params[:1]}, dict(params=params[1:], **SECOND)])
    actual = prob.run_paddle(params, opt, STEPS)
    assert rel_err(actual, expected) <= TOLERANCE
    # The groups really differ: one set of betas for all would be far from torch.
    params = prob.paddle_params("float64")
    same = prob.run_paddle(params, RAdam(LR, parameters=params), STEPS)
    assert rel_err(same, expected) > 1e-4


def test_ranger_passes_group_betas_to_its_radam():
    layer = paddle.nn.Linear(3, 2)
    opt = Ranger(parameters=[{"params": [layer.weight]}, dict(params=[layer.bias], **SECOND)])
    assert opt.inner_optimizer._param_groups[1]["beta2"] == SECOND["beta2"]
    assert "beta1" not in opt.inner_optimizer._param_groups[0]


def test_momentum_schedule_drives_every_group(problem, rel_err):
    """set_momentum (the MomentumScheduler's writer) reaches the groups with and without their own
    beta1: the grouped run equals two separate optimizers driven by the same schedule."""
    steps = 40
    prob = problem(steps)
    betas = [0.8 + 0.15 * t / steps for t in range(steps)]

    def drive(opt):
        def before_step(step):
            set_momentum(*momentum_slot(opt), betas[step])
        return before_step

    params = prob.paddle_params("float64")
    grouped = Ranger(LR, parameters=[{"params": params[:1]}, dict(params=params[1:], **SECOND)],
                     k=4)
    actual = prob.run_paddle(params, grouped, steps, before_step=drive(grouped))
    assert grouped.inner_optimizer._param_groups[1]["beta1"] == betas[-1]
    assert grouped.inner_optimizer._param_groups[1]["beta2"] == SECOND["beta2"]

    params = prob.paddle_params("float64")
    first = Ranger(LR, parameters=params[:1], k=4)
    second = Ranger(LR, parameters=params[1:], k=4, **SECOND)

    class Both:
        def step(self):
            first.step()
            second.step()

        def clear_grad(self):
            first.clear_grad()
            second.clear_grad()

    def drive_both(step):
        drive(first)(step)
        drive(second)(step)

    separate = prob.run_paddle(params, Both(), steps, before_step=drive_both)
    assert rel_err(actual, separate) <= 1e-13


@pytest.mark.parametrize("key,value,message", [
    ("beta1", 1.0, "beta1=1.0 is out of range; allowed: [0, 1)"),
    ("beta2", -0.5, "beta2=-0.5 is out of range; allowed: [0, 1)"),
    ("epsilon", 0.0, "epsilon=0.0 is out of range; allowed: > 0"),
])
def test_bad_group_hyperparameters_are_refused(key, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        RAdam(parameters=[{"params": paddle.nn.Linear(3, 2).parameters(), key: value}])


def test_l1_decay_is_coupled_like_paddle(problem, rel_err, torch_oracle):
    """L1Decay(c) adds c * sign(theta) to the gradient (as paddle.optimizer.Adam does); a group
    may carry its own L1Decay."""
    torch = torch_oracle
    prob = problem(STEPS)
    coefficients = [0.05, 0.2, 0.2]

    def add_l1(params):
        for param, c in zip(params, coefficients):
            param.grad.add_(torch.sign(param.detach()), alpha=c)

    expected = _run_torch(torch, prob, lambda ps: ps, before_step=add_l1)
    params = prob.paddle_params("float64")
    L1 = paddle.regularizer.L1Decay
    groups = [{"params": params[:1]}, {"params": params[1:], "weight_decay": L1(0.2)}]
    opt = RAdam(LR, weight_decay=L1(0.05), parameters=groups)
    actual = prob.run_paddle(params, opt, STEPS)
    assert rel_err(actual, expected) <= TOLERANCE
    params = prob.paddle_params("float64")
    plain = prob.run_paddle(params, RAdam(LR, parameters=params), STEPS)
    assert rel_err(plain, expected) > 1e-4  # the decay mattered


def test_l1_decay_reaches_ranger_and_refuses_decoupling():
    layer = paddle.nn.Linear(3, 2)
    Ranger(parameters=layer.parameters(), weight_decay=paddle.regularizer.L1Decay(0.1))
    with pytest.raises(ValueError, match=re.escape(
            "weight_decay=L1Decay(...) with decoupled_weight_decay=True: decoupled decay takes a "
            "float coefficient")):
        RAdam(parameters=layer.parameters(), weight_decay=paddle.regularizer.L1Decay(0.1),
              decoupled_weight_decay=True)
