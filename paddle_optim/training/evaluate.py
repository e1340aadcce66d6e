"""Evaluation: the mean loss and every metric of the ``Metric`` section over the validation set,
sharded over processes.

Each process evaluates every ``world_size``-th sample (no padding); the loss sum and sample count
are added over processes and so is every metric's state (:meth:`EvaluationMetric.reduce`), so the
numbers are those of one process evaluating everything.
"""
from typing import Dict, Sequence

import paddle

from ..config.metrics import LOSS
from ..data.loader import iterate_batches
from ..data.sampler import EpochBatchSampler
from .distributed import World, all_reduce_sum
from .loss import OPTIMISED, loss_terms
from .metrics import EvaluationMetric


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
