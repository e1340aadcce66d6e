"""``build_optimizer``: the optimizer of a resolved ``Optimizer`` section, with its decay groups and clip."""
from typing import Any, Dict, List, Mapping

import paddle

from ..errors import ConfigError
from ..optimizers import gc_axes
from .clipping import build_grad_clip
from .param_groups import assign_groups, decay_arguments, named_trainable_parameters
from .registry import OptimizerSpec, get_spec


def _own_arguments(spec: OptimizerSpec, section: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: section[k] for k in spec.arguments if k in section and section[k] is not None}


def build_optimizer(section: Mapping[str, Any], model_or_parameters: Any, learning_rate: Any):
    """Build the optimizer of a resolved ``Optimizer`` section.

    Args:
        section: the resolved section (:func:`~paddle_optim.factory.section.validate_optimizer_section`), or a plain mapping
            ``{name: ..., <arguments>}`` (missing shared keys take their defaults).
        model_or_parameters: a ``paddle.nn.Layer`` (structured names drive ``no_weight_decay`` and
            ``param_groups``; its layers give RAdam/Ranger the gradient-centralisation axes,
            :func:`paddle_optim.gc_axes`) or a list of parameters (named by Paddle's generated names).
        learning_rate (float | paddle.optimizer.lr.LRScheduler): what the optimizer steps with;
            normally ``TrainingSchedule.learning_rate``. For Lookahead it goes to the inner optimizer,
            so the base rate still lives in one place.
    """
    try:
        return _build(section, model_or_parameters, learning_rate)
    except (ValueError, TypeError, AssertionError) as err:  # Paddle checks some arguments with assert
        raise ConfigError("Optimizer", f"{section['name']} rejects these settings: "
                                       f"{str(err) or type(err).__name__}") from None


def _build(section: Mapping[str, Any], model_or_parameters: Any, learning_rate: Any):
    spec, preset = get_spec(section["name"])
    section = dict(preset, **section)
    if spec.wraps_inner:  # decay and clipping belong to the inner optimizer
        inner_section = dict(section["inner"], weight_decay=section.get("weight_decay"),
                             no_weight_decay=section.get("no_weight_decay"),
                             exclude_1d_from_decay=section.get("exclude_1d_from_decay", True),
                             grad_clip=section.get("grad_clip"), param_groups=section.get("param_groups"))
        inner = _build(inner_section, model_or_parameters, learning_rate)
        return spec.cls(inner, **_own_arguments(spec, section))
    named = named_trainable_parameters(model_or_parameters)
    groups = assign_groups(model_or_parameters, section["param_groups"]) if section.get("param_groups") else ()
    decay = decay_arguments(spec.decay_style, named, section.get("weight_decay") or 0.0,
                            section.get("no_weight_decay") or (), section.get("exclude_1d_from_decay", True), groups)
    # One clip over every parameter in the model's order, whatever the groups (one global norm).
    clip = build_grad_clip(section.get("grad_clip"), [p for _, p in named])
    layout = {}
    if spec.layout_aware and isinstance(model_or_parameters, paddle.nn.Layer):
        # A bare parameter list only has the rank rule; the model's layers tell each output unit's axes.
        layout = {"gc_axes": gc_axes(model_or_parameters)}
    return spec.cls(learning_rate=learning_rate, grad_clip=clip, **decay, **layout, **_own_arguments(spec, section))


def trial_build(resolved: Mapping[str, Any], path: str) -> List[ConfigError]:
    """Build the optimizer of a resolved section once on a dummy parameter (``check``: the ranges only
    the class enforces, e.g. Paddle's own asserts, as a problem at ``path``), and once more per
    ``param_groups`` entry with the dummy as its only member (its patterns need the model: ``train``
    matches them before anything is written)."""
    trials = [(dict(resolved, param_groups=[]), path)]
    trials += [(dict(resolved, param_groups=[dict(group, params="*")]), f"{path}.param_groups[{i}]")
               for i, group in enumerate(resolved.get("param_groups") or ())]
    problems = []
    for section, where in trials:
        with paddle.utils.unique_name.guard():
            dummy = paddle.create_parameter([2, 2], "float32")
            try:
                build_optimizer(section, [dummy], resolved["learning_rate"])
            except ConfigError as err:
                problems.append(ConfigError(where, err.message))
    return problems
