"""PaddleDetection (``ppdet``): our optimizers as ``OptimizerBuilder.optimizer.type``.

``ppdet.optimizer.OptimizerBuilder.__call__`` resolves the type with ``getattr(paddle.optimizer,
type)`` and calls it as ``cls(learning_rate=, parameters=, grad_clip=, weight_decay=<regularizer>,
**args)``; for every type but ``AdamW`` it overwrites ``weight_decay`` with its ``regularizer``
(L2 1e-4 when the YAML has none). So the names live in ``paddle.optimizer`` (ppdet's own registry),
and each one is a factory with exactly that signature::

    OptimizerBuilder:
      regularizer: {type: L2, factor: 0.0001}        # coupled decay; L1 works too
      optimizer: {type: Ranger, beta1: 0.95, k: 6}   # or RAdam, or:
      # optimizer: {type: Lookahead, alpha: 0.5, k: 5, inner: {type: Momentum, momentum: 0.9}}
      # decoupled (AdamW-style) decay: regularizer: None + optimizer: {type: Ranger, decoupled_decay: 0.01}
"""
from typing import Any, Optional

from ..errors import ConfigError
from .build import DECOUPLED_KEY, Decay, build, check_decoupled

PATH = "OptimizerBuilder.optimizer"


def adapter(name: str):
    """The factory ppdet calls for ``type: <name>``."""

    def factory(learning_rate, parameters=None, grad_clip=None, weight_decay: Optional[Any] = None, **options):
        decoupled = check_decoupled(options.pop(DECOUPLED_KEY, None), f"{PATH}.{DECOUPLED_KEY}")
        if decoupled is not None and weight_decay is not None:
            raise ConfigError("OptimizerBuilder.regularizer", f"write `regularizer: None` next to optimizer."
                              f"{DECOUPLED_KEY} (the regularizer would add coupled decay on top)")
        if parameters is None:
            raise ConfigError(PATH, f"{name} runs in dygraph only: ppdet must pass the model's parameters")
        return build(name, options, learning_rate=learning_rate, parameters=list(parameters), grad_clip=grad_clip,
                     decay=Decay(weight_decay, decoupled), path=PATH, inner_name_key="type",
                     suite_keys=(DECOUPLED_KEY,))

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"paddle_optim.{name} for ppdet's OptimizerBuilder (see paddle_optim.suites.detection)."
    return factory

