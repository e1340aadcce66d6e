"""PaddleClas and PaddleOCR: our optimizers as the factory classes of their ``Optimizer`` section.

Both suites look the class up by ``Optimizer.name`` in their ``optimizer`` module, construct it with
the section's keys and call the instance on the model(s)::

    PaddleClas:  getattr(ppcls.optimizer.optimizer, name)(learning_rate=lr, grad_clip=clip, **cfg)(model_list)
    PaddleOCR:   getattr(ppocr.optimizer.optimizer, name)(learning_rate=lr, weight_decay=reg, grad_clip=clip, **cfg)(model)

Before that the suite has taken ``lr``, ``regularizer`` (-> ``weight_decay``) and ``clip_norm`` /
``clip_norm_global`` (-> ``grad_clip``) out of the section. The rest (``no_weight_decay_name``,
``one_dim_param_no_weight_decay``, the class's own keys, ``decoupled_decay``, Lookahead's
``inner: {name: ...}``) reaches the factory, which checks it at construction.

How a float ``weight_decay`` is read differs (:class:`Convention`): PaddleClas hands a float only
when the YAML says ``weight_decay:`` (its regularizer arrives as an ``L2Decay`` object), which in an
``AdamW`` config means decoupled decay, so for our classes it is refused with both spellings;
PaddleOCR turns ``regularizer: {name: L2}`` itself into a float, which Paddle reads as coupled L2.

PaddleClas loads ``Global.pretrained_model`` before it builds the optimizer, PaddleOCR after it:
Lookahead and Ranger take their slow weights at the first step, so fine-tuning starts from the
pretrained weights in both. The YAML (PaddleClas spells the L2 coefficient ``coeff``, PaddleOCR
``factor``)::

    Optimizer:
      name: Ranger                                      # or RAdam, or Lookahead + inner: {name: Momentum, momentum: 0.9}
      lr: {name: Cosine, learning_rate: 0.003, warmup_epoch: 1}
      regularizer: {name: L2, coeff: 0.0001}            # coupled; L1 works too
      # decoupled_decay: 0.05                           # AdamW-style instead (and no regularizer)
      no_weight_decay_name: norm                        # optional, as for AdamW
      one_dim_param_no_weight_decay: true
"""
import logging
from dataclasses import dataclass

from ..config.schema import join_key
from ..errors import ConfigError
from .build import DECOUPLED_KEY, Decay, build, check_decoupled, check_keys, decay_groups

PATH = "Optimizer"
_SUITE_KEYS = ("no_weight_decay_name", "one_dim_param_no_weight_decay", DECOUPLED_KEY)
_log = logging.getLogger("paddle_optim.suites")


@dataclass(frozen=True)
class Convention:
    suite: str
    float_weight_decay_is_l2: bool  # False: refuse a float (ambiguous in that suite)
    call_argument: str  # what __call__ takes: "model_list" (PaddleClas, by keyword) or "model" (PaddleOCR)


def adapter(name: str, convention: Convention):
    """The factory class the suite finds as ``Optimizer.name: <name>``."""

    class SuiteOptimizer:
        def __init__(self, learning_rate, grad_clip=None, weight_decay=None, no_weight_decay_name=None,
                     one_dim_param_no_weight_decay=False, decoupled_decay=None, **options):
            check_keys(name, options, PATH, _SUITE_KEYS)
            decoupled = check_decoupled(decoupled_decay, join_key(PATH, DECOUPLED_KEY))
            if decoupled is not None and weight_decay:
                raise ConfigError(join_key(PATH, "regularizer"), f"give either a regularizer (coupled) or "
                                  f"{DECOUPLED_KEY} (AdamW-style), not both")
            if isinstance(weight_decay, (int, float)) and not isinstance(weight_decay, bool) and weight_decay:
                if not convention.float_weight_decay_is_l2:
                    raise ConfigError(join_key(PATH, "weight_decay"), f"{weight_decay!r} is ambiguous for {name} "
                                      f"(AdamW reads it as decoupled decay, Momentum as L2): write {DECOUPLED_KEY}: "
                                      f"{weight_decay} (AdamW-style) or regularizer: {{name: L2, coeff: {weight_decay}}}")
                _log.info("%s: Optimizer weight_decay %s is coupled L2 for %s (as for Momentum); "
                          "for AdamW-style decay write %s", convention.suite, weight_decay, name, DECOUPLED_KEY)
            self.learning_rate = learning_rate
            self.grad_clip = grad_clip
            self.decay = Decay(weight_decay or None, decoupled, tuple((no_weight_decay_name or "").split()),
                               bool(one_dim_param_no_weight_decay))
            self.options = options

        def __call__(self, *args, **kwargs):
            key = convention.call_argument
            if len(args) + len(kwargs) != 1 or set(kwargs) - {key}:
                raise TypeError(f"{name}(...)({key}) takes the {key} only")
            models = args[0] if args else kwargs[key]
            if models is None:
                raise ConfigError(PATH, f"{name} runs in dygraph only (the suite passed no model)")
            models = list(models) if key == "model_list" else [models]
            named = [(n, p) for m in models for n, p in m.named_parameters() if p.trainable]
            return build(name, self.options, learning_rate=self.learning_rate,
                         parameters=decay_groups(named, self.decay), grad_clip=self.grad_clip,
                         decay=self.decay, path=PATH, inner_name_key="name", suite_keys=_SUITE_KEYS,
                         layers=models)

    SuiteOptimizer.__name__ = SuiteOptimizer.__qualname__ = name
    SuiteOptimizer.__doc__ = f"paddle_optim.{name} as a {convention.suite} Optimizer factory."
    return SuiteOptimizer


CLAS = Convention("paddleclas", float_weight_decay_is_l2=False, call_argument="model_list")
OCR = Convention("paddleocr", float_weight_decay_is_l2=True, call_argument="model")
