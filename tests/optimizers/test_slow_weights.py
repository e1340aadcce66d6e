"""Lookahead's slow weights: taken when training starts, swapped in to evaluate, synced at will."""
import numpy as np
import paddle
import pytest

from paddle_optim import Lookahead, Ranger
from paddle_optim.optimizers import functional as F
from paddle_optim.optimizers.state import portable_state_dict

K = 6


def _arrays(params):
    return [p.astype("float32").numpy() if p.dtype == paddle.float16 else p.numpy().copy()
            for p in params]


def _state_arrays(optimizer):
    """The portable state flattened to {path: ndarray} (for bit-exact comparisons)."""
    def walk(tree, prefix=""):
        if isinstance(tree, dict):
            return {k: v for key, value in tree.items()
                    for k, v in walk(value, f"{prefix}/{key}").items()}
        return {prefix: np.asarray(tree)}
    return walk(portable_state_dict(optimizer))


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("dtype,multi_precision", [("float32", False), ("float64", False),
                                                   ("float16", True)])
def test_slow_weights_swap_in_and_restore_bit_for_bit(dtype, multi_precision, problem):
    steps = 2 * K + 3  # mid-cycle: fast and slow differ
    prob = problem(2 * steps)
    params = prob.paddle_params(dtype)
    opt = Ranger(0.05, parameters=params, k=K, multi_precision=multi_precision)
    prob.run_paddle(params, opt, steps)
    fast, state = [p.numpy().copy() for p in params], _state_arrays(opt)
    masters = {n: m.numpy().copy() for n, m in opt.inner_optimizer._master_weights.items()}
    assert len(masters) == (len(params) if multi_precision else 0)
    with opt.slow_weights():
        for param in params:
            slow = opt._slow_weights[param.name]
            np.testing.assert_array_equal(param.numpy(), slow.astype(param.dtype).numpy())
        assert any(not np.array_equal(p.numpy(), f) for p, f in zip(params, fast))
        _assert_same(_state_arrays(opt), state)  # state_dict unaffected inside the block
        with pytest.raises(RuntimeError, match="step.. inside `with optimizer.slow_weights"):
            opt.step()
    for param, value in zip(params, fast):
        np.testing.assert_array_equal(param.numpy(), value)
    for name, master in opt.inner_optimizer._master_weights.items():
        np.testing.assert_array_equal(master.numpy(), masters[name])
    _assert_same(_state_arrays(opt), state)
    # Training goes on exactly as without the detour.
    after = prob.run_paddle(params, opt, steps, start=steps)
    params2 = prob.paddle_params(dtype)
    opt2 = Ranger(0.05, parameters=params2, k=K, multi_precision=multi_precision)
    prob.run_paddle(params2, opt2, steps)
    for a, b in zip(after, prob.run_paddle(params2, opt2, steps, start=steps)):
        np.testing.assert_array_equal(a, b)


def test_slow_weights_before_the_first_step_change_nothing():
    layer = paddle.nn.Linear(3, 2)
    opt = Ranger(parameters=layer.parameters())
    before = _arrays(layer.parameters())
    with opt.slow_weights():
        for param, value in zip(layer.parameters(), before):
            np.testing.assert_array_equal(param.numpy(), value)
    opt.sync()  # nothing to blend yet
    for param, value in zip(layer.parameters(), before):
        np.testing.assert_array_equal(param.numpy(), value)


def test_sync_blends_now_and_keeps_the_k_step_schedule(problem):
    prob = problem(K + 2)
    params = prob.paddle_params("float64")
    opt = Lookahead(paddle.optimizer.SGD(0.1, parameters=params), alpha=0.5, k=K)
    theta0 = _arrays(params)
    fast = prob.run_paddle(params, opt, 2)
    opt.sync()
    synced = [t0 + 0.5 * (f - t0) for t0, f in zip(theta0, fast)]
    for param, value in zip(params, synced):
        np.testing.assert_allclose(param.numpy(), value, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(opt._slow_weights[param.name].numpy(), value, rtol=1e-15,
                                   atol=1e-15)
    # The scheduled synchronisation still comes after the K-th step, not K steps after sync().
    fast = prob.run_paddle(params, opt, K - 3, start=2)
    prob.paddle_loss(params, K - 1).backward()
    grads = [p.grad.numpy() for p in params]
    opt.step()
    for param, slow, theta, grad in zip(params, synced, fast, grads):
        np.testing.assert_allclose(param.numpy(), slow + 0.5 * (theta - 0.1 * grad - slow),
                                   rtol=1e-12, atol=1e-14)


def _model(seed):
    paddle.seed(seed)
    return paddle.nn.Sequential(paddle.nn.Linear(4, 5), paddle.nn.Tanh(), paddle.nn.Linear(5, 2))


def _train(model, opt, steps=2 * K + 1):
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = paddle.to_tensor(rng.standard_normal((8, 4)).astype("float32"))
        model(x).pow(2).mean().backward()
        opt.step()
        opt.clear_grad()
    return [p.numpy() for p in model.parameters()]


@pytest.mark.parametrize("make", [
    lambda ps: Ranger(0.01, parameters=ps, k=K),
    lambda ps: Lookahead(paddle.optimizer.Momentum(0.05, parameters=ps), k=K),
], ids=["Ranger", "Lookahead Momentum"])
def test_weights_loaded_after_construction_are_the_start(make):
    """PaddleOCR builds the optimizer, then loads the pretrained model: that is theta_0."""
    pretrained = _model(1).state_dict()
    late = _model(0)
    opt = make(late.parameters())
    late.set_state_dict(pretrained)
    actual = _train(late, opt)
    early = _model(0)
    early.set_state_dict(pretrained)
    expected = _train(early, make(early.parameters()))
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


def test_reset_slow_weights_after_replacing_weights_mid_run(problem):
    prob = problem(2 * K)
    params = prob.paddle_params("float64")
    opt = Lookahead(paddle.optimizer.SGD(0.1, parameters=params), alpha=0.5, k=K)
    prob.run_paddle(params, opt, 2)
    replaced = [np.full(p.shape, 0.25) for p in params]
    for param, value in zip(params, replaced):
        param.set_value(value)
    opt.reset_slow_weights()
    fast = prob.run_paddle(params, opt, K - 3, start=2)
    prob.paddle_loss(params, K - 1).backward()
    grads = [p.grad.numpy() for p in params]
    opt.step()  # the K-th step synchronises towards the replaced weights, not theta_0
    for param, slow, theta, grad in zip(params, replaced, fast, grads):
        np.testing.assert_allclose(param.numpy(), slow + 0.5 * (theta - 0.1 * grad - slow),
                                   rtol=1e-12, atol=1e-14)


def test_a_state_without_slow_weights_takes_them_at_the_first_step():
    pretrained = _model(1).state_dict()
    fresh = _model(0)
    opt = Ranger(0.01, parameters=fresh.parameters(), k=K)
    state = opt.state_dict()  # saved before any step: no slow weights yet
    assert state["extra"]["slow_weights"] == {}
    model = _model(2)
    opt2 = Ranger(0.01, parameters=model.parameters(), k=K)
    opt2.set_state_dict(state)
    model.set_state_dict(pretrained)
    early = _model(0)
    early.set_state_dict(pretrained)
    for a, b in zip(_train(model, opt2), _train(early, Ranger(0.01, parameters=early.parameters(),
                                                             k=K))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("slow_dtype,fast_dtype,rtol", [
    ("float64", "float64", 1e-15), ("float32", "float32", 1e-6), ("float32", "float16", 1e-6)])
@pytest.mark.parametrize("alpha", [0.5, 0.8])
def test_fused_sync_matches_the_plain_formula(slow_dtype, fast_dtype, rtol, alpha):
    rng = np.random.default_rng(5)
    slow0, fast0 = (rng.standard_normal([257, 33]) for _ in range(2))
    results = []
    for sync in (F.lookahead_sync, F.lookahead_sync_reference):
        slow = paddle.to_tensor(slow0, dtype=slow_dtype)
        fast = paddle.to_tensor(fast0, dtype=fast_dtype)
        sync(slow, fast, alpha)
        np.testing.assert_array_equal(fast.numpy(), slow.astype(fast_dtype).numpy())  # fast <- slow
        results.append(slow.numpy())
    expected = slow0 + alpha * (np.asarray(fast0.astype(fast_dtype), np.float64) - slow0)
    for result in results:
        np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(results[0], results[1], rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-15), ("float32", 1e-6)])
def test_synchronising_many_tensors_matches_the_plain_formula(dtype, rtol):
    """Small float32 tensors share one merged kernel call; large ones (>= MERGE_BELOW) and
    float64 ones go one by one."""
    rng = np.random.default_rng(9)
    shapes = [[16, 16]] * 5 + [[7], [3, 2, 3, 3], [F.MERGE_BELOW // 32 + 1, 32]]
    pairs = [(rng.standard_normal(s), rng.standard_normal(s)) for s in shapes]
    slows = [paddle.to_tensor(s, dtype=dtype) for s, _ in pairs]
    fasts = [paddle.to_tensor(f, dtype=dtype) for _, f in pairs]
    F.lookahead_sync_all(slows, fasts, 0.8)
    for (slow0, fast0), slow, fast in zip(pairs, slows, fasts):
        np.testing.assert_allclose(slow.numpy(), slow0 + 0.8 * (fast0 - slow0), rtol=rtol,
                                   atol=rtol)
        np.testing.assert_array_equal(fast.numpy(), slow.numpy())
