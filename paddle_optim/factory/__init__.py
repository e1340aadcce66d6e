"""The optimizer factory: the registry of names, the ``Optimizer`` section, decay groups and clipping.

Modules (like timm's ``optim/``):
    registry      names -> frozen :class:`OptimizerSpec`; aliases; ``register(spec)``; import paths
    section       the ``Optimizer`` config section (shared keys + the class's own arguments)
    param_groups  the decay / no-decay split, handed over in the form each optimizer understands
    clipping      the ``grad_clip`` key, the per-step global norm, global-norm clipping across groups
    builder       ``build_optimizer(section, model, learning_rate)``
"""
from .builder import build_optimizer, trial_build
from .registry import ALIASES, OptimizerSpec, get_spec, list_optimizers, optimizer_names, register, registry
from .section import validate_optimizer_section

__all__ = ["ALIASES", "OptimizerSpec", "build_optimizer", "get_spec", "list_optimizers", "optimizer_names",
           "register", "registry", "trial_build", "validate_optimizer_section"]
