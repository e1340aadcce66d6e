"""The one base config of the trainer tests (:data:`TINY_RUN`) and the one way tests derive a config
from a base: :func:`merge_config`, and :func:`write_config`."""
import copy

import yaml

#: A small, fast run: synthetic data, a tiny MLP, Momentum. Tests derive theirs with :func:`merge_config`.
TINY_RUN = {
    "Global": {"epochs": 2, "seed": 7, "device": "cpu", "log_interval": 2},
    "Data": {"dataset": {"name": "synthetic", "num_samples": 256, "num_val": 64, "num_features": 8,
                         "num_classes": 3, "seed": 1},
             "batch_size": 32},
    "Model": {"name": "mlp", "hidden_sizes": [16]},
    "Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9},
    "Checkpoint": {"save_interval": 1, "keep_last": 1},
}


def merge_config(base, changes=None):
    """``base`` with ``changes`` (section -> mapping): a section's keys are merged into the base's, except
    that a section naming a different ``name`` (another optimizer, model, schedule) replaces it."""
    config = copy.deepcopy(base)
    for section, values in (changes or {}).items():
        old = config.get(section) or {}
        renamed = "name" in values and values["name"] != old.get("name")
        config[section] = copy.deepcopy(values) if renamed else dict(old, **copy.deepcopy(values))
    return config


def write_config(tmp_path, name, base, changes=None):
    """``(path of tmp_path/<name>.yaml, its Global.output_dir tmp_path/<name>)`` of ``base`` + ``changes``."""
    config = merge_config(base, changes)
    out = tmp_path / name
    config["Global"]["output_dir"] = str(out)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path), out
