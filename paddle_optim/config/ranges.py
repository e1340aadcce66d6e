"""The numeric ranges of the config and of the optimizer constructors, each defined once.

A range's name says what it holds; its text in an error message ("allowed: [0, 1)") is generated
from the same bounds that are enforced (:class:`~paddle_optim.config.schema.Range`). A non-finite
value (nan, inf) is outside every range.
"""
from types import MappingProxyType
from typing import Mapping

from .schema import Range

#: [0, inf): weight decay, noise, warmup start_lr, counts that may be 0.
NON_NEGATIVE = Range(0.0)
#: (0, inf): learning rates (a base rate of 0, or 1e-400 that underflows to it, trains nothing), epsilon,
#: clip norms, loss scales, lengths in epochs or steps.
POSITIVE = Range(0.0, low_inclusive=False)
#: whole numbers >= 1 (with an int field): epochs, batch sizes, widths, intervals.
COUNT = Range(1)
#: at least two classes.
CLASSES = Range(2)
#: [0, 1): momentum, beta1, beta2, rho, dropout, label smoothing.
HALF_OPEN_UNIT = Range(0.0, 1.0, high_inclusive=False)
#: (0, 1): shares held out, EMA decay, phase fractions.
OPEN_UNIT = Range(0.0, 1.0, low_inclusive=False, high_inclusive=False)
#: (0, 1]: Lookahead's alpha (1 = the slow weights jump to the fast ones).
BLEND = Range(0.0, 1.0, low_inclusive=False)
#: numpy's seed range.
SEED = Range(0, 2**32 - 1)

#: Ranges of optimizer arguments that the native classes do not all enforce (paddle.optimizer.Momentum
#: accepts momentum=2): the config checks them for every optimizer, our constructors raise on them.
ARGUMENT_RANGES: Mapping[str, Range] = MappingProxyType({
    "momentum": HALF_OPEN_UNIT, "beta1": HALF_OPEN_UNIT, "beta2": HALF_OPEN_UNIT, "rho": HALF_OPEN_UNIT,
    "epsilon": POSITIVE, "alpha": BLEND, "k": COUNT,
})
