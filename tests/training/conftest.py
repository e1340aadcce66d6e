"""Small, fast training configs for the trainer tests (synthetic data, tiny MLP)."""
import copy

import pytest
import yaml

BASE = {
    "Global": {"epochs": 2, "seed": 7, "device": "cpu", "log_interval": 2},
    "Data": {"dataset": {"name": "synthetic", "num_samples": 256, "num_val": 64, "num_features": 8,
                         "num_classes": 3, "seed": 1},
             "batch_size": 32},
    "Model": {"name": "mlp", "hidden_sizes": [16]},
    "Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9},
    "Checkpoint": {"save_interval": 1, "keep_last": 1},
}


def merge(base, changes):
    """Global/Data/Checkpoint keys are merged into BASE; any other section given replaces BASE's."""
    out = copy.deepcopy(base)
    for section, values in (changes or {}).items():
        if section in ("Global", "Data", "Checkpoint"):
            out[section] = dict(out[section], **values)
        else:
            out[section] = values
    return out


@pytest.fixture
def make_config(tmp_path):
    """``make_config(changes, name)`` -> (path of a YAML config, its output_dir)."""
    def _make(changes=None, name="run"):
        config = merge(BASE, changes)
        out = tmp_path / name
        config["Global"]["output_dir"] = str(out)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return str(path), out
    return _make
