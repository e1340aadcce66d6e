"""The resolved config a run saves as ``<output_dir>/config.yaml`` must load and validate to itself,
so a user can re-run (or resume) from it."""
import glob
import os

import pytest
import yaml

from paddle_optim.config import load_config
from paddle_optim.sections import resolve_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))


def test_there_are_configs_to_check():
    assert len(CONFIGS) >= 5


@pytest.fixture(scope="module")
def digits_png(tmp_path_factory):
    """The image folder a folder config names (its README line: python -m paddle_optim.data.digits_folder DIR)."""
    from paddle_optim.data.digits_folder import write_digits_folder

    root = tmp_path_factory.mktemp("digits_png")
    write_digits_folder(str(root))
    return root


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_saved_resolved_config_validates_to_itself(path, request):
    config = load_config(path)
    dataset = config["Data"]["dataset"]
    if dataset["name"] == "folder":
        root = request.getfixturevalue("digits_png")
        dataset.update(train_dir=str(root / "train"), val_dir=str(root / "val"))
    resolved = resolve_config(config)
    saved = yaml.safe_load(yaml.safe_dump(resolved, sort_keys=False))
    assert resolve_config(saved) == resolved
