"""``check``: validate a whole config, build its optimizer once, and print the schedule's warnings.

Errors (exit 2, one line each) come from :func:`paddle_optim.sections.resolve_config`, from the
optimizer's trial build and from building the schedule. Warnings come from
:func:`paddle_optim.schedulers.lint.lint_config`; ``train`` prints the same ones before it starts.
"""
from typing import Any, List, Mapping, Optional

from .config import load_config
from .data import build_datasets, config_steps_per_epoch
from .errors import UserError
from .factory import trial_build
from .factory.param_groups import group_report
from .models import build_model
from .models.pretrained import freeze
from .schedulers.lint import lint_config
from .sections import resolve_config


def check_config(config: Mapping[str, Any], steps_per_epoch: int) -> List[str]:
    """What ``check`` adds to validation, for a resolved config: the optimizer is built once on a dummy
    parameter (a setting only its class rejects is an error), then the warnings of :func:`lint_config`."""
    problems = trial_build(config["Optimizer"], "Optimizer")
    if problems:
        raise UserError.combine(problems)
    return lint_config(config, steps_per_epoch)


def param_group_lines(config: Mapping[str, Any]) -> List[str]:
    """``train``'s report of ``Optimizer.param_groups`` (none without them): the patterns need the model,
    so the data set and the model are built (``Model.freeze`` applied), and a pattern that matches
    nothing is the same error as in ``train``."""
    if not config["Optimizer"].get("param_groups"):
        return []
    model = build_model(config["Model"], build_datasets(config["Data"])[2])
    if config["Model"].get("freeze"):
        freeze(model, config["Model"]["freeze"])
    return group_report(model, config["Optimizer"])


def check_command(args) -> int:
    """``paddle-optim check -c CONFIG [-o ...] [--steps-per-epoch N] [--nproc N]``."""
    config = resolve_config(load_config(args.config, args.override))
    spe: Optional[int] = args.steps_per_epoch or config_steps_per_epoch(config, args.nproc)
    warnings = check_config(config, spe)
    for line in param_group_lines(config):
        print(line)
    for line in warnings:
        print(f"warning: {line}")
    epochs = int(config["Global"]["epochs"])
    print(f"{args.config}: valid; {epochs} epochs x {spe} optimizer steps = {epochs * spe} steps; "
          f"{len(warnings)} warning{'' if len(warnings) == 1 else 's'}")
    return 0
