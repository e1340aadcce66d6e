"""Turning batches of indices into ``(x, y)`` tensors.

In-memory :class:`~paddle_optim.data.arrays.ArrayDataset` batches are cut with one numpy fancy-index
each (no per-sample collation, no worker processes: for small models that is most of the step time);
every other data set goes through ``paddle.io.DataLoader`` with the same batch sampler, so the order
is identical either way. The sampler's ``(seed, epoch)`` also fixes the random numbers of the epoch's
data: each augmented sample's (:class:`~paddle_optim.data.transforms.SeededSamples`) and each worker
process's (:func:`~paddle_optim.data.randomness.seed_worker`); the main process's numpy state, which
Paddle draws each iterator's worker seed from, is kept (it is part of a checkpoint).
"""
import functools
from typing import Iterator, Tuple

import paddle

from .arrays import ArrayDataset
from .randomness import numpy_state_kept, seed_worker
from .transforms import SeededSamples


def iterate_batches(dataset, batch_sampler, num_workers: int = 0) -> Iterator[Tuple[paddle.Tensor, paddle.Tensor]]:
    """Yield ``(x, y)`` for every batch of ``batch_sampler`` (an EpochBatchSampler)."""
    if isinstance(dataset, ArrayDataset):
        for indices in batch_sampler:
            x, y = dataset.batch(indices)
            yield paddle.to_tensor(x), paddle.to_tensor(y)
        return
    if isinstance(dataset, SeededSamples):
        dataset.set_epoch(batch_sampler.seed, batch_sampler.epoch)
    loader = paddle.io.DataLoader(dataset, batch_sampler=batch_sampler, num_workers=num_workers, return_list=True,
                                  worker_init_fn=functools.partial(seed_worker, batch_sampler.seed, batch_sampler.epoch))
    with numpy_state_kept():
        batches = iter(loader)
    for x, y in batches:
        yield x, _targets(y)


def _targets(y: paddle.Tensor) -> paddle.Tensor:
    """Collated targets as :func:`~paddle_optim.data.arrays.targets` makes them: integer labels as
    int64 class indices ``(N,)``; float targets unchanged."""
    if y.dtype in (paddle.float16, paddle.float32, paddle.float64):
        return y.astype("float32")
    return y.astype("int64").reshape([-1])
