"""The cookbook: every recipe is valid, warning-free, and the README shows the files verbatim."""
import zlib  # noqa: F401  (before paddle, see paddle_optim/__init__.py)

from pathlib import Path

import pytest

from paddle_optim.check import lint_config
from paddle_optim.config import load_config
from paddle_optim.sections import resolve_config
from paddle_optim.data import config_steps_per_epoch

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "configs" / "recipes").glob("*.yaml"))


def test_there_are_classification_detection_and_transformer_recipes():
    names = " ".join(p.name for p in RECIPES)
    assert "classification" in names and "detection" in names and "transformer" in names


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_recipe_is_valid_and_draws_no_warning(path):
    config = resolve_config(load_config(str(path)))
    assert lint_config(config, config_steps_per_epoch(config)) == []


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_readme_shows_the_recipe_file_verbatim_if_at_all(path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    assert path.name in readme
    if text.splitlines()[0] in readme:
        assert text in readme
