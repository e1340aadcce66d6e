"""The table of config sections: each section's name and the validator that lives next to its builder.

``resolve_config`` returns the resolved config (defaults filled in, every value checked once) or
raises one :class:`~paddle_optim.errors.UserError` listing every problem, each as
``Section.key: message``. Builders take the resolved sections and trust them. Defaults::

    Global:     {epochs: 10, seed: 42, output_dir: output/run, device: auto, eval_interval: 1,
                 log_interval: 10, accumulate_steps: 1, max_nonfinite_steps: 10, early_stop_patience: 0}
    Data:       {dataset: {name: ...}, batch_size: 64, eval_batch_size: <batch_size>, drop_last: false,
                 shuffle: true, num_workers: 0}                       # paddle_optim.data
    Model:      {name: ...}                                           # paddle_optim.models
    Loss:       {name: CrossEntropyLoss, label_smoothing: 0.0}        # paddle_optim.training.loss
    Metric:     [{name: Accuracy, topk: [1], mode: max, monitor: true}]   # paddle_optim.training.metrics
    Optimizer:  {name: ..., learning_rate: ...}                       # paddle_optim.factory.section
    LRScheduler, MomentumScheduler                                    # paddle_optim.schedulers.section
    AMP:        {enable: false, level: O1, dtype: float16, init_loss_scaling: 32768.0,
                 use_dynamic_loss_scaling: true}                      # paddle_optim.training.amp
    EMA:        {enable: false, decay: 0.999, warmup: true}           # paddle_optim.training.ema
    Checkpoint: {save_interval: 1, keep_last: 3, save_best: true, interval_steps: 0}
                                                                      # paddle_optim.training.checkpoint

This module sits above every owner (it imports them all) and below the commands that read configs.
"""
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from .config.loader import load_config
from .config.metrics import directions
from .config.ranges import COUNT, NON_NEGATIVE, SEED
from .config.schema import Field, did_you_mean, unknown_name_message, validate_section
from .data import class_label_problems, validate_data_section
from .errors import ConfigError, UserError
from .factory import validate_optimizer_section
from .factory.section import SLOW
from .models import validate_model_section
from .schedulers import validate_lr_scheduler_section, validate_momentum_section
from .schedulers.momentum import MOMENTUM_SECTION, no_momentum, static_momentum
from .schedulers.builder import LR_SECTION
from .training.amp import AMP_FIELDS
from .training.checkpoint import CHECKPOINT_FIELDS
from .training.ema import EMA_FIELDS
from .training.loss import ignored_label, validate_loss_section
from .training.metrics import validate_metric_section

Validator = Callable[[Any, str], Tuple[Dict[str, Any], List[ConfigError]]]

#: The ``Global`` section: the run's own settings, read by the training loop (it has no builder).
GLOBAL_FIELDS = {
    "epochs": Field((int,), 10, COUNT, help="passes over the training set"),
    "seed": Field((int,), 42, SEED, help="seeds Paddle, numpy, Python and the data order"),
    "output_dir": Field((str,), "output/run", help="logs, checkpoints, VisualDL records, metrics.json"),
    "device": Field((str,), "auto", choices=("auto", "cpu", "gpu"), help="auto = gpu when Paddle has CUDA"),
    "eval_interval": Field((int,), 1, COUNT, help="evaluate every N epochs (and after the last)"),
    "log_interval": Field((int,), 10, COUNT, help="optimizer steps between log lines / VisualDL points"),
    "accumulate_steps": Field((int,), 1, COUNT, help="micro-batches per optimizer step"),
    "max_nonfinite_steps": Field((int,), 10, COUNT, help="stop after this many non-finite losses in a row"),
    "early_stop_patience": Field((int,), 0, NON_NEGATIVE, help="stop after this many evaluations without a "
                                 "better monitor metric (0: never)"),
}


def _fields(fields: Mapping[str, Field]) -> Validator:
    return lambda raw, path: validate_section(raw, fields, path)


def _data(raw: Any, path: str):
    if raw is None:
        return {}, [ConfigError(path, "is required, e.g. Data: {dataset: {name: digits}, batch_size: 64}")]
    return validate_data_section(raw, path)


#: Every section, in the order a config is read and reported.
SECTIONS: Mapping[str, Validator] = {
    "Global": _fields(GLOBAL_FIELDS),
    "Data": _data,
    "Model": validate_model_section,
    "Loss": validate_loss_section,
    "Metric": validate_metric_section,
    "Optimizer": validate_optimizer_section,
    "LRScheduler": validate_lr_scheduler_section,
    "MomentumScheduler": validate_momentum_section,
    "AMP": _fields(AMP_FIELDS),
    "EMA": _fields(EMA_FIELDS),
    "Checkpoint": _fields(CHECKPOINT_FIELDS),
}


def resolve_config(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """Validate every section of ``raw``; return the resolved config or raise all problems at once."""
    problems: List[ConfigError] = []
    for name in raw:
        if name not in SECTIONS:
            problems.append(ConfigError(str(name), "unknown section" + did_you_mean(name, SECTIONS) +
                                        f"; allowed: {', '.join(SECTIONS)}"))
    resolved: Dict[str, Any] = {}
    for name, validate in SECTIONS.items():
        section, errors = validate(raw.get(name), name)
        problems.extend(errors)
        resolved[name] = section
    problems += _across_sections(resolved) if not problems else []
    if problems:
        raise UserError.combine(problems)
    return resolved


def load_resolved_config(path: str, overrides: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """The resolved config of the YAML file ``path`` with ``-o`` ``overrides``; every problem raised at once."""
    return resolve_config(load_config(path, overrides))


def _across_sections(config: Mapping[str, Any]) -> List[ConfigError]:
    """Rules that involve two sections, checked once each section is valid on its own."""
    problems = []
    if config[MOMENTUM_SECTION] is not None and static_momentum(config["Optimizer"]) is None:
        problems.append(no_momentum(config["Optimizer"]["name"]))
    for i, group in enumerate(config["Optimizer"].get("param_groups") or () if config[MOMENTUM_SECTION] else ()):
        for key in ("momentum", "beta1"):  # set_momentum writes every group's, on every step
            if group.get(key) is not None:
                problems.append(ConfigError(f"Optimizer.param_groups[{i}].{key}", f"{MOMENTUM_SECTION} sets every "
                                            f"group's {key} on every step; allowed: one of the two"))
    if config["EMA"]["enable"] and config["Optimizer"]["evaluate_on"] == SLOW:
        problems.append(ConfigError("Optimizer.evaluate_on", "slow cannot be combined with EMA.enable: true (the "
                                    "EMA of the fast weights is what is evaluated); allowed: fast, or EMA.enable: false"))
    watched = (config[LR_SECTION] or {}).get("metric")
    reported = directions(config["Metric"])
    if watched is not None and watched not in reported:
        problems.append(ConfigError(f"{LR_SECTION}.metric", unknown_name_message("evaluation metric", watched, reported)
                                    + " (the evaluation loss and the names the Metric section reports)"))
    problems += class_label_problems(config["Data"], ignored_label(config["Loss"]))
    return problems
