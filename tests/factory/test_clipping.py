"""Global-norm clipping across parameter groups, and the once-per-step measurement the trainer reuses
for its non-finite test, its grad_norm log and the clip."""
import math

import numpy as np
import paddle
import pytest

from paddle_optim.factory.clipping import ClipGradByGlobalNormAcrossGroups, global_norm


def _model_with_grads(scale):
    paddle.seed(0)
    model = paddle.nn.Sequential(paddle.nn.Linear(6, 16), paddle.nn.Tanh(), paddle.nn.Linear(16, 3))
    x = paddle.randn([8, 6])
    (model(x).square().sum() * scale).backward()
    return model


def _clipped(clip, model):
    return [g.numpy() for _, g in clip._dygraph_clip([(p, p.grad) for p in model.parameters()])]


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])  # norms below and above clip_norm
def test_one_group_clips_bit_for_bit_like_paddle(scale):
    model = _model_with_grads(scale)
    ours = _clipped(ClipGradByGlobalNormAcrossGroups(1.0, model.parameters()), model)
    paddles = [g.numpy() for _, g in paddle.nn.ClipGradByGlobalNorm(1.0)._dygraph_clip(
        [(p, p.grad) for p in model.parameters()])]
    for a, b in zip(ours, paddles):
        np.testing.assert_array_equal(a, b)
    expected_norm = math.sqrt(sum(float((p.grad.numpy().astype("float64") ** 2).sum()) for p in model.parameters()))
    clipped_norm = math.sqrt(sum(float((g.astype("float64") ** 2).sum()) for g in ours))
    assert clipped_norm == pytest.approx(min(expected_norm, 1.0), rel=1e-5)


def test_a_measured_step_clips_exactly_like_an_unmeasured_one():
    model = _model_with_grads(1e3)
    clip = ClipGradByGlobalNormAcrossGroups(1.0, model.parameters())
    unmeasured = _clipped(clip, model)
    norm = clip.measure()
    assert norm == pytest.approx(global_norm([p.grad for p in model.parameters()]))
    for a, b in zip(_clipped(clip, model), unmeasured):
        np.testing.assert_array_equal(a, b)
    assert clip._measured is None  # used once: the next step measures again


def test_a_new_measurement_replaces_one_whose_step_was_skipped():
    model = _model_with_grads(1e3)
    clip = ClipGradByGlobalNormAcrossGroups(1.0, model.parameters())
    clip.measure()  # the trainer skipped this step; new gradients follow
    for p in model.parameters():
        p.clear_gradient()
    (model(paddle.ones([2, 6])).sum() * 1e-3).backward()
    fresh = _clipped(ClipGradByGlobalNormAcrossGroups(1.0, model.parameters()), model)
    clip.measure()
    for a, b in zip(_clipped(clip, model), fresh):
        np.testing.assert_array_equal(a, b)


def test_need_clip_false_is_neither_scaled_nor_in_the_clip_norm_but_is_measured():
    model = _model_with_grads(1e3)
    frozen = model[2].bias
    frozen.need_clip = False
    clip = ClipGradByGlobalNormAcrossGroups(1e-2, model.parameters())
    total = clip.measure()
    assert total == pytest.approx(global_norm([p.grad for p in model.parameters()]))
    out = dict(zip([p.name for p in model.parameters()], _clipped(clip, model)))
    np.testing.assert_array_equal(out[frozen.name], frozen.grad.numpy())
    rest = [out[p.name].astype("float64") for p in model.parameters() if p is not frozen]
    assert math.sqrt(sum(float((g ** 2).sum()) for g in rest)) == pytest.approx(1e-2, rel=1e-5)


def test_one_nan_gradient_makes_the_measurement_nan():
    model = _model_with_grads(1.0)
    grad = model[0].weight.grad
    values = grad.numpy()
    values[0, 0] = np.nan
    grad.set_value(values)
    assert math.isnan(ClipGradByGlobalNormAcrossGroups(1.0, model.parameters()).measure())
