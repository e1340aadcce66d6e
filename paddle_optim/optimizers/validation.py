"""Constructor checks shared by the optimizers: fail where the mistake is made, name the value."""
from paddle.optimizer.lr import LRScheduler

from ..config.schema import Range, check_range
from ..registry import ARGUMENT_RANGES

_INF = float("inf")
#: learning_rate, weight_decay: [0, inf).
NON_NEGATIVE = Range(0.0, _INF, high_inclusive=False)
#: epsilon: (0, inf).
POSITIVE = Range(0.0, _INF, low_inclusive=False, high_inclusive=False)
#: beta1, beta2: [0, 1), the range the config checks too (one definition for both).
DECAY_RATE = ARGUMENT_RANGES["beta1"]
#: Lookahead's alpha: (0, 1].
BLEND = ARGUMENT_RANGES["alpha"]


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
