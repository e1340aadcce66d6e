"""The metrics an evaluation reports and the direction each improves in, read from a resolved
``Metric`` section (a list of entries; see :mod:`paddle_optim.training.metrics`).

Declared here, below every component, as plain data: the evaluation reports these names, the
schedule validates and lints the metric ReduceOnPlateau watches, the trainer keeps the best
checkpoint and stops early by the monitor's direction, and ``compare`` reads names and direction
back from ``metrics.json``.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

#: The headline metric of a run without a ``Metric`` section: top-1 accuracy in [0, 1].
METRIC_NAME = "top1"
#: The two directions (ReduceOnPlateau's ``mode`` values).
MAX, MIN = "max", "min"
#: What a config without a ``Metric`` section evaluates: top-1 accuracy, the monitor, higher is better.
DEFAULT_METRICS: Tuple[Mapping[str, Any], ...] = ({"name": "Accuracy", "topk": [1], "mode": MAX, "monitor": True},)
#: The evaluation loss is always reported, under this name, and improves downwards.
LOSS = "loss"


def metric_entries(section: Optional[Sequence[Mapping[str, Any]]]) -> Sequence[Mapping[str, Any]]:
    """The entries of a resolved ``Metric`` section (None: the section is absent -> :data:`DEFAULT_METRICS`)."""
    return section if section else DEFAULT_METRICS


def reported_names(entry: Mapping[str, Any]) -> List[str]:
    """The names one entry reports: ``top<k>`` for each ``Accuracy.topk``, else the class name in lower
    case (``MAE`` -> ``mae``, ``mypkg.metrics:MeanIoU`` -> ``meaniou``)."""
    name = str(entry["name"])
    if name == "Accuracy":
        return [f"top{k}" for k in entry.get("topk") or [1]]
    return [name.rpartition(":")[2].lower()]


def directions(section: Optional[Sequence[Mapping[str, Any]]]) -> Dict[str, str]:
    """``{reported name: "max" | "min"}`` of every evaluation number, ``loss`` included."""
    out = {LOSS: MIN}
    for entry in metric_entries(section):
        out.update({n: entry["mode"] for n in reported_names(entry)})
    return out


def monitor(section: Optional[Sequence[Mapping[str, Any]]]) -> Tuple[str, str]:
    """``(name, mode)`` of the monitor: the first name of the entry with ``monitor: true``."""
    entry = next(e for e in metric_entries(section) if e["monitor"])
    return reported_names(entry)[0], entry["mode"]


def improved(value: float, best: Optional[float], mode: str) -> bool:
    """Whether ``value`` beats ``best`` (None: nothing yet) in direction ``mode``."""
    return best is None or (value > best if mode == MAX else value < best)
