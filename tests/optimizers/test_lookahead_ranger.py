"""Lookahead against a plain Algorithm 1; Ranger against torch RAdam + GC + Lookahead in float64."""
import numpy as np
import paddle
import pytest

from optimizer_info import lookahead_inners
from paddle_optim import Lookahead, RAdam, Ranger

STEPS = 60
TOLERANCE = 1e-10

INNER = lookahead_inners()


def _algorithm1(prob, make_inner, alpha, k):
    """Zhang et al. 2019, Algorithm 1, by hand: slow weights phi = theta_0 in numpy."""
    params = prob.paddle_params("float64")
    inner = make_inner(params)
    slow = [p.numpy().copy() for p in params]
    for step in range(STEPS):
        prob.paddle_loss(params, step).backward()
        inner.step()
        inner.clear_grad()
        if (step + 1) % k == 0:
            for param, phi in zip(params, slow):
                phi += alpha * (param.numpy() - phi)
                param.set_value(phi)
    return [p.numpy() for p in params]


@pytest.mark.parametrize("inner_name", sorted(INNER))
@pytest.mark.parametrize("alpha,k", [(0.5, 5), (0.8, 3), (1.0, 1)])
def test_lookahead_follows_algorithm1(inner_name, alpha, k, problem, rel_err):
    prob = problem(STEPS)
    expected = _algorithm1(prob, INNER[inner_name], alpha, k)
    params = prob.paddle_params("float64")
    actual = prob.run_paddle(params, Lookahead(INNER[inner_name](params), alpha=alpha, k=k), STEPS)
    assert rel_err(actual, expected) <= TOLERANCE
    # Lookahead changes the trajectory (alpha=1 is the identity: plain inner optimizer).
    params = prob.paddle_params("float64")
    plain = prob.run_paddle(params, INNER[inner_name](params), STEPS)
    assert (rel_err(actual, plain) <= TOLERANCE) == (alpha == 1.0)


def test_first_sync_pulls_back_to_initial_weights(problem):
    # After exactly k steps: theta = theta_0 + alpha (theta_k - theta_0), not theta_k.
    prob = problem(5)
    params = prob.paddle_params("float64")
    initial = [p.numpy().copy() for p in params]
    inner = paddle.optimizer.SGD(0.1, parameters=params)
    opt = Lookahead(inner, alpha=0.25, k=5)
    fast = prob.run_paddle(params, opt, 4)
    prob.paddle_loss(params, 4).backward()
    grads = [p.grad.numpy() for p in params]
    opt.step()
    for param, theta0, theta4, grad in zip(params, initial, fast, grads):
        np.testing.assert_allclose(param.numpy(), theta0 + 0.25 * (theta4 - 0.1 * grad - theta0),
                                   rtol=1e-12, atol=1e-14)


# Ranger keyword arguments (beyond the defaults) -> (their effect on the oracle)
RANGER_CASES = {
    "defaults": {},
    "no gc": dict(use_gc=False),
    "gc conv only": dict(gc_conv_only=True),
    "alpha k": dict(alpha=0.8, k=4),
    "betas eps": dict(beta1=0.9, beta2=0.99, epsilon=1e-8),
    "coupled L2": dict(weight_decay=0.1),
    "decoupled": dict(weight_decay=0.1, decoupled_weight_decay=True),
}
RANGER_DEFAULTS = dict(beta1=0.95, beta2=0.999, epsilon=1e-5, alpha=0.5, k=6, use_gc=True,
                       gc_conv_only=False, weight_decay=0.0, decoupled_weight_decay=False)


def _torch_ranger(torch, centralize, prob, lr, beta1, beta2, epsilon, alpha, k, use_gc,
                  gc_conv_only, weight_decay, decoupled_weight_decay):
    """float64 Ranger from torch.optim.RAdam + gradient centralisation (the rank rule for bare
    parameters) + Algorithm 1."""
    params = prob.torch_params("float64")
    opt = torch.optim.RAdam(params, lr=lr, betas=(beta1, beta2), eps=epsilon,
                            weight_decay=weight_decay if decoupled_weight_decay else 0.0,
                            decoupled_weight_decay=decoupled_weight_decay)
    slow = [p.detach().clone() for p in params]
    for step in range(STEPS):
        opt.zero_grad()
        prob.torch_loss(params, step).backward()
        with torch.no_grad():
            for p in params:
                if not decoupled_weight_decay:
                    p.grad.add_(p, alpha=weight_decay)  # coupled L2, then GC (as the GC authors)
                if use_gc:
                    centralize(torch, p.grad, gc_conv_only)
        opt.step()
        if (step + 1) % k == 0:
            with torch.no_grad():
                for p, phi in zip(params, slow):
                    phi.add_(p - phi, alpha=alpha)
                    p.copy_(phi)
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("case", sorted(RANGER_CASES))
def test_ranger_matches_torch_reference(case, problem, rel_err, torch_oracle, centralize_bare):
    prob = problem(STEPS)
    kwargs = RANGER_CASES[case]
    expected = _torch_ranger(torch_oracle, centralize_bare, prob, 0.01,
                             **dict(RANGER_DEFAULTS, **kwargs))
    params = prob.paddle_params("float64")
    actual = prob.run_paddle(params, Ranger(0.01, parameters=params, **kwargs), STEPS)
    assert rel_err(actual, expected) <= TOLERANCE
    # Every flag changes behaviour: each non-default case leaves the default trajectory.
    if kwargs:
        params = prob.paddle_params("float64")
        default = prob.run_paddle(params, Ranger(0.01, parameters=params), STEPS)
        assert rel_err(actual, default) > 1e-6


def test_ranger_is_lookahead_over_gc_radam():
    model = paddle.nn.Linear(3, 2)
    opt = Ranger(parameters=model.parameters())
    assert isinstance(opt, Lookahead) and isinstance(opt.inner_optimizer, RAdam)
    inner = opt.inner_optimizer
    assert (inner._beta1, inner._beta2, inner._epsilon, inner._use_gc) == (0.95, 0.999, 1e-5, True)
    assert (opt.alpha, opt.k) == (0.5, 6)
