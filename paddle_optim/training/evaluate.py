"""Evaluation: loss and top-1 accuracy over the validation set, sharded over processes.

Each process evaluates every ``world_size``-th sample (no padding), and the sums of loss, correct
predictions and sample counts are added over processes, so the numbers are exactly those of one
process evaluating everything.
"""
from typing import Dict

import paddle

from ..config.metrics import METRIC_NAME
from ..data.loader import iterate_batches
from ..data.sampler import EpochBatchSampler
from .distributed import World, all_reduce_sum



@paddle.no_grad()
def evaluate(model, dataset, batch_size: int, loss_fn, amp, world: World, num_workers: int = 0) -> Dict[str, float]:
    """``{"loss": mean loss, "top1": accuracy in [0, 1]}`` of ``model`` in eval mode on ``dataset``."""
    was_training = model.training
    model.eval()
    sampler = EpochBatchSampler(dataset, batch_size, num_replicas=world.size, rank=world.rank, shuffle=False,
                                pad=False)
    loss_sum = correct = count = 0.0
    for x, y in iterate_batches(dataset, sampler, num_workers):
        with amp.autocast():
            logits = model(x)
        logits = logits.astype("float32")
        n = y.shape[0]
        loss_sum += float(loss_fn(logits, y)) * n
        correct += float((logits.argmax(axis=-1) == y).astype("float32").sum())
        count += n
    if was_training:
        model.train()
    loss_sum, correct, count = all_reduce_sum([loss_sum, correct, count], world)
    return {"loss": loss_sum / max(count, 1.0), METRIC_NAME: correct / max(count, 1.0)}
