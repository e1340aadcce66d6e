"""The ``Metric`` config section and the evaluation metrics it builds, in Paddle's own interface
(``paddle.metric.Metric``: ``reset`` / ``update`` / ``accumulate`` / ``name``; ``compute`` when the
metric has one).

``Metric`` is a list of entries ``{name: ..., <its arguments>, mode: max|min, monitor: true}``::

    Metric:
      - {name: MAE}                       # the monitor (the first entry), lower is better
      - {name: RMSE}
      - {name: R2}
    Metric:
      - {name: Accuracy, topk: [1, 5]}    # reports top1 and top5; top1 is the monitor
    Metric:
      - {name: Precision}
      - {name: Auc, monitor: true}
      - {name: "mypkg.metrics:MeanIoU", mode: max, num_classes: 21}

==============  ======  ================================================================================
name            mode    what it gets
==============  ======  ================================================================================
``Accuracy``    max     ``paddle.metric.Accuracy(topk)``: logits (N, C), class indices; reports ``top<k>``
``Precision``   max     ``paddle.metric.Precision``: sigmoid of the outputs (multi-label: every output
                        one binary decision, micro-averaged) or softmax class 1 of two logits
``Recall``      max     ``paddle.metric.Recall``: as Precision
``Auc``         max     ``paddle.metric.Auc(curve, num_thresholds)``: probabilities as Precision
``MAE``         min     mean absolute error of outputs and targets (same number of values per sample)
``RMSE``        min     root of the mean squared error
``R2``          max     coefficient of determination, 1 - SSE / SST over every target value
``pkg.mod:Cls`` (given) a ``paddle.metric.Metric`` subclass: ``update(*compute(outputs, targets))``
==============  ======  ================================================================================

The first entry is the monitor unless another says ``monitor: true``; its direction (``mode``, a
default per metric above; required for an import path) drives ``best_model``, early stopping,
ReduceOnPlateau's lint and ``compare``'s ranking (:mod:`paddle_optim.config.metrics`).

Across processes every metric's state is summed (counts, sums of errors, histograms: never a mean
of per-process means), so a 2-process evaluation reports what one process evaluating everything
does. A user metric names its summable attributes in a class attribute ``state_names``.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F

from ..config.import_path import check_kwargs, is_import_path, load_object
from ..config.metrics import LOSS, MAX, MIN, metric_entries, reported_names
from ..config.fields import number_list
from ..config.ranges import COUNT
from ..config.schema import Field, join_key, unknown_name_message, validate_section
from ..errors import ConfigError, user_code_failed
from .distributed import World, all_reduce_sum


class _Regression(paddle.metric.Metric):
    """Sums over every target value of a regression; ``state_names`` are summed across processes."""

    state_names = ("count", "abs_error", "sq_error", "target_sum", "target_sq_sum")

    def __init__(self, name: Optional[str] = None):
        super().__init__()
        self._name = name or type(self).__name__.lower()
        self.reset()

    def reset(self) -> None:
        self.count = self.abs_error = self.sq_error = self.target_sum = self.target_sq_sum = 0.0

    def update(self, preds, labels) -> None:
        """``preds`` and ``labels``: arrays with the same number of values (float64 sums)."""
        p = np.asarray(preds, dtype="float64").reshape(-1)
        y = np.asarray(labels, dtype="float64").reshape(-1)
        err = p - y
        self.count += y.size
        self.abs_error += float(np.abs(err).sum())
        self.sq_error += float((err * err).sum())
        self.target_sum += float(y.sum())
        self.target_sq_sum += float((y * y).sum())

    def name(self) -> str:
        return self._name


class MAE(_Regression):
    """Mean absolute error, ``sum |p - y| / n`` over every target value."""

    def accumulate(self) -> float:
        return self.abs_error / max(self.count, 1.0)


class RMSE(_Regression):
    """Root mean squared error, ``sqrt(sum (p - y)^2 / n)``."""

    def accumulate(self) -> float:
        return float(np.sqrt(self.sq_error / max(self.count, 1.0)))


class R2(_Regression):
    """Coefficient of determination ``1 - SSE / SST``, ``SST = sum y^2 - (sum y)^2 / n`` (one mean over
    every target value); nan when the targets are constant."""

    def accumulate(self) -> float:
        sst = self.target_sq_sum - self.target_sum ** 2 / max(self.count, 1.0)
        return 1.0 - self.sq_error / sst if sst > 0 else float("nan")


_MODE = Field((str,), None, choices=(MAX, MIN), help="the direction the metric improves in")
_ENTRY_KEYS = {"name": Field((str,)), "mode": _MODE, "monitor": Field((bool,), False)}


class _Kind:
    """A metric by name: its class, arguments (fields), default direction, summed states, input."""

    def __init__(self, cls, mode: str, fields: Mapping[str, Field], states: Sequence[str], inputs: str):
        self.cls, self.mode, self.fields, self.states, self.inputs = cls, mode, fields, tuple(states), inputs


def _kinds() -> Dict[str, _Kind]:
    pm = paddle.metric
    prob = "probabilities"
    return {
        "Accuracy": _Kind(pm.Accuracy, MAX, {"topk": number_list([1], COUNT, integers=True)}, ("total", "count"),
                          "logits"),
        "Precision": _Kind(pm.Precision, MAX, {}, ("tp", "fp"), prob),
        "Recall": _Kind(pm.Recall, MAX, {}, ("tp", "fn"), prob),
        "Auc": _Kind(pm.Auc, MAX, {"curve": Field((str,), "ROC", choices=("ROC", "PR")),
                                   "num_thresholds": Field((int,), 4095, COUNT)}, ("_stat_pos", "_stat_neg"),
                     "two_column_probabilities"),
        "MAE": _Kind(MAE, MIN, {}, MAE.state_names, "values"),
        "RMSE": _Kind(RMSE, MIN, {}, RMSE.state_names, "values"),
        "R2": _Kind(R2, MAX, {}, R2.state_names, "values"),
    }


#: Metrics by name.
METRICS: Mapping[str, _Kind] = _kinds()


def validate_metric_section(raw: Any, path: str) -> Tuple[Optional[List[Dict[str, Any]]], List[ConfigError]]:
    """Resolve ``Metric``: a list of entries, each with ``mode`` and ``monitor`` filled in (exactly one
    monitor). Absent: None (top-1 accuracy, :data:`~paddle_optim.config.metrics.DEFAULT_METRICS`)."""
    if raw is None:
        return None, []
    if not isinstance(raw, list) or not raw:
        return None, [ConfigError(path, f"expected a list of metrics, e.g. [{{name: MAE}}, {{name: RMSE}}]; "
                                  f"got {raw!r}")]
    entries, errors = [], []
    for i, item in enumerate(raw):
        entry, more = _entry(item, join_key(path, i))
        errors += more
        entries.append(entry)
    if errors:
        return None, errors
    monitors = [i for i, e in enumerate(entries) if e["monitor"]]
    if len(monitors) > 1:
        return None, [ConfigError(join_key(join_key(path, monitors[1]), "monitor"),
                                  f"only one metric can be the monitor; {path}[{monitors[0]}] is already")]
    if not monitors:
        entries[0]["monitor"] = True
    seen: Dict[str, int] = {}
    for i, entry in enumerate(entries):
        for name in reported_names(entry):
            if name == LOSS or name in seen:
                other = "the evaluation loss" if name == LOSS else f"{path}[{seen[name]}]"
                return None, [ConfigError(join_key(path, i), f"reports '{name}' like {other}; each metric once")]
            seen[name] = i
    return entries, []


def _entry(item: Any, path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    if not isinstance(item, Mapping) or "name" not in item:
        return {}, [ConfigError(join_key(path, "name"), f"is required; allowed: {', '.join(METRICS)} or an import "
                                "path 'package.module:Class' (a paddle.metric.Metric)")]
    name = item["name"]
    if is_import_path(name):
        try:
            cls = load_object(name, join_key(path, "name"))
        except ConfigError as err:
            return {}, [err]
        resolved, errors = validate_section({k: v for k, v in item.items() if k in _ENTRY_KEYS}, _ENTRY_KEYS, path)
        if not (isinstance(cls, type) and issubclass(cls, paddle.metric.Metric)):
            errors.append(ConfigError(join_key(path, "name"), f"{name} is not a paddle.metric.Metric subclass "
                                      "(reset / update / accumulate / name)"))
        elif resolved.get("mode") is None and not errors:
            errors.append(ConfigError(join_key(path, "mode"), f"is required for {name}: max or min (the direction "
                                      "it improves in)"))
        arguments = {k: v for k, v in item.items() if k not in _ENTRY_KEYS}
        if not errors:
            errors += check_kwargs(cls, arguments, path)
        return dict(resolved, **arguments), errors
    if not isinstance(name, str) or name not in METRICS:
        return {}, [ConfigError(join_key(path, "name"), unknown_name_message("metric", name, METRICS) +
                                " or an import path 'package.module:Class'")]
    kind = METRICS[name]
    resolved, errors = validate_section(item, dict(_ENTRY_KEYS, **kind.fields), path)
    if resolved.get("mode") is None:
        resolved["mode"] = kind.mode
    return resolved, errors


class EvaluationMetric:
    """One entry of the ``Metric`` section, built: the ``paddle.metric.Metric``, how its inputs are made
    from the model's outputs and the targets, and which of its attributes are summed across processes."""

    def __init__(self, entry: Mapping[str, Any], index: int, world: World):
        self.key = f"Metric[{index}]"
        self.names = reported_names(entry)
        args = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
        if entry["name"] in METRICS:
            kind = METRICS[entry["name"]]
            self.metric = kind.cls(**({"topk": tuple(args["topk"])} if "topk" in args else args))
            self.states, self.inputs = kind.states, kind.inputs
        else:
            cls = load_object(entry["name"], f"{self.key}.name")
            self.metric = cls(**args)
            self.states, self.inputs = tuple(getattr(cls, "state_names", ())), "outputs"
            if world.size > 1 and not self.states:
                raise ConfigError(f"{self.key}.name", f"{entry['name']} has no class attribute state_names: under "
                                  f"{world.size} processes each metric's state is summed across them; name the "
                                  "attributes that are sums or counts, e.g. state_names = ('correct', 'total')")

    def reset(self) -> None:
        self.metric.reset()

    def update(self, outputs: paddle.Tensor, targets: paddle.Tensor) -> None:
        """Feed one batch: ``update(*compute(inputs))`` as ``paddle.Model`` does."""
        inputs = _inputs(self.inputs, outputs, targets, self.key, self.names[0])
        computed = self.metric.compute(*inputs) if self.inputs in ("logits", "outputs") else inputs
        if not isinstance(computed, (list, tuple)):
            computed = [computed]
        self.metric.update(*[c.numpy() if isinstance(c, paddle.Tensor) else c for c in computed])

    def reduce(self, world: World) -> None:
        """Sum the states over processes (each then holds the whole evaluation's)."""
        if world.size == 1:
            return
        values = [np.asarray(getattr(self.metric, s), dtype="float64") for s in self.states]
        flat = all_reduce_sum(np.concatenate([v.reshape(-1) for v in values]).tolist(), world)
        start = 0
        for state, value in zip(self.states, values):
            part = np.asarray(flat[start:start + value.size]).reshape(value.shape)
            start += value.size
            old = getattr(self.metric, state)
            setattr(self.metric, state, part.tolist() if isinstance(old, list) else
                    part if isinstance(old, np.ndarray) else type(old)(part) if isinstance(old, (int, float)) else part)

    def dry_run(self, outputs: paddle.Tensor, targets: paddle.Tensor) -> None:
        """Feed one batch and forget it: ConfigError at ``Metric[i]`` when this metric cannot read it."""
        topk = max(getattr(self.metric, "topk", None) or [0]) if self.inputs == "logits" else 0
        if outputs.ndim == 2 and topk > outputs.shape[1]:
            raise ConfigError(f"{self.key}.topk", f"top{topk} of {outputs.shape[1]} classes is always right; "
                              f"allowed: k <= {outputs.shape[1]}")
        try:
            self.update(outputs, targets)
            self.values()
        except ConfigError:
            raise
        except Exception as err:  # a user's metric may raise anything; one line, before training starts
            raise user_code_failed(f"{self.key}.name", f"{self.names[0]} on one batch of model outputs "
                                   f"{tuple(outputs.shape)} and targets {tuple(targets.shape)}", err) from None
        finally:
            self.reset()

    def values(self) -> Dict[str, float]:
        result = self.metric.accumulate()
        result = list(result) if isinstance(result, (list, tuple)) else [result]
        return {n: float(v) for n, v in zip(self.names, result)}


def build_metrics(section: Optional[Sequence[Mapping[str, Any]]], world: World) -> List[EvaluationMetric]:
    """The metrics of a resolved ``Metric`` section (None: top-1 accuracy)."""
    return [EvaluationMetric(entry, i, world) for i, entry in enumerate(metric_entries(section))]


def _inputs(kind: str, outputs: paddle.Tensor, targets: paddle.Tensor, key: str, name: str) -> List[Any]:
    """The arguments a metric of input ``kind`` gets from one batch; ConfigError at ``key`` when the
    outputs cannot be read against these targets."""
    shapes = f"model outputs {tuple(outputs.shape)}, targets {tuple(targets.shape)} ({targets.dtype})"
    if kind in ("logits", "outputs"):
        if kind == "logits" and (outputs.ndim != 2 or targets.ndim != 1):
            raise ConfigError(key, f"{name} needs logits (N, classes) and class indices (N,); got {shapes}")
        return [outputs, targets]
    if kind == "values":
        if int(outputs.size) != int(targets.size) or outputs.shape[0] != targets.shape[0]:
            raise ConfigError(key, f"{name} compares outputs and targets value by value, so each sample needs "
                              f"as many outputs as targets; got {shapes}")
        return [outputs.numpy(), targets.numpy()]
    # probabilities of the positive class, one per binary decision, and its 0/1 labels
    if list(outputs.shape) == list(targets.shape):
        p, y = F.sigmoid(outputs).reshape([-1]), targets.reshape([-1])
    elif outputs.ndim == 2 and outputs.shape[1] == 2 and targets.ndim == 1:
        p, y = F.softmax(outputs, axis=-1)[:, 1], targets
    else:
        raise ConfigError(key, f"{name} is a binary metric: it needs outputs shaped like 0/1 targets (binary or "
                          f"multi-label, sigmoid) or two logits per class-index target; got {shapes}")
    p, y = p.numpy().astype("float64"), y.numpy().astype("int64")
    if kind == "two_column_probabilities":
        return [np.stack([1.0 - p, p], axis=1), y.reshape(-1, 1)]
    return [p.reshape(-1, 1), y.reshape(-1, 1)]
