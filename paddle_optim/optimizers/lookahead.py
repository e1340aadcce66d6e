"""Lookahead: k steps forward, 1 step back (Zhang et al., NeurIPS 2019), around any optimizer."""
import contextlib
from typing import List

import paddle
from paddle.optimizer import Optimizer

from paddle_optim import compat
from paddle_optim.optimizers.functional import lookahead_sync_all
from paddle_optim.optimizers.state import (
    PortableStateMixin,
    assign_checked,
    load_portable_state_dict,
    numpy_copy,
    parameter_groups,
    portable_state_dict,
)
from paddle_optim.config.ranges import BLEND
from paddle_optim.config.schema import check_range


class Lookahead(PortableStateMixin, Optimizer):
    r"""Lookahead around ANY Paddle optimizer (native or ours), exactly as in the paper.

    Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019
    (https://arxiv.org/abs/1907.08610), Algorithm 1::

        slow weights phi = theta_0 (the weights the first update starts from)
        every step: the inner ("fast") optimizer updates theta
        after every k-th inner step:  phi <- phi + alpha (theta - phi);  theta <- phi

    Unlike ``paddle.incubate.LookAhead`` (same signature), the slow weights start at theta_0 and
    the first synchronisation happens after k steps. theta_0 is taken by the first ``step()`` /
    ``minimize()``, before its update, unless a loaded ``state_dict`` supplied the slow weights:
    weights loaded after the optimizer was built (a pretrained model, as PaddleOCR does) are the
    start; :meth:`reset_slow_weights` re-takes them after replacing weights mid-run.
    :meth:`slow_weights` swaps the slow weights in for evaluation or export and :meth:`sync`
    synchronises now. Fast weights are the inner optimizer's fp32 master weights when it keeps
    them (``multi_precision``); slow weights are float32 for float16/bfloat16 parameters. When
    ``paddle.amp.GradScaler`` found inf/nan, neither the inner optimizer nor the slow weights nor
    the step counter move. Extra memory: one copy of the parameters. ``state_dict()`` is portable
    and contains the inner optimizer's state too.

    Args:
        inner_optimizer (paddle.optimizer.Optimizer): the fast optimizer; exposed as
            ``.inner_optimizer`` (a momentum schedule sets its ``_momentum`` / ``_beta1``).
        alpha (float, optional): slow-weight step, in (0, 1]. Default 0.5.
        k (int, optional): inner steps per synchronisation, >= 1. Default 5.
        name (str, optional): unused by the update, kept for Paddle's signature. Default None.

    Example::

        import paddle, paddle_optim
        model = paddle.nn.Linear(4, 2)
        inner = paddle.optimizer.Momentum(0.1, momentum=0.9, parameters=model.parameters())
        opt = paddle_optim.Lookahead(inner, alpha=0.5, k=5)
        model(paddle.rand([8, 4])).mean().backward()
        opt.step()
        opt.clear_grad()
    """

    def __init__(self, inner_optimizer, alpha=0.5, k=5, name=None):
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(
                f"inner_optimizer must be a paddle.optimizer.Optimizer, got "
                f"{type(inner_optimizer).__name__}"
            )
        self.alpha = check_range("alpha", alpha, BLEND)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k={k!r} is out of range; allowed: an integer >= 1")
        self.k = k
        self.inner_optimizer = inner_optimizer
        params = [param for group in parameter_groups(inner_optimizer) for param in group]
        # Our own groups are flat: the inner optimizer owns learning rates, decay and clipping;
        # the base class only provides clear_grad, the GradScaler hooks and the LR accessors.
        super().__init__(learning_rate=inner_optimizer._learning_rate, parameters=params,
                         weight_decay=None, grad_clip=None, name=name)
        self._inner_steps = 0
        self._slow_weights = None  # parameter name -> slow copy, once taken (or loaded)
        self._swapped = False  # inside slow_weights()

    @paddle.no_grad()
    def reset_slow_weights(self):
        """Take the slow weights from the current weights now (after replacing the weights).

        Every parameter gets a slow copy, frozen ones too (one unfrozen later then starts from
        this value); float16/bfloat16 ones in float32, from the fp32 master weight if any.
        """
        self._check_not_swapped("reset_slow_weights")
        masters = self.inner_optimizer._master_weights
        slow = {}
        for param in self._parameter_list:
            source = masters.get(param.name, param)
            dtype = paddle.float32 if compat.is_low_precision(source.dtype) else source.dtype
            slow[param.name] = (source.detach().astype(dtype) if dtype != source.dtype
                                else source.detach().clone())
        self._slow_weights = slow

    @contextlib.contextmanager
    def slow_weights(self):
        """Within the block the parameters hold the slow weights (to evaluate or export them).

        On exit the fast weights are restored bit for bit. Only the parameters change: fp32
        master weights, the optimizer state and ``state_dict()`` are untouched, and stepping or
        synchronising inside the block is an error. Before the first step the slow weights are the
        current weights and nothing changes. Costs one copy of the trainable parameters::

            with optimizer.slow_weights():
                evaluate(model)
        """
        self._check_not_swapped("slow_weights")
        trainable = [p for p in self._parameter_list if not p.stop_gradient]
        if self._slow_weights is None or not trainable:
            yield
            return
        with paddle.no_grad():
            fast = [param.clone() for param in trainable]
            for param in trainable:
                paddle.assign(self._slow_weights[param.name].astype(param.dtype), output=param)
        self._swapped = True
        try:
            yield
        finally:
            with paddle.no_grad():
                for param, value in zip(trainable, fast):
                    param.copy_(value, False)
            self._swapped = False

    @paddle.no_grad()
    def sync(self):
        """Synchronise now: ``phi <- phi + alpha (theta - phi); theta <- phi``.

        The k-step count is unchanged (the next scheduled synchronisation stays where it was).
        Before the first step there is nothing to blend.
        """
        self._check_not_swapped("sync")
        if self._slow_weights is not None:
            self._synchronize()

    def _check_not_swapped(self, what: str) -> None:
        if self._swapped:
            raise RuntimeError(f"{what}() inside `with optimizer.slow_weights():`; the "
                               "parameters hold the slow weights until the block ends")

    # paddle.amp.decorate(level='O2') sets `_multi_precision` on the optimizer it is given.
    @property
    def _multi_precision(self):
        return getattr(self.inner_optimizer, "_multi_precision", False)

    @_multi_precision.setter
    def _multi_precision(self, value):
        self.inner_optimizer._multi_precision = value

    def get_lr(self):
        """The inner optimizer's current learning rate."""
        return self.inner_optimizer.get_lr()

    def set_lr(self, value):
        """Set the inner optimizer's float learning rate (as ``Optimizer.set_lr``)."""
        self.inner_optimizer.set_lr(value)
        self._learning_rate = self.inner_optimizer._learning_rate

    def set_lr_scheduler(self, scheduler):
        """Give the inner optimizer a new ``LRScheduler`` (as ``Optimizer.set_lr_scheduler``)."""
        self.inner_optimizer.set_lr_scheduler(scheduler)
        self._learning_rate = self.inner_optimizer._learning_rate

    def clear_grad(self, set_to_zero=True):
        """Clear the gradients (of the inner optimizer's parameters)."""
        self.inner_optimizer.clear_grad(set_to_zero)

    @paddle.no_grad()
    def step(self):
        """One inner step; every k-th one is followed by the slow-weight synchronisation."""
        if self._hand_found_inf_to_inner():
            return
        self._before_inner_step()
        self.inner_optimizer.step()
        self._after_inner_step()

    def minimize(self, loss, startup_program=None, parameters=None, no_grad_set=None):
        """``inner_optimizer.minimize(...)`` followed by the Lookahead bookkeeping."""
        if self._hand_found_inf_to_inner():
            return None, None
        self._before_inner_step()
        result = self.inner_optimizer.minimize(loss, startup_program, parameters, no_grad_set)
        with paddle.no_grad():
            self._after_inner_step()
        return result

    def _hand_found_inf_to_inner(self) -> bool:
        # The scaler sets found_inf on us; settle it once and let the inner optimizer see it too.
        found_inf = compat.found_inf_flag(self)
        self.inner_optimizer._set_auxiliary_var("found_inf", found_inf)
        return found_inf

    def _before_inner_step(self):
        self._check_not_swapped("step")
        if self._slow_weights is None:
            self.reset_slow_weights()  # theta_0: the weights this first update starts from

    def _after_inner_step(self):
        self._inner_steps += 1
        if self._inner_steps % self.k == 0:
            self._synchronize()

    def _synchronize(self):
        masters = self.inner_optimizer._master_weights
        trainable = [p for p in self._parameter_list if not p.stop_gradient]
        # The fast weights are the fp32 masters where the inner optimizer keeps them.
        fasts = [masters.get(param.name, param) for param in trainable]
        lookahead_sync_all([self._slow_weights[p.name] for p in trainable], fasts, self.alpha)
        for param, fast in zip(trainable, fasts):
            if fast is not param:
                paddle.assign(fast.astype(param.dtype), output=param)

    def _export_extra_state(self, params: List) -> dict:
        taken = self._slow_weights or {}  # none before the first step: taken when it comes
        return {
            "inner": portable_state_dict(self.inner_optimizer),
            "inner_steps": self._inner_steps,
            "slow_weights": {i: numpy_copy(taken[p.name]) for i, p in enumerate(params)
                             if p.name in taken},
        }

    def _import_extra_state(self, params: List, extra: dict) -> None:
        load_portable_state_dict(self.inner_optimizer, extra["inner"])
        self._inner_steps = int(extra["inner_steps"])
        if not extra["slow_weights"]:
            self._slow_weights = None
            return
        self.reset_slow_weights()  # the right shapes and dtypes, then the loaded values
        for position, value in extra["slow_weights"].items():
            assign_checked(self._slow_weights[params[position].name], value,
                           f"slow weight of parameter #{position}")


def innermost(optimizer):
    """The optimizer that updates the fast weights: ``optimizer`` itself, or what a Lookahead (Ranger)
    wraps, however deep. The one way to see through Lookahead (its grad_clip, momentum, beta1 live there)."""
    while isinstance(optimizer, Lookahead):
        optimizer = optimizer.inner_optimizer
    return optimizer
