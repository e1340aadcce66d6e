"""PaddleSeg: our optimizers as components of ``paddleseg.cvlibs.manager.OPTIMIZERS``.

PaddleSeg builds ``optimizer: {type: X, ...}`` as ``OPTIMIZERS[X](**keys)`` (a ``BaseOptimizer``:
``weight_decay`` float = coupled L2, ``grad_clip_cfg``, ``custom_cfg`` per-parameter groups with
``lr_mult`` / ``weight_decay_mult``), then calls it as ``opt(model, lr_scheduler)``. A nested mapping
with a ``type`` is built into a component by PaddleSeg itself, so Lookahead's ``inner`` arrives
as a ready PaddleSeg optimizer component::

    optimizer: {type: Ranger, weight_decay: 4.0e-5, custom_cfg: [{name: backbone, lr_mult: 0.1}]}
    optimizer: {type: Ranger, decoupled_decay: 0.01}          # AdamW-style; custom_cfg mults apply
    optimizer: {type: Lookahead, alpha: 0.5, k: 5, inner: {type: Momentum, momentum: 0.9, weight_decay: 4.0e-5}}
"""
from typing import Any

from ..config.schema import join_key
from ..errors import ConfigError
from ..factory import get_spec
from ..optimizers import Lookahead
from .build import DECOUPLED_KEY, Decay, build, check_decoupled, check_keys

PATH = "optimizer"
_BASE_KEYS = ("weight_decay", "grad_clip_cfg", "custom_cfg")


def adapter(name: str):
    """A ``BaseOptimizer`` subclass named ``name`` for ``optimizer: {type: <name>}``."""
    from paddleseg.optimizers.optimizer import BaseOptimizer

    wraps_inner = get_spec(name)[0].wraps_inner

    class SegOptimizer(BaseOptimizer):
        def __init__(self, weight_decay=None, grad_clip_cfg=None, custom_cfg=None, decoupled_decay=None, **options):
            decoupled = check_decoupled(decoupled_decay, join_key(PATH, DECOUPLED_KEY))
            given = dict(weight_decay=weight_decay, grad_clip_cfg=grad_clip_cfg, custom_cfg=custom_cfg,
                         decoupled_decay=decoupled)
            if wraps_inner:
                for key, value in given.items():
                    if value is not None:
                        raise ConfigError(join_key(PATH, key), "set it on the inner optimizer (optimizer.inner)")
            elif decoupled is not None and weight_decay is not None:
                raise ConfigError(join_key(PATH, "weight_decay"), f"give either weight_decay (coupled L2) or "
                                  f"{DECOUPLED_KEY} (AdamW-style), not both")
            check_keys(name, options, PATH, () if wraps_inner else _BASE_KEYS)
            # The decoupled coefficient takes weight_decay's place so that custom_cfg's
            # weight_decay_mult scales it per group, as it scales L2.
            super().__init__(weight_decay if decoupled is None else decoupled, grad_clip_cfg, custom_cfg)
            self._decoupled = decoupled is not None
            self._options = options

        def __call__(self, model, lr):
            if wraps_inner:
                return _lookahead(self._options, model, lr)
            decay = Decay(decoupled=self.weight_decay) if self._decoupled else Decay(self.weight_decay)
            return build(name, self._options, learning_rate=lr, parameters=self._collect_params(model),
                         grad_clip=self.args.get("grad_clip"), decay=decay, path=PATH, inner_name_key="type",
                         suite_keys=_BASE_KEYS, layers=[model])

    SegOptimizer.__name__ = SegOptimizer.__qualname__ = name
    SegOptimizer.__doc__ = f"paddle_optim.{name} as a PaddleSeg optimizer (see paddle_optim.suites.segmentation)."
    return SegOptimizer


def _lookahead(options, model, lr):
    from paddleseg.cvlibs import manager

    inner = options.get("inner")
    if isinstance(inner, dict) and "type" in inner:  # not pre-built (called outside PaddleSeg's builder)
        inner = manager.OPTIMIZERS[inner["type"]](**{k: v for k, v in inner.items() if k != "type"})
    if not callable(inner):
        raise ConfigError(join_key(PATH, "inner"), "is required: the inner optimizer, e.g. "
                          "{type: Momentum, momentum: 0.9}")
    return Lookahead(inner(model, lr), **{k: v for k, v in options.items() if k != "inner"})


def lookup(name: str):
    from paddleseg.cvlibs import manager

    return manager.OPTIMIZERS.components_dict.get(name)


def store(name: str, obj: Any) -> None:
    from paddleseg.cvlibs import manager

    if name in manager.OPTIMIZERS.components_dict:  # add_component refuses to replace
        manager.OPTIMIZERS.components_dict[name] = obj
    else:
        manager.OPTIMIZERS.add_component(obj)
