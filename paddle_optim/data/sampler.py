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
        if self.pad:  # wrap around, as DistributedBatchSampler does
            indices = np.concatenate([indices, indices[: int(math.ceil(n / self.nranks)) * self.nranks - n]])
        return indices[self.local_rank::self.nranks].tolist()

    def batches_per_epoch(self) -> int:
        n = len(self.dataset)
        per_rank = int(math.ceil(n / self.nranks)) if self.pad else len(range(self.local_rank, n, self.nranks))
        return per_rank // self.batch_size if self.drop_last else int(math.ceil(per_rank / self.batch_size))

    def __iter__(self) -> Iterator[List[int]]:
        indices = self.epoch_indices()
        for b in range(self.start_batch, self.batches_per_epoch()):
            yield indices[b * self.batch_size:(b + 1) * self.batch_size]

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.start_batch
