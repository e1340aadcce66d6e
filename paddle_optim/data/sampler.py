"""The order in which a process sees the training data: a pure function of (seed, epoch, rank).

``paddle.io.DistributedBatchSampler`` shuffles with ``RandomState(epoch)`` only and always starts an
epoch at its first batch. :class:`EpochBatchSampler` keeps its sharding (pad to a multiple of the
world size, rank ``r`` takes every ``world_size``-th index) but shuffles with
``RandomState([seed, epoch])`` and can start in the middle of an epoch, so that a run resumed from a
checkpoint taken after batch ``b`` sees exactly the batches an uninterrupted run would have seen.
"""
import math
from typing import Iterator, List

import numpy as np
import paddle


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
    """

    def __init__(self, dataset, batch_size: int, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 drop_last: bool = False, seed: int = 0):
        super().__init__(dataset, batch_size, num_replicas=num_replicas, rank=rank, shuffle=shuffle,
                         drop_last=drop_last)
        self.seed = int(seed)
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's permutation; skip its first ``start_batch`` batches (resume)."""
        self.epoch = int(epoch)
        self.start_batch = int(start_batch)

    def epoch_indices(self) -> List[int]:
        """This rank's sample indices for the current epoch, in order (before batching)."""
        n = len(self.dataset)
        indices = np.arange(n)
        if self.shuffle:
            indices = np.random.RandomState([self.seed, self.epoch]).permutation(n)
        total = int(math.ceil(n / self.nranks)) * self.nranks
        indices = np.concatenate([indices, indices[: total - n]])  # pad by wrapping, as DistributedBatchSampler
        return indices[self.local_rank:total:self.nranks].tolist()

    def batches_per_epoch(self) -> int:
        per_rank = int(math.ceil(len(self.dataset) / self.nranks))
        return per_rank // self.batch_size if self.drop_last else int(math.ceil(per_rank / self.batch_size))

    def __iter__(self) -> Iterator[List[int]]:
        indices = self.epoch_indices()
        for b in range(self.start_batch, self.batches_per_epoch()):
            yield indices[b * self.batch_size:(b + 1) * self.batch_size]

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.start_batch
