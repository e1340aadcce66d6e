"""One `train`: every config section validated once, every object of the run built once."""
import sys
from collections import Counter

import pytest

import paddle_optim.data
import paddle_optim.factory.builder
import paddle_optim.models
import paddle_optim.schedulers.builder
import paddle_optim.schedulers.section
import paddle_optim.sections
from paddle_optim.cli import main

# The functions counted: each section's validator and each builder of the run's objects.
VALIDATORS = ["validate_data_section", "validate_model_section", "validate_optimizer_section",
              "validate_lr_scheduler_section", "validate_momentum_section"]
BUILDERS = ["build_datasets", "build_model", "build_optimizer", "build_schedule", "build_lr_scheduler",
            "build_momentum_schedule", "trial_build"]


def _spy_everywhere(monkeypatch, function, calls: Counter):
    """Count the calls of ``function`` through every paddle_optim module that holds a reference to it
    (and the section table), whichever way a caller reaches it."""
    def counting(*args, **kwargs):
        calls[function.__name__] += 1
        return function(*args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith("paddle_optim") and module is not None:
            for attr, value in list(vars(module).items()):
                if value is function:
                    monkeypatch.setattr(module, attr, counting)
    for section, validate in list(paddle_optim.sections.SECTIONS.items()):
        if validate is function:
            monkeypatch.setitem(paddle_optim.sections.SECTIONS, section, counting)


@pytest.mark.parametrize("changes", [
    {"LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 0.001, "warmup": {"steps": 3}},
     "MomentumScheduler": {"name": "Linear", "start": 0.85, "end": 0.95}},
    {"Optimizer": {"name": "Lookahead", "learning_rate": 0.1, "k": 3, "inner": {"name": "Momentum"}},
     "LRScheduler": {"name": "ReduceOnPlateau", "metric": "top1", "mode": "max"}},
], ids=["cosine+momentum", "lookahead+plateau"])
def test_train_validates_each_section_once_and_builds_each_object_once(make_config, monkeypatch, changes):
    import paddle_optim.training.command  # noqa: F401  (loaded, so that its references are counted too)
    import paddle_optim.training.loop  # noqa: F401

    calls: Counter = Counter()
    originals = {"validate_data_section": paddle_optim.data.validate_data_section,
                 "validate_model_section": paddle_optim.models.validate_model_section,
                 "validate_optimizer_section": paddle_optim.factory.section.validate_optimizer_section,
                 "validate_lr_scheduler_section": paddle_optim.schedulers.section.validate_lr_scheduler_section,
                 "validate_momentum_section": paddle_optim.schedulers.section.validate_momentum_section,
                 "build_datasets": paddle_optim.data.build_datasets,
                 "build_model": paddle_optim.models.build_model,
                 "build_optimizer": paddle_optim.factory.builder.build_optimizer,
                 "build_schedule": paddle_optim.schedulers.builder.build_schedule,
                 "build_lr_scheduler": paddle_optim.schedulers.builder.build_lr_scheduler,
                 "build_momentum_schedule": paddle_optim.schedulers.builder.build_momentum_schedule,
                 "trial_build": paddle_optim.factory.builder.trial_build}
    assert sorted(originals) == sorted(VALIDATORS + BUILDERS)
    for function in originals.values():
        _spy_everywhere(monkeypatch, function, calls)
    config, _ = make_config(changes)
    assert main(["train", "-c", config]) == 0
    assert {name: calls[name] for name in VALIDATORS} == dict.fromkeys(VALIDATORS, 1)
    # The lint reads the run's schedule instead of building another; check's trial build is not train's.
    assert {name: calls[name] for name in BUILDERS} == {
        "build_datasets": 1, "build_model": 1, "build_optimizer": 1, "build_schedule": 1,
        "build_lr_scheduler": 0, "build_momentum_schedule": 0, "trial_build": 0}
