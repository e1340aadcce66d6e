"""Evaluation: the mean loss and every metric of the ``Metric`` section over the validation set,
sharded over processes.

Each process evaluates every ``world_size``-th sample (no padding); the loss sum and sample count
are added over processes and so is every metric's state (:meth:`EvaluationMetric.reduce`), so the
numbers are those of one process evaluating everything.

Which weights are evaluated (:func:`evaluated_weights`): the EMA when ``EMA.enable``, else Lookahead's
slow weights when ``Optimizer.evaluate_on: slow``, else the weights being trained.
"""
import contextlib
from typing import Dict, Sequence

import paddle

from ..config.metrics import LOSS
from ..data.loader import iterate_batches
from ..data.sampler import EpochBatchSampler
from ..factory.section import SLOW
from .distributed import World, all_reduce_sum
from .loss import OPTIMISED, loss_terms
from .metrics import EvaluationMetric

#: ``metrics.json``'s ``evaluated_weights``: what :func:`evaluated_weights` put into the model.
FAST_WEIGHTS, SLOW_WEIGHTS, EMA_WEIGHTS = "fast", "slow", "ema"


def weights_kind(evaluate_on: str, ema) -> str:
    """Which weights evaluation sees: ``ema``, ``slow`` or ``fast`` (the config rules out EMA with slow)."""
    if ema is not None:
        return EMA_WEIGHTS
    return SLOW_WEIGHTS if evaluate_on == SLOW else FAST_WEIGHTS


def evaluated_weights(kind: str, model, optimizer, ema):
    """A context in which ``model`` holds the ``kind`` of weights (:func:`weights_kind`) evaluation sees; the
    trained weights come back bit for bit on exit (``ModelEMA.applied_to``, ``Lookahead.slow_weights``)."""
    if kind == EMA_WEIGHTS:
        return ema.applied_to(model)
    if kind == SLOW_WEIGHTS:
        return optimizer.slow_weights()
    return contextlib.nullcontext()


@paddle.no_grad()
def evaluate(model, dataset, batch_size: int, loss_fn, metrics: Sequence[EvaluationMetric], amp, world: World,
             num_workers: int = 0) -> Dict[str, float]:
    """``{"loss": mean loss, <metric name>: value, ...}`` of ``model`` in eval mode on ``dataset``."""
    was_training = model.training
    model.eval()
    sampler = EpochBatchSampler(dataset, batch_size, num_replicas=world.size, rank=world.rank, shuffle=False,
                                pad=False)
    for metric in metrics:
        metric.reset()
    loss_sum = count = 0.0
    for x, y in iterate_batches(dataset, sampler, num_workers, what="validation"):
        with amp.autocast():
            outputs = model(x)
        outputs = outputs.astype("float32")
        n = y.shape[0]
        loss_sum += loss_terms(loss_fn(outputs, y))[OPTIMISED].item() * n
        for metric in metrics:
            metric.update(outputs, y)
        count += n
    if was_training:
        model.train()
    loss_sum, count = all_reduce_sum([loss_sum, count], world)
    results = {LOSS: loss_sum / max(count, 1.0)}
    for metric in metrics:
        metric.reduce(world)
        results.update(metric.values())
    return results
