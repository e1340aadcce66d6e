"""The cookbook: every recipe is valid, warning-free, and the README shows the files verbatim."""
import zlib  # noqa: F401  (before paddle, see paddle_optim/__init__.py)

from pathlib import Path

import pytest

from paddle_optim.schedulers.lint import lint_config
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


def recipe_rows(name):
    from paddle_optim.schedulers.preview import schedule_table

    config = resolve_config(load_config(str(ROOT / "configs" / "recipes" / name)))
    spe = config_steps_per_epoch(config)
    return schedule_table(config, spe), spe, float(config["Optimizer"]["learning_rate"])


def test_flat_cosine_recipe_is_flat_for_70_percent_then_anneals():
    rows, _, peak = recipe_rows("classification_flat_cosine.yaml")
    lrs = [r.lr for r in rows]
    flat = round(0.7 * len(lrs))
    assert lrs[:flat + 1] == [peak] * (flat + 1)   # no warmup; the cosine's first value is the peak too
    assert all(b < a for a, b in zip(lrs[flat:], lrs[flat + 1:]))
    assert lrs[-1] == peak / 100


def test_wsd_recipe_warms_up_holds_and_decays_linearly_over_the_last_two_epochs():
    rows, spe, peak = recipe_rows("transformer_warmup_stable_decay.yaml")
    lrs = [r.lr for r in rows]
    warmup, decay = round(0.2 * spe), 2 * spe
    assert lrs[0] < lrs[warmup - 1] < peak and lrs[warmup] == peak
    assert set(lrs[warmup:-decay + 1]) == {peak}            # the hold (and the decay's first value, the peak)
    steps = [a - b for a, b in zip(lrs[-decay:], lrs[-decay + 1:])]
    assert max(steps) == pytest.approx(min(steps), rel=1e-6)  # linear
    assert lrs[-1] == pytest.approx(peak / 100)
