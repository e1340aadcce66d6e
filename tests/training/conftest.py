"""Small, fast training configs for the trainer tests (synthetic data, tiny MLP)."""
import pytest

from configs import TINY_RUN, write_config

BASE = TINY_RUN


@pytest.fixture
def make_config(tmp_path):
    """``make_config(changes, name)`` -> (path of a YAML config, its output_dir)."""
    def _make(changes=None, name="run"):
        path, out = write_config(tmp_path, name, BASE, changes)
        return path, out
    return _make
