"""The ``Loss`` config section and the loss it builds.

``name`` is one of :data:`LOSSES` (classes of ``paddle.nn``, named explicitly: a config name is
never looked up with getattr) or an import path ``package.module:callable_or_class``; every other
key is an argument of that class (or, for a function, a keyword argument after ``(outputs,
targets)``), checked against its signature::

    Loss: {name: CrossEntropyLoss, label_smoothing: 0.1}
    Loss: {name: SmoothL1Loss, delta: 0.5}
    Loss: {name: "mypkg.losses:DetectionLoss", box_weight: 2.0}

A loss returns a scalar tensor, or a dict of named scalar terms whose ``loss`` entry is optimised;
every term is logged (:func:`loss_terms`).
"""
import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import paddle

from ..config.import_path import check_kwargs, is_import_path, load_object
from ..config.ranges import HALF_OPEN_UNIT
from ..config.schema import Field, join_key, unknown_name_message
from ..data.arrays import bad_class_labels
from ..errors import ConfigError, user_code_failed
from .cross_entropy import TRAINER_CROSS_ENTROPY

#: The name of the optimised term of a loss that returns a dict.
OPTIMISED = "loss"


def _losses() -> Dict[str, type]:
    nn = paddle.nn
    return {cls.__name__: cls for cls in (nn.CrossEntropyLoss, nn.BCEWithLogitsLoss, nn.BCELoss, nn.MSELoss,
                                          nn.L1Loss, nn.SmoothL1Loss, nn.NLLLoss, nn.KLDivLoss)}


#: Losses by name (``paddle.nn`` classes).
LOSSES: Mapping[str, type] = _losses()
#: Losses whose targets are class indices ``(N,)`` for outputs ``(N, C)``; the others compare
#: outputs and targets element by element, so both must have one shape.
CLASS_INDEX_LOSSES = ("CrossEntropyLoss", "NLLLoss")
#: Arguments checked here beyond the signature: ranges, and a reduction to one number (``none``
#: would hand the optimizer a tensor per sample).
CHECKED_ARGUMENTS = {
    "label_smoothing": Field((float,), 0.0, HALF_OPEN_UNIT),
    "reduction": Field((str,), "mean", choices=("mean", "sum", "batchmean")),
}
#: Arguments that are tensors in Paddle and lists of numbers in YAML.
TENSOR_ARGUMENTS = ("weight", "pos_weight")
#: Arguments the trainer never takes from a config.
RESERVED = ("name",)


def validate_loss_section(raw: Any, path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    """Resolve ``Loss``: ``{name, **arguments}``; default ``{name: CrossEntropyLoss, label_smoothing: 0.0}``."""
    if raw is None:
        raw = {"name": "CrossEntropyLoss", "label_smoothing": 0.0}
    if not isinstance(raw, Mapping):
        return {}, [ConfigError(path, f"expected a mapping {{name: ..., <arguments>}}, got {raw!r}")]
    raw = dict(raw)
    name = raw.setdefault("name", "CrossEntropyLoss")
    if name == "CrossEntropyLoss":
        raw.setdefault("label_smoothing", 0.0)  # what the section resolved to before it took any loss
    name_key = join_key(path, "name")
    if is_import_path(name):
        try:
            target = load_object(name, name_key)
        except ConfigError as err:
            return raw, [err]
    elif isinstance(name, str) and name in LOSSES:
        target = LOSSES[name]
    else:
        return raw, [ConfigError(name_key, unknown_name_message("loss", name, LOSSES) +
                                 " or an import path 'package.module:callable_or_class'")]
    kwargs = {k: v for k, v in raw.items() if k != "name"}
    errors = check_kwargs(target, kwargs, path, reserved=RESERVED + _call_arguments(target))
    for key, value in kwargs.items():
        try:
            if key in CHECKED_ARGUMENTS:
                raw[key] = CHECKED_ARGUMENTS[key].validate(value, join_key(path, key))
            elif key in TENSOR_ARGUMENTS and not _numbers(value):
                raise ConfigError(join_key(path, key), f"expected a list of numbers, got {value!r}")
        except ConfigError as err:
            errors.append(err)
    return raw, errors


def _numbers(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def _call_arguments(target: Callable) -> Tuple[str, ...]:
    """The first two parameters of a loss function, ``(outputs, targets)``: given by the trainer."""
    if inspect.isclass(target):
        return ()
    return tuple(list(inspect.signature(target).parameters)[:2])


def build_loss(section: Mapping[str, Any]) -> Callable:
    """The loss of a resolved ``Loss`` section: ``loss(outputs, targets)`` -> tensor or dict of terms.

    A constructor that rejects a value (Paddle checks some of its own arguments) is a ConfigError
    at ``Loss.<name>``.
    """
    name = section["name"]
    # CrossEntropyLoss on Paddle 2.6: its mean reduced on the device (no host read per micro-batch).
    target = {"CrossEntropyLoss": TRAINER_CROSS_ENTROPY}.get(name) or (LOSSES[name] if name in LOSSES else
                                                                       load_object(name, "Loss.name"))
    kwargs = {k: paddle.to_tensor(v, dtype="float32") if k in TENSOR_ARGUMENTS else v
              for k, v in section.items() if k != "name"}
    if not inspect.isclass(target):
        return lambda outputs, targets: target(outputs, targets, **kwargs)
    try:
        return target(**kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError("Loss.name", f"{name}({', '.join(f'{k}={v!r}' for k, v in section.items() if k != 'name')}) "
                          f"failed: {err}") from None


def loss_terms(value: Any) -> Dict[str, paddle.Tensor]:
    """``{"loss": optimised, <other terms>}`` of what a loss returned (a tensor or a dict of terms)."""
    if isinstance(value, Mapping):
        return dict(value)
    return {OPTIMISED: value}


def ignored_label(section: Mapping[str, Any]) -> Optional[int]:
    """The class label the loss skips: the section's ``ignore_index``, else Paddle's default -100 for
    :data:`CLASS_INDEX_LOSSES`, else none (every negative label is then an error)."""
    default = -100 if section.get("name") in CLASS_INDEX_LOSSES else None
    return section.get("ignore_index", default)


def check_class_targets(section: Mapping[str, Any], labels, num_outputs: int, where: str) -> None:
    """ConfigError when class-index ``labels`` (a numpy array: a whole in-memory set, or one batch) fall
    outside the model's ``num_outputs`` classes for a loss of :data:`CLASS_INDEX_LOSSES`, by the one
    rule of :func:`~paddle_optim.data.arrays.bad_class_labels` (its :func:`ignored_label` is allowed)."""
    if section["name"] not in CLASS_INDEX_LOSSES or not labels.size:
        return
    bad = labels[bad_class_labels(labels, num_outputs, ignored_label(section))]
    if bad.size:
        raise ConfigError("Model.num_classes", f"the {where} has class label {int(bad[0])}, outside the model's "
                          f"{num_outputs} outputs [0, {num_outputs}); allowed: num_classes above the largest "
                          "label (default: the data's class count)")


def dry_run_loss(loss_fn: Callable, name: str, outputs: paddle.Tensor, targets: paddle.Tensor) -> List[str]:
    """The names of a loss's extra terms (besides ``loss``) on one batch; ConfigError ``Loss.name`` when
    the outputs do not fit the targets or the loss is not what the trainer can optimise (one number,
    or a dict of numbers with a ``loss`` entry)."""
    key = "Loss.name"
    shapes = f"model outputs {tuple(outputs.shape)} ({outputs.dtype}), targets {tuple(targets.shape)} ({targets.dtype})"
    if name in CLASS_INDEX_LOSSES:
        if targets.dtype != paddle.int64 or targets.ndim != 1 or outputs.ndim != 2:
            raise ConfigError(key, f"{name} needs class-index targets (N,) for outputs (N, classes); got {shapes}")
    elif name in LOSSES and list(outputs.shape) != list(targets.shape):
        raise ConfigError(key, f"{name} compares outputs and targets element by element, so they need one shape; "
                          f"got {shapes} (the model's outputs are Model.num_classes, default: the data's)")
    try:
        value = loss_fn(outputs, targets)
    except Exception as err:  # a user's loss may raise anything; one line, before training starts
        raise user_code_failed(key, f"{name} on one batch of {shapes}", err) from None
    if isinstance(value, Mapping) and OPTIMISED not in value:
        raise ConfigError(key, f"{name} returned a dict without a '{OPTIMISED}' entry (the term that is "
                          f"optimised); it has: {', '.join(map(str, value))}")
    terms = loss_terms(value)
    for term, tensor in terms.items():
        if not isinstance(tensor, paddle.Tensor) or int(tensor.size) != 1:
            got = tuple(tensor.shape) if isinstance(tensor, paddle.Tensor) else type(tensor).__name__
            raise ConfigError(key, f"{name} must return one number per batch (a scalar tensor, or a dict of "
                              f"them); term '{term}' is {got} for {shapes}")
    return [t for t in terms if t != OPTIMISED]
