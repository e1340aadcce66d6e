"""``paddle-optim lr-find``: the learning-rate range test.

Modules:
    curve    learning rates of a sweep, smoothing, the stop rule, suggestions and warnings (pure numpy)
    sweep    the sweep over the config's real model, data and optimizer (the trainer's optimizer step)
    plot     the PNG
    command  the sub-command: arguments, launch, CSV, report
"""
from .command import lr_find_command
from .curve import analyse, learning_rates, smooth

__all__ = ["analyse", "learning_rates", "lr_find_command", "smooth"]
