"""Small, fast training configs for the trainer tests (synthetic data, tiny MLP)."""
import pytest

from configs import write_config

BASE = {
    "Global": {"epochs": 2, "seed": 7, "device": "cpu", "log_interval": 2},
    "Data": {"dataset": {"name": "synthetic", "num_samples": 256, "num_val": 64, "num_features": 8,
                         "num_classes": 3, "seed": 1},
             "batch_size": 32},
    "Model": {"name": "mlp", "hidden_sizes": [16]},
    "Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9},
    "Checkpoint": {"save_interval": 1, "keep_last": 1},
}


@pytest.fixture
def make_config(tmp_path):
    """``make_config(changes, name)`` -> (path of a YAML config, its output_dir)."""
    def _make(changes=None, name="run"):
        path, out = write_config(tmp_path, name, BASE, changes)
        return path, out
    return _make
