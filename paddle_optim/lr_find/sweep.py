"""The learning-rate range test itself: the config's real model, data, loss, optimizer, AMP,
accumulation and clipping, one optimizer step per learning rate, raised from ``start`` to ``end``.

Each step is the trainer's own :func:`~paddle_optim.training.loop.optimizer_step` (same forward,
accumulation, non-finite skip, clipping and update); only the learning rate is set by the sweep
(``optimizer.set_lr``, which Lookahead / Ranger pass to their inner optimizer). The config's
``LRScheduler``, ``MomentumScheduler`` and ``EMA`` are dropped, nothing is evaluated, checkpointed or
logged to ``Global.output_dir``; the process ends with the model and optimizer, so no state
"restored after the test" can be wrong.

Distributed (``paddle.distributed.launch``): every rank sets the same learning rate (the same
array), the curve is the mean over ranks of each rank's window loss (one all-reduce per step), and
the stop is all-reduced too, so every rank ends at the same step; a non-finite loss on one rank is
seen by all inside the step (the trainer's all-reduced finite check), which is skipped everywhere.
"""
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np

from ..data.loader import iterate_batches
from ..optimizers.functional import radam_coefficients
from ..optimizers.lookahead import Lookahead, innermost
from ..optimizers.radam import RAdam
from ..training.distributed import World, all_reduce_sum
from ..training.loop import Run, optimizer_step
from .curve import diverged_at


@dataclass
class SweepResult:
    lrs: List[float] = field(default_factory=list)      # the learning rate of every step taken
    losses: List[float] = field(default_factory=list)   # its loss (mean over ranks), NaN when non-finite
    stop: Optional[str] = None                          # why it ended before the last learning rate


def finder_config(config: Mapping[str, Any], start: float) -> Dict[str, Any]:
    """The resolved ``config`` with a constant learning rate ``start`` and no schedule or EMA."""
    sweep = dict(config)
    sweep["Optimizer"] = dict(config["Optimizer"], learning_rate=float(start))
    sweep["LRScheduler"] = None
    sweep["MomentumScheduler"] = None
    sweep["EMA"] = dict(config["EMA"], enable=False)
    return sweep


def micro_batches(run: Run) -> Iterator:
    """This rank's training micro-batches, epoch after epoch, for as long as the sweep needs."""
    for epoch in itertools.count():
        run.sampler.set_epoch(epoch)
        yield from iterate_batches(run.train_set, run.sampler, run.config["Data"]["num_workers"])


def sweep(run: Run, lrs: np.ndarray, window: int, stop_factor: float, on_step=None) -> SweepResult:
    """Take one optimizer step at each of ``lrs`` (fewer when it stops); ``on_step(i, lr, loss)``
    after each. Stops when the loss is not finite or the smoothed loss exceeds ``stop_factor`` x its
    minimum (:func:`~paddle_optim.lr_find.curve.diverged_at`)."""
    world: World = run.world
    accumulate = run.config["Global"]["accumulate_steps"]
    batches = micro_batches(run)
    result = SweepResult()
    run.net.train()
    for i, lr in enumerate(lrs):
        run.optimizer.set_lr(float(lr))
        outcome = optimizer_step(run, batches, accumulate)
        stepped = outcome.skipped is None
        mean = sum(outcome.losses) / len(outcome.losses) if stepped else math.nan
        total, ranks = all_reduce_sum([mean if stepped else 0.0, 1.0 if stepped else 0.0], world)
        loss = total / ranks if ranks == world.size else math.nan  # a skipped step is skipped on every rank
        result.lrs.append(float(lr))
        result.losses.append(loss)
        if on_step is not None:
            on_step(i, float(lr), loss)
        stop = None
        if not math.isfinite(loss):
            stop = f"non-finite {outcome.skipped or 'loss'} at step {i + 1} (lr {lr:.3g})"
        else:
            at = diverged_at(result.losses, window, stop_factor)
            if at is not None:
                stop = (f"the smoothed loss exceeded {stop_factor:g}x its minimum at step {at + 1} "
                        f"(lr {result.lrs[at]:.3g}); stopped at step {i + 1}")
        # Each rank decides from the same all-reduced numbers; agreeing explicitly costs one more
        # all-reduce and rules out any rank leaving the loop alone (its peers would wait forever).
        if all_reduce_sum([1.0 if stop else 0.0], world)[0] > 0:
            result.stop = stop or "another rank stopped"
            break
    return result


def rectifier(step: int, beta2: float) -> float:
    """RAdam's r_t at optimizer step ``step`` (0 while rho_t <= 5, where RAdam takes momentum-SGD
    steps on the bias-corrected first moment instead of adaptive ones)."""
    c = radam_coefficients(step, 0.0, beta2)  # beta1_pow = 0: no first-moment correction to undo
    return c.step_size / math.sqrt(1.0 - beta2 ** step) if c.rectified else 0.0


def warm_up_notes(run: Run, steps_taken: int, suggested_steps: Dict[str, int],
                  ripple: Optional[Tuple[float, float]], descent: float) -> List[str]:
    """What the optimizer's own warm-up behaviour means for this sweep, in numbers: RAdam's r_t at the
    suggested steps; Lookahead's measured k-step ripple (:func:`~paddle_optim.lr_find.curve.sync_ripple`)."""
    notes = []
    outer = run.optimizer
    inner = innermost(outer)
    if isinstance(inner, RAdam):
        beta2 = inner._beta2
        first = next(t for t in range(1, 10_000) if rectifier(t, beta2) > 0)
        at = ", ".join(f"{m} (step {s + 1}) r_t={rectifier(s + 1, beta2):.2f}" for m, s in suggested_steps.items())
        notes.append(
            f"RAdam rectifier (beta2={beta2:g}): steps 1-{first - 1} are momentum-SGD steps, then the adaptive "
            f"step is scaled by r_t, which reaches {rectifier(steps_taken, beta2):.2f} at the sweep's last step "
            f"{steps_taken} and {rectifier(1000, beta2):.2f} at step 1000 (1 = Adam). The sweep, like training, "
            f"starts from a fresh optimizer, so its step t sees training's r_t: " + (at or "no suggestion") +
            ". A run that holds the peak far past the sweep's length takes larger effective steps than the "
            "sweep tried: prefer the lower suggestions for long flat phases")
    if isinstance(outer, Lookahead):
        text = (f"Lookahead k={outer.k}, alpha={outer.alpha:g}: the learning rate rises every inner step and every "
                f"{outer.k} steps the weights are pulled back to the slow weights; ")
        if ripple is None or not math.isfinite(ripple[0]):
            text += f"too few points to measure the {outer.k}-step ripple"
        else:
            text += (f"the loss's {outer.k}-step ripple up to the minimum measured {ripple[0]:.3g} (noise alone, "
                     f"shuffled: {ripple[1]:.3g}; descent {descent:.3g}); the smoothing window (at least k steps) "
                     "averages whole cycles")
        notes.append(text)
    return notes
