"""Whole-config validation: every section checked by the module that owns it.

``resolve_config`` returns the resolved config (defaults filled in) or raises one
:class:`~paddle_optim.errors.UserError` listing every problem, each as ``Section.key: message``.
"""
from typing import Any, Callable, Dict, List, Mapping, Tuple

from ..errors import ConfigError, UserError
from .schema import did_you_mean

Validator = Callable[[Any, str], Tuple[Dict[str, Any], List[ConfigError]]]


def _section_validators() -> Dict[str, Validator]:
    # Imported here so that each owner module can import from paddle_optim.config freely.
    from ..registry import validate_optimizer_section
    from ..schedulers import validate_lr_scheduler_section, validate_momentum_section
    from ..training.sections import (validate_amp, validate_checkpoint, validate_data, validate_ema,
                                     validate_global, validate_loss, validate_model)

    return {
        "Global": validate_global,
        "Data": validate_data,
        "Model": validate_model,
        "Loss": validate_loss,
        "Optimizer": validate_optimizer_section,
        "LRScheduler": validate_lr_scheduler_section,
        "MomentumScheduler": validate_momentum_section,
        "AMP": validate_amp,
        "EMA": validate_ema,
        "Checkpoint": validate_checkpoint,
    }


def resolve_config(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """Validate every section of ``raw``; return the resolved config or raise all problems at once."""
    validators = _section_validators()
    problems: List[ConfigError] = []
    for name in raw:
        if name not in validators:
            problems.append(ConfigError(str(name), "unknown section" + did_you_mean(name, validators) +
                                        f"; allowed: {', '.join(validators)}"))
    resolved: Dict[str, Any] = {}
    for name, validate in validators.items():
        section, errors = validate(raw.get(name), name)
        problems.extend(errors)
        resolved[name] = section
    if problems:
        raise UserError.combine(problems)
    return resolved
