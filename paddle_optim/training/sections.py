"""Schemas of the trainer's config sections: Global, Data, Model, Loss, AMP, EMA, Checkpoint.

Each ``validate_*`` returns ``(resolved section, [ConfigError])`` for
:func:`paddle_optim.config.resolve.resolve_config`. Defaults (the values a config may leave out)::

    Global:     {epochs: 10, seed: 42, output_dir: output/run, device: auto, eval_interval: 1,
                 log_interval: 10, accumulate_steps: 1, max_nonfinite_steps: 10}
    Data:       {dataset: {name: ...}, batch_size: 64, eval_batch_size: <batch_size>, drop_last: false,
                 shuffle: true, num_workers: 0}
    Model:      {name: ...}                        # see paddle_optim.models
    Loss:       {name: CrossEntropyLoss, label_smoothing: 0.0}
    AMP:        {enable: false, level: O1, dtype: float16, init_loss_scaling: 32768.0,
                 use_dynamic_loss_scaling: true}
    EMA:        {enable: false, decay: 0.999, warmup: true}
    Checkpoint: {save_interval: 1, keep_last: 3, save_best: true, interval_steps: 0}
"""
from typing import Any, Dict, List, Tuple

from ..config.ranges import COUNT, HALF_OPEN_UNIT, NON_NEGATIVE, OPEN_UNIT, POSITIVE, SEED
from ..config.schema import Field, validate_section
from ..data import validate_data_section
from ..errors import ConfigError
from ..models import validate_model_section

Result = Tuple[Dict[str, Any], List[ConfigError]]

GLOBAL_FIELDS = {
    "epochs": Field((int,), 10, COUNT, help="passes over the training set"),
    "seed": Field((int,), 42, SEED, help="seeds Paddle, numpy, Python and the data order"),
    "output_dir": Field((str,), "output/run", help="logs, checkpoints, VisualDL records, metrics.json"),
    "device": Field((str,), "auto", choices=("auto", "cpu", "gpu"), help="auto = gpu when Paddle has CUDA"),
    "eval_interval": Field((int,), 1, COUNT, help="evaluate every N epochs (and after the last)"),
    "log_interval": Field((int,), 10, COUNT, help="optimizer steps between log lines / VisualDL points"),
    "accumulate_steps": Field((int,), 1, COUNT, help="micro-batches per optimizer step"),
    "max_nonfinite_steps": Field((int,), 10, COUNT, help="stop after this many non-finite losses in a row"),
}

LOSS_FIELDS = {
    "name": Field((str,), "CrossEntropyLoss", choices=("CrossEntropyLoss",)),
    "label_smoothing": Field((float,), 0.0, HALF_OPEN_UNIT),
}

AMP_FIELDS = {
    "enable": Field((bool,), False),
    "level": Field((str,), "O1", choices=("O1", "O2"), help="O2: fp16/bf16 weights with fp32 master weights"),
    "dtype": Field((str,), "float16", choices=("float16", "bfloat16")),
    "init_loss_scaling": Field((float,), 32768.0, POSITIVE),
    "use_dynamic_loss_scaling": Field((bool,), True),
}

EMA_FIELDS = {
    "enable": Field((bool,), False),
    "decay": Field((float,), 0.999, OPEN_UNIT),
    "warmup": Field((bool,), True, help="decay = min(decay, (1 + n) / (10 + n)) after n updates"),
}

CHECKPOINT_FIELDS = {
    "save_interval": Field((int,), 1, NON_NEGATIVE, help="keep epoch_N.* every N epochs (0 = never)"),
    "keep_last": Field((int,), 3, NON_NEGATIVE, help="epoch_N.* snapshots kept (0 = all)"),
    "save_best": Field((bool,), True, help="best_model.* at the best validation metric"),
    "interval_steps": Field((int,), 0, NON_NEGATIVE, help="also refresh latest.* every N optimizer steps (0 = per epoch)"),
}


def validate_global(raw: Any, path: str) -> Result:
    return validate_section(raw, GLOBAL_FIELDS, path)


def validate_data(raw: Any, path: str) -> Result:
    if raw is None:
        return {}, [ConfigError(path, "is required, e.g. Data: {dataset: {name: digits}, batch_size: 64}")]
    return validate_data_section(raw, path)


def validate_model(raw: Any, path: str) -> Result:
    return validate_model_section(raw, path)


def validate_loss(raw: Any, path: str) -> Result:
    return validate_section(raw, LOSS_FIELDS, path)


def validate_amp(raw: Any, path: str) -> Result:
    return validate_section(raw, AMP_FIELDS, path)


def validate_ema(raw: Any, path: str) -> Result:
    return validate_section(raw, EMA_FIELDS, path)


def validate_checkpoint(raw: Any, path: str) -> Result:
    return validate_section(raw, CHECKPOINT_FIELDS, path)
