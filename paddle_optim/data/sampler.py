"""The order in which a process sees the training data: a pure function of (seed, epoch, rank).

``paddle.io.DistributedBatchSampler`` shuffles with ``RandomState(epoch)`` only and always starts an
epoch at its first batch. :class:`EpochBatchSampler` keeps its sharding (pad to a multiple of the
world size, rank ``r`` takes every ``world_size``-th index) but shuffles with
``RandomState([seed, epoch])`` and can start in the middle of an epoch, so that a run resumed from a
checkpoint taken after batch ``b`` sees exactly the batches an uninterrupted run would have seen.

A run resumed with another batch size or number of processes continues at the same SAMPLE of the
epoch's order (``start_sample``): the processes together consume the epoch's permutation front to
back (rank ``r`` of ``w`` takes positions ``r, r + w, ...``), so after ``b`` full batches of ``B``
on ``w`` ranks the first ``b * B * w`` positions are done, whatever the layout that follows.
"""
import math
from typing import Iterator, List

import numpy as np
import paddle


def micro_batches_per_epoch(samples: int, batch_size: int, drop_last: bool) -> int:
    """Micro-batches one process makes of its ``samples`` of an epoch: the last one is incomplete
    unless ``drop_last``. The sampler batches with it and the schedule counts its steps with it."""
    return samples // batch_size if drop_last else math.ceil(samples / batch_size)


def steps_per_epoch(num_samples: int, batch_size: int, world_size: int = 1, accumulate_steps: int = 1,
                    drop_last: bool = False) -> int:
    """Optimizer steps per epoch of one process.

    Args:
        num_samples (int): training samples in the whole data set.
        batch_size (int): samples per process per micro-batch (``Data.batch_size``).
        world_size (int, default 1): number of training processes.
        accumulate_steps (int, default 1): micro-batches per optimizer step (``Global.accumulate_steps``).
        drop_last (bool, default False): drop each process's last incomplete micro-batch (``Data.drop_last``).

    Every process sees ``ceil(num_samples / world_size)`` samples (``paddle.io.DistributedBatchSampler``
    pads the data set so every rank gets as many), cut into micro-batches of ``batch_size``; the last one
    is incomplete unless ``drop_last``. The optimizer steps after every ``accumulate_steps`` micro-batches
    and once more at the end of the epoch for a remainder, so ``ceil(micro_batches / accumulate_steps)``.
    """
    for name, value in (("num_samples", num_samples), ("batch_size", batch_size), ("world_size", world_size),
                        ("accumulate_steps", accumulate_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"steps_per_epoch: {name} must be a whole number >= 1, got {value!r}")
    per_rank = math.ceil(num_samples / world_size)
    micro_batches = micro_batches_per_epoch(per_rank, batch_size, drop_last)
    if micro_batches == 0:
        raise ValueError(f"steps_per_epoch: {per_rank} samples per process make no full batch of {batch_size} "
                         f"with drop_last")
    return math.ceil(micro_batches / accumulate_steps)


class EpochBatchSampler(paddle.io.DistributedBatchSampler):
    """Deterministic, resumable, sharded batch sampler.

    Args:
        dataset: anything with ``__len__``.
        batch_size (int): samples per micro-batch of this process.
        num_replicas (int, default 1): number of processes.
        rank (int, default 0): this process.
        shuffle (bool, default True): permute the indices every epoch.
        drop_last (bool, default False): drop this process's last incomplete batch.
        seed (int, default 0): with the epoch, fixes the permutation.
        pad (bool, default True): repeat samples so every rank gets as many (training); evaluation
            uses ``pad=False`` so every sample is counted exactly once over all ranks.
    """

    def __init__(self, dataset, batch_size: int, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0, pad: bool = True):
        super().__init__(dataset, batch_size, num_replicas=num_replicas, rank=rank, shuffle=shuffle,
                         drop_last=drop_last)
        self.seed = int(seed)
        self.pad = bool(pad)
        self.start_batch = 0
        self.start_sample = 0

    def set_epoch(self, epoch: int, start_batch: int = 0, start_sample: int = 0) -> None:
        """Select the epoch's permutation; drop its first ``start_sample`` positions (a resume with another
        batch layout), then skip the first ``start_batch`` batches of the rest (a resume)."""
        self.epoch = int(epoch)
        self.start_batch = int(start_batch)
        self.start_sample = int(start_sample)

    def epoch_indices(self) -> List[int]:
        """This rank's sample indices for the current epoch from ``start_sample`` on, in order (before batching)."""
        indices = np.arange(len(self.dataset))
        if self.shuffle:
            indices = np.random.RandomState([self.seed, self.epoch]).permutation(len(self.dataset))
        indices = indices[self.start_sample:]
        n = len(indices)
        if self.pad:  # wrap around, as DistributedBatchSampler does
            indices = np.concatenate([indices, indices[: int(math.ceil(n / self.nranks)) * self.nranks - n]])
        return indices[self.local_rank::self.nranks].tolist()

    def batches_per_epoch(self) -> int:
        n = max(len(self.dataset) - self.start_sample, 0)
        per_rank = int(math.ceil(n / self.nranks)) if self.pad else len(range(self.local_rank, n, self.nranks))
        return micro_batches_per_epoch(per_rank, self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[List[int]]:
        indices = self.epoch_indices()
        for b in range(self.start_batch, self.batches_per_epoch()):
            yield indices[b * self.batch_size:(b + 1) * self.batch_size]

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.start_batch
