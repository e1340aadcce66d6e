"""Mixed precision: GradScaler's found_inf flag stops everything; fp32 master weights on CPU."""
import numpy as np
import paddle
import pytest

from paddle_optim import RAdam, Ranger
from optimizer_info import AMP_K, amp_configurations
from paddle_optim.optimizers.state import portable_state_dict

K = AMP_K
OPTIMIZERS = amp_configurations()


def _flatten(tree, prefix=""):
    """Nested state dict -> {path: ndarray or scalar}."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}/{key}"))
        return out
    if isinstance(tree, (list, tuple)):
        return _flatten(dict(enumerate(tree)), prefix)
    return {prefix: np.asarray(tree)}


def _snapshot(params, optimizer):
    snap = _flatten(portable_state_dict(optimizer))
    snap.update({f"param{i}": p.numpy().copy() for i, p in enumerate(params)})
    return snap


def _assert_same(before, after):
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_found_inf_moves_nothing(name, problem):
    prob = problem(2 * K)
    params = prob.paddle_params("float32")
    opt = OPTIMIZERS[name](params)
    prob.run_paddle(params, opt, K - 1)  # the next counted step would synchronise Lookahead
    before = _snapshot(params, opt)
    for step in range(K - 1, 2 * K - 1):
        prob.paddle_loss(params, step).backward()
        # What paddle.amp.GradScaler.step/minimize do when the unscaled gradients hold inf/nan:
        opt._set_auxiliary_var("found_inf", paddle.to_tensor([True]))
        opt.step()
        opt.clear_grad()
        # The flag is settled to a bool for the scaler's update(), as Paddle's optimizers do.
        assert opt._get_auxiliary_var("found_inf") is True
    _assert_same(before, _snapshot(params, opt))

    # A clean step moves again (the test would pass vacuously if nothing ever moved).
    prob.paddle_loss(params, 0).backward()
    opt._set_auxiliary_var("found_inf", paddle.to_tensor([False]))
    opt.step()
    assert opt._get_auxiliary_var("found_inf") is False
    after = _snapshot(params, opt)
    assert any(not np.array_equal(after[k], before[k]) for k in before if k.startswith("param"))


@pytest.mark.parametrize("name", ["RAdam", "Ranger"])
def test_minimize_honours_found_inf(name, problem):
    prob = problem(1)
    params = prob.paddle_params("float32")
    opt = OPTIMIZERS[name](params)
    before = _snapshot(params, opt)
    loss = prob.paddle_loss(params, 0)
    loss.backward()
    opt._set_auxiliary_var("found_inf", paddle.to_tensor([True]))
    opt.minimize(loss)
    _assert_same(before, _snapshot(params, opt))


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("use_gc", [False, True])
def test_fp16_parameters_follow_fp32_master_weights(decoupled, use_gc, problem, torch_oracle,
                                                    centralize_bare):
    """float16 parameters on CPU (no fused kernel): the fp32 masters take exactly RAdam's steps.

    Lock-step oracle: torch.optim.RAdam in float64 is fed the very float16 gradients our
    optimizer sees (plus the same centralisation), starting from the same fp32 master values.
    """
    torch = torch_oracle
    steps = 40
    prob = problem(steps)
    params = prob.paddle_params("float16")
    kwargs = dict(weight_decay=0.05, decoupled_weight_decay=True) if decoupled else {}
    opt = RAdam(0.01, parameters=params, multi_precision=True, use_gc=use_gc, **kwargs)
    oracle = [torch.tensor(p.astype("float32").numpy(), dtype=torch.float64) for p in params]
    torch_opt = torch.optim.RAdam(oracle, lr=0.01, **kwargs)
    for step in range(steps):
        prob.paddle_loss(params, step).backward()
        for mine, theirs in zip(params, oracle):
            grad = torch.tensor(mine.grad.astype("float32").numpy(), dtype=torch.float64)
            if use_gc:
                centralize_bare(torch, grad)
            theirs.grad = grad
        opt.step()
        opt.clear_grad()
        torch_opt.step()
    for param, theirs in zip(params, oracle):
        master = opt._master_weights[param.name]
        assert master.dtype == paddle.float32 and param.dtype == paddle.float16
        np.testing.assert_allclose(master.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(param.numpy(), master.astype("float16").numpy())
    assert opt._accumulators["moment1"][params[0].name].dtype == paddle.float32


def test_amp_decorate_o2_turns_on_master_weights_of_the_inner_radam(problem):
    # paddle.amp.decorate(level='O2') calls this on every optimizer (on GPU; on CPU it declines).
    from paddle.amp.auto_cast import _set_multi_precision

    prob = problem(2 * K)
    params = prob.paddle_params("float16")
    opt = Ranger(0.01, parameters=params, k=K)
    _set_multi_precision(opt, True)
    assert opt.inner_optimizer._multi_precision
    prob.run_paddle(params, opt, 2 * K)
    for param in params:
        master = opt.inner_optimizer._master_weights[param.name]
        # After the synchronisation at step 2K, fast = slow exactly; the param is its fp16 cast.
        np.testing.assert_array_equal(opt._slow_weights[param.name].numpy(), master.numpy())
        np.testing.assert_array_equal(param.numpy(), master.astype("float16").numpy())
