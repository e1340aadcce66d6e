"""The ppdet adapter inside PaddleDetection 2.6.0's own ``OptimizerBuilder`` and ``LearningRate``
(in-process, no training job): keys, decay spellings, Lookahead's nested spec, ``param_groups``,
and the schedule as the step size."""
import numpy as np
import paddle
import pytest

import paddle_optim.suites as suites
from paddle_optim.errors import ConfigError

suites.register("paddledet")
from ppdet.optimizer import LearningRate, OptimizerBuilder  # noqa: E402
from ppdet.optimizer.optimizer import LinearWarmup, PiecewiseDecay  # noqa: E402


def _model():
    return paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4))


def _build(optimizer, regularizer={"type": "L2", "factor": 1e-4}, lr=0.1, model=None, **kw):
    return OptimizerBuilder(regularizer=regularizer, optimizer=optimizer, **kw)(lr, model or _model())


def test_our_types_with_ppdet_regularizers_and_clipping():
    ranger = _build({"type": "Ranger", "k": 4, "beta1": 0.9}, {"type": "L1", "factor": 1e-4}, clip_grad_by_norm=5.0)
    assert type(ranger).__name__ == "Ranger" and ranger.k == 4 and ranger.inner_optimizer._beta1 == 0.9
    assert isinstance(ranger.inner_optimizer.regularization, paddle.regularizer.L1Decay)
    assert ranger.inner_optimizer._grad_clip.clip_norm == 5.0
    look = _build({"type": "Lookahead", "alpha": 0.6, "k": 3, "inner": {"type": "Momentum", "momentum": 0.8}})
    assert type(look.inner_optimizer) is paddle.optimizer.Momentum and look.inner_optimizer._momentum == 0.8
    assert look.inner_optimizer._regularization_coeff == 1e-4  # Momentum fuses L2Decay into its kernel
    decoupled = _build({"type": "RAdam", "decoupled_decay": 0.01}, regularizer=None)
    assert decoupled._decoupled and decoupled._decay_coeff == 0.01


def test_param_groups_of_ppdet_reach_our_optimizer():
    opt = _build({"type": "Ranger", "param_groups": [{"params": ["1."], "learning_rate": 0.5}]})
    groups = opt.inner_optimizer._param_groups
    assert [g.get("learning_rate", 1.0) for g in groups] == [0.5, 1.0]


@pytest.mark.parametrize("optimizer, regularizer, message", [
    ({"type": "Ranger", "betas": 1}, None, r"OptimizerBuilder.optimizer.betas: unknown key for Ranger \(did you "
                                           r"mean 'beta2'\?\); allowed: alpha, beta1, beta2, decoupled_decay"),
    ({"type": "Ranger", "decoupled_decay": 0.01}, {"type": "L2", "factor": 1e-4},
     r"OptimizerBuilder.regularizer: write `regularizer: None` next to optimizer.decoupled_decay"),
    ({"type": "Lookahead", "inner": {"type": "Ranger"}}, None,
     r"OptimizerBuilder.optimizer.inner.type: Ranger already contains Lookahead"),
    ({"type": "Lookahead"}, None, r"OptimizerBuilder.optimizer.inner: is required"),
    ({"type": "Lookahead", "inner": {"type": "Momentum", "decoupled_decay": 0.1}}, None,
     r"OptimizerBuilder.optimizer.inner.decoupled_decay: unknown key for Momentum"),
    ({"type": "RAdam", "decoupled_decay": -1}, None, r"OptimizerBuilder.optimizer.decoupled_decay: expected a decay"),
])
def test_bad_keys_name_the_key_and_the_choices(optimizer, regularizer, message):
    with pytest.raises(ConfigError, match=message):
        _build(optimizer, regularizer)


@pytest.mark.parametrize("optimizer", [{"type": "RAdam"}, {"type": "Ranger", "k": 10},
                                       {"type": "Lookahead", "k": 10, "inner": {"type": "SGD"}}])
def test_ppdet_schedule_is_the_step_size(optimizer):
    """ppdet's LearningRate (LinearWarmup over PiecewiseDecay, stepped per iteration as its trainer
    does): with a constant gradient, every step of RAdam's first phase / SGD moves a bias by -lr_t."""
    lr = LearningRate(base_lr=0.01, schedulers=[PiecewiseDecay(gamma=0.1, milestones=[2]),
                                                LinearWarmup(steps=3, start_factor=0.1)])(step_per_epoch=2)
    layer = paddle.nn.Linear(2, 1)
    opt = OptimizerBuilder(regularizer=None, optimizer=optimizer)(lr, layer)
    applied, expected = [], []
    for _ in range(5):
        before = layer.bias.numpy().copy()
        expected.append(opt.get_lr())
        layer.bias.sum().backward()
        opt.step()
        lr.step()
        opt.clear_grad()
        applied.append(float((before - layer.bias.numpy())[0]))
    np.testing.assert_allclose(applied, expected, rtol=1e-5)
    np.testing.assert_allclose(expected, [0.001, 0.004, 0.007, 0.01, 0.001], rtol=1e-6)
