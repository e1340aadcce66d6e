"""Constructor checks shared by the optimizers: fail where the mistake is made, name the value."""
import numbers

from paddle.optimizer.lr import LRScheduler


def check_range(name: str, value, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False) -> float:
    """Return ``value`` as a float if it lies in the interval, else raise ``ValueError``.

    The message names the argument, the value and the allowed range, e.g.
    ``beta1=1.5 is out of range; allowed: [0, 1)``.
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} must be a number in {interval}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        raise ValueError(f"{name}={value!r} is out of range; allowed: {interval}")
    return float(value)


def check_learning_rate(learning_rate):
    """A float >= 0 (ints are accepted) or any ``paddle.optimizer.lr.LRScheduler``."""
    if isinstance(learning_rate, LRScheduler):
        return learning_rate
    return check_range("learning_rate", learning_rate, 0.0, float("inf"), high_open=True)


def check_parameters(parameters) -> None:
    """Dygraph optimizers need their parameters (a list of tensors or of group dicts)."""
    if parameters is None or (isinstance(parameters, (list, tuple)) and len(parameters) == 0):
        raise ValueError(
            f"parameters={parameters!r}: the optimizer needs the parameters to train in dygraph "
            "mode; allowed: a non-empty list of parameters or of parameter-group dicts"
        )
