"""Constructor checks shared by the optimizers: fail where the mistake is made, name the value.

The ranges themselves live in :mod:`paddle_optim.config.ranges`, shared with the config schema.
"""
from paddle.optimizer.lr import LRScheduler

from ..config.ranges import NON_NEGATIVE
from ..config.schema import check_range


def check_learning_rate(learning_rate):
    """A float >= 0 (ints are accepted) or any ``paddle.optimizer.lr.LRScheduler``."""
    if isinstance(learning_rate, LRScheduler):
        return learning_rate
    return check_range("learning_rate", learning_rate, NON_NEGATIVE)


def check_parameters(parameters) -> None:
    """Dygraph optimizers need their parameters (a list of tensors or of group dicts)."""
    if parameters is None or (isinstance(parameters, (list, tuple)) and len(parameters) == 0):
        raise ValueError(
            f"parameters={parameters!r}: the optimizer needs the parameters to train in dygraph "
            "mode; allowed: a non-empty list of parameters or of parameter-group dicts"
        )
