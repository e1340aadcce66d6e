"""Optimizers: RAdam, Lookahead, Ranger, and portable optimizer state for any Paddle optimizer.

Modules: ``radam``, ``lookahead``, ``ranger`` (one class each), ``functional`` (the pure update
rules: plain reference and fused forms), ``centralization`` (gradient centralisation on Paddle's
layouts, :func:`gc_axes`), ``state`` (portable checkpoints), ``validation`` (constructor checks).
"""
from paddle_optim.optimizers.centralization import GCAxes, gc_axes
from paddle_optim.optimizers.lookahead import Lookahead
from paddle_optim.optimizers.radam import RAdam
from paddle_optim.optimizers.ranger import Ranger
from paddle_optim.optimizers.state import load_portable_state_dict, portable_state_dict

__all__ = ["GCAxes", "gc_axes", "Lookahead", "RAdam", "Ranger", "load_portable_state_dict",
           "portable_state_dict"]
