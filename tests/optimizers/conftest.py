"""Shared problem for the optimizer tests: the same parameters and losses in Paddle and torch.

The loss at step t is ``sum_i <p_i, c_i,t> - 0.1 sum_i cos(p_i)``, so the gradient
``c_i,t + 0.1 sin(p_i)`` depends on the parameters (errors feed back) and each framework gets it
from its own autograd. Shapes cover rank 1, 2 and 4 (gradient centralisation cares).
"""
# zlib before paddle and torch: see paddle_optim/__init__.py.
import zlib  # noqa: F401

import os
import sys

import numpy as np
import paddle
import pytest

# optimizer_info.py (the optimizer-info table) importable from the tests of this directory.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from paddle_optim import compat

SHAPES = ([6, 4], [4], [3, 2, 3, 3])


class Problem:
    def __init__(self, steps: int, seed: int = 0, shapes=SHAPES):
        rng = np.random.default_rng(seed)
        self.initial = [rng.standard_normal(shape) for shape in shapes]
        self.coefs = [[rng.standard_normal(shape) for shape in shapes] for _ in range(steps)]

    # -- Paddle ---------------------------------------------------------------------------------
    def paddle_params(self, dtype="float64"):
        params = []
        for value in self.initial:
            param = paddle.create_parameter(list(value.shape), dtype)
            param.set_value(value.astype(dtype) if dtype != "bfloat16" else value.astype("float32"))
            params.append(param)
        return params

    def paddle_loss(self, params, step):
        total = 0.0
        for param, coef in zip(params, self.coefs[step]):
            # float16 parameters: compute in float32 (CPU lacks some float16 kernels).
            value = param.astype("float32") if compat.is_low_precision(param.dtype) else param
            total = total + (value * paddle.to_tensor(coef, dtype=value.dtype)).sum()
            total = total - 0.1 * paddle.cos(value).sum()
        return total

    def run_paddle(self, params, optimizer, steps, start=0, before_step=None, after_step=None):
        """Take ``steps`` optimizer steps from step index ``start``; returns the params as numpy.

        ``before_step(step)`` runs before the backward pass, ``after_step()`` after each step
        (e.g. ``scheduler.step``).
        """
        for step in range(start, start + steps):
            if before_step is not None:
                before_step(step)
            self.paddle_loss(params, step).backward()
            optimizer.step()
            optimizer.clear_grad()
            if after_step is not None:
                after_step()
        return [p.astype("float32").numpy() if compat.is_low_precision(p.dtype) else p.numpy()
                for p in params]

    # -- torch ----------------------------------------------------------------------------------
    def torch_params(self, dtype):
        import torch

        return [torch.tensor(value, dtype=getattr(torch, dtype), requires_grad=True)
                for value in self.initial]

    def torch_loss(self, params, step):
        import torch

        total = 0.0
        for param, coef in zip(params, self.coefs[step]):
            total = total + (param * torch.tensor(coef, dtype=param.dtype)).sum()
            total = total - 0.1 * torch.cos(param).sum()
        return total


def bare_rank_rule_centralize(torch, grad, conv_only=False):
    """The rank rule for bare parameters, in torch: rank 2 centred over axis 0 (Paddle's
    ``[in, out]`` Linear), rank >= 3 over axes 1.. (a convolution); in place."""
    if grad.dim() <= (3 if conv_only else 1):
        return grad
    dims = (0,) if grad.dim() == 2 else tuple(range(1, grad.dim()))
    return grad.sub_(grad.mean(dim=dims, keepdim=True))


def relative_error(actual, expected) -> float:
    """max |a - e| / max |e| over all tensors."""
    diff = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(e, np.float64))))
               for a, e in zip(actual, expected))
    scale = max(float(np.max(np.abs(np.asarray(e, np.float64)))) for e in expected)
    return diff / scale


@pytest.fixture
def problem():
    """Factory: ``problem(steps, seed=0)`` -> :class:`Problem`."""
    return Problem


@pytest.fixture
def rel_err():
    return relative_error


@pytest.fixture
def centralize_bare():
    """:func:`bare_rank_rule_centralize` (torch, grad, conv_only=False)."""
    return bare_rank_rule_centralize


@pytest.fixture(scope="session")
def torch_oracle():
    import torch  # an independent oracle: installed by scripts/test.sh, never skipped

    torch.set_num_threads(1)
    return torch
