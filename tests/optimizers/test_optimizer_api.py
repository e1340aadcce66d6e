"""Constructor checks, the fused path against the plain reference, native-optimizer behaviour."""
import re

import numpy as np
import paddle
import pytest

from paddle_optim import Lookahead, RAdam, Ranger
from optimizer_info import bad_inputs, linear_params
from paddle_optim.optimizers import functional as F


@pytest.mark.parametrize("name,make,kwargs,message", bad_inputs(),
                         ids=[f"{name}-{sorted(k)[0]}" for name, _, k, _ in bad_inputs()])
def test_bad_hyperparameters_raise_value_error(name, make, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make(**dict({"parameters": linear_params()}, **kwargs))


def test_unknown_group_key_is_refused():
    with pytest.raises(ValueError, match=re.escape("parameter group keys ['beta'] are not")):
        RAdam(parameters=[{"params": linear_params(), "beta": 0.5}])


def test_lookahead_needs_an_optimizer():
    with pytest.raises(TypeError, match="inner_optimizer must be a paddle.optimizer.Optimizer"):
        Lookahead(linear_params())


def _random_tensors(rng, dtype, shapes):
    return [paddle.to_tensor(rng.standard_normal(s), dtype=dtype) for s in shapes]


# float32: the kernel forms 1 - beta in float32 (0.1000000238 for beta1 = 0.9), the reference
# in float64 before rounding; that, not the formula, is the difference.
@pytest.mark.parametrize("dtype,rtol,atol", [("float32", 1e-5, 1e-6), ("float64", 1e-13, 1e-15)])
@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_fused_path_matches_reference(dtype, rtol, atol, decay):
    rng = np.random.default_rng(3)
    # Small tensors share one merged_adam_ call, large ones (>= MERGE_BELOW values) go one by one.
    shapes = [[5, 4], [4], [2, 3, 3, 3], [F.MERGE_BELOW // 64 + 1, 64]]
    params, grads, m1s = (_random_tensors(rng, dtype, shapes) for _ in range(3))
    m2s = [paddle.to_tensor(rng.random(s), dtype=dtype) for s in shapes]
    copies = [[t.clone() for t in group] for group in (params, m1s, m2s)]
    for step in (6, 7, 50):  # the first rectified steps for beta2 = 0.999, and a later one
        hyper = dict(lr=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, decoupled_decay=decay,
                     coefficients=F.radam_coefficients(step, 0.9**step, 0.999))
        assert hyper["coefficients"].rectified
        F.radam_fused(params, grads, m1s, m2s, None, **hyper)
        for p, g, m1, m2 in zip(*copies[:1], grads, *copies[1:]):
            F.radam_reference(p, g, m1, m2, None, **hyper)
    for fused, plain in zip(params + m1s + m2s, sum(copies, [])):
        np.testing.assert_allclose(fused.numpy(), plain.numpy(), rtol=rtol, atol=atol)


def test_rectification_switches_on_after_rho_exceeds_5():
    # beta2 = 0.999: rho_t = 4.99 at t = 5 and 6.0 at t = 6 (torch and Paddle 3.x switch here).
    assert [F.radam_coefficients(t, 0.9**t, 0.999).rectified for t in range(1, 8)] == \
        [False] * 5 + [True] * 2
    # Before that, a momentum-SGD step on m_hat: step size 1 / (1 - beta1^t), never 0 or < 0.
    assert F.radam_coefficients(1, 0.9, 0.999).step_size == pytest.approx(10.0)


def test_beta1_read_every_step_and_bias_corrected_by_product(problem, rel_err):
    """A momentum schedule sets ``_beta1`` between steps; m_hat divides by 1 - prod(beta1)."""
    steps = 30
    prob = problem(steps)
    betas = [0.8 + 0.15 * t / steps for t in range(steps)]
    params = prob.paddle_params("float64")
    opt = RAdam(0.01, parameters=params)

    def schedule(step):
        opt._beta1 = betas[step]

    actual = prob.run_paddle(params, opt, steps, before_step=schedule)
    # numpy float64, straight from the paper with the running product of the betas used.
    theta = [v.copy() for v in prob.initial]
    m = [np.zeros_like(v) for v in theta]
    v2 = [np.zeros_like(v) for v in theta]
    prod, rho_inf = 1.0, 2 / (1 - 0.999) - 1
    for t in range(1, steps + 1):
        beta1 = betas[t - 1]
        prod *= beta1
        rho = rho_inf - 2 * t * 0.999**t / (1 - 0.999**t)
        for i, c in enumerate(prob.coefs[t - 1]):
            g = c + 0.1 * np.sin(theta[i])
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v2[i] = 0.999 * v2[i] + 0.001 * g * g
            m_hat = m[i] / (1 - prod)
            if rho > 5:
                r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
                theta[i] = theta[i] - 0.01 * r * m_hat * np.sqrt(1 - 0.999**t) / (
                    np.sqrt(v2[i]) + 1e-8)
            else:
                theta[i] = theta[i] - 0.01 * m_hat
    assert rel_err(actual, theta) <= 1e-12


def test_minimize_equals_step(problem):
    prob = problem(3)
    results = []
    for use_minimize in (False, True):
        params = prob.paddle_params("float32")
        opt = Ranger(0.01, parameters=params, k=2)
        for step in range(3):
            loss = prob.paddle_loss(params, step)
            loss.backward()
            opt.minimize(loss) if use_minimize else opt.step()
            opt.clear_grad()
        results.append([p.numpy() for p in params])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_learning_rate_accessors_reach_the_inner_optimizer():
    opt = Ranger(0.01, parameters=linear_params())
    opt.set_lr(0.5)
    assert opt.get_lr() == opt.inner_optimizer.get_lr() == 0.5
    scheduler = paddle.optimizer.lr.StepDecay(0.1, step_size=1, gamma=0.5)
    opt.set_lr_scheduler(scheduler)
    scheduler.step()
    assert opt.get_lr() == opt.inner_optimizer.get_lr() == pytest.approx(0.05)


def test_parameters_without_gradient_or_frozen_are_left_alone():
    layer = paddle.nn.Linear(3, 2)
    layer.bias.stop_gradient = True
    bias = layer.bias.numpy().copy()
    opt = Ranger(0.1, parameters=layer.parameters(), k=1)
    (layer.weight.sum()).backward()
    opt.step()
    np.testing.assert_array_equal(layer.bias.numpy(), bias)
    assert layer.bias.name not in opt.inner_optimizer._accumulators["moment1"]


def test_parameter_unfrozen_after_construction_starts_from_its_initial_value():
    layer = paddle.nn.Linear(3, 2)
    layer.bias.stop_gradient = True
    bias0 = layer.bias.numpy().copy()
    opt = Lookahead(paddle.optimizer.SGD(0.1, parameters=layer.parameters()), alpha=0.5, k=2)
    layer.bias.stop_gradient = False
    for _ in range(2):
        layer(paddle.ones([1, 3])).sum().backward()  # d/d bias = 1
        opt.step()
        opt.clear_grad()
    # fast: bias0 - 2 * 0.1; synchronised: bias0 + 0.5 * (fast - bias0)
    np.testing.assert_allclose(layer.bias.numpy(), bias0 - 0.1, rtol=1e-6)
