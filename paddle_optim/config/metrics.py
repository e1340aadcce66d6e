"""The metrics the evaluation reports, by the names a config may use (``LRScheduler.metric``).

Declared here, below every component: the evaluation (:mod:`paddle_optim.training.evaluate`)
reports them, the schedule validates and lints the metric ReduceOnPlateau watches, the run records
and ``compare`` read them back.
"""
from types import MappingProxyType
from typing import Mapping

#: The headline metric of a run: top-1 accuracy in [0, 1] on the validation set.
METRIC_NAME = "top1"
#: Every reported metric and the direction it improves in (ReduceOnPlateau's ``mode``).
IMPROVES: Mapping[str, str] = MappingProxyType({"loss": "min", METRIC_NAME: "max"})
