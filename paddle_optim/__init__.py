"""paddle-optim: RAdam, Lookahead and Ranger for PaddlePaddle, schedules from YAML, and a trainer.

Public API::

    from paddle_optim import RAdam, Lookahead, Ranger, build_optimizer, build_lr_scheduler
    from paddle_optim import gc_axes, GCAxes  # centralisation per output unit
"""
# Python's zlib must be loaded before Paddle: the paddlepaddle 2.6 wheel exports its own zlib
# symbols, and a zlib module loaded after it crashes (gzip, PNG writing, paddle.save of large files).
import zlib  # noqa: F401  (import order matters, see above)
import warnings

# Paddle 3.x warns about a missing ccache (a C++-extension build cache) on every import; it is
# irrelevant to training and would sit between the user and our one-line error messages.
warnings.filterwarnings("ignore", message="No ccache found")

__version__ = "0.1.0"

_LAZY = {
    "RAdam": "paddle_optim.optimizers",
    "Lookahead": "paddle_optim.optimizers",
    "Ranger": "paddle_optim.optimizers",
    "gc_axes": "paddle_optim.optimizers",
    "GCAxes": "paddle_optim.optimizers",
    "build_optimizer": "paddle_optim.factory",
    "build_lr_scheduler": "paddle_optim.schedulers",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    # Lazy so that `paddle-optim --help` and config errors do not pay for importing Paddle.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'paddle_optim' has no attribute {name!r}")
