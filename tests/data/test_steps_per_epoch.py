"""Optimizer steps per epoch: one derivation (data/sampler.py) that the sampler batches with too."""
import pytest

from paddle_optim.data import steps_per_epoch
from paddle_optim.data.sampler import EpochBatchSampler

# (num_samples, batch_size, world_size, accumulate_steps, drop_last) -> optimizer steps per epoch
STEPS_PER_EPOCH = [
    ((1000, 32, 1, 1, False), 32),   # 31.25 micro-batches -> 32 (last one short)
    ((1000, 32, 1, 1, True), 31),
    ((1000, 32, 2, 1, False), 16),   # 500 samples per rank
    ((1001, 32, 2, 1, True), 15),    # 501 per rank (padded) -> 15 full batches
    ((1000, 32, 1, 4, False), 8),
    ((1000, 32, 2, 4, False), 4),
    ((1000, 32, 1, 3, False), 11),   # 32 micro-batches: 10 groups of 3 + a remainder of 2
    ((10, 32, 4, 1, False), 1),
]


@pytest.mark.parametrize("args,expected", STEPS_PER_EPOCH)
def test_steps_per_epoch(args, expected):
    assert steps_per_epoch(*args) == expected


@pytest.mark.parametrize("args,expected", [(a, e) for a, e in STEPS_PER_EPOCH if a[3] == 1])
def test_steps_per_epoch_matches_the_trainers_sampler(args, expected):
    n, batch, world, _, drop_last = args
    for rank in range(world):
        sampler = EpochBatchSampler(list(range(n)), batch, num_replicas=world, rank=rank, drop_last=drop_last)
        assert sampler.batches_per_epoch() == expected == len(list(sampler))


@pytest.mark.parametrize("bad", [dict(num_samples=0), dict(batch_size=0), dict(world_size=0),
                                 dict(accumulate_steps=0), dict(batch_size=2.5), dict(num_samples=3, batch_size=4,
                                                                                      drop_last=True)])
def test_steps_per_epoch_rejects_impossible_runs(bad):
    args = dict(num_samples=100, batch_size=10)
    args.update(bad)
    with pytest.raises(ValueError):
        steps_per_epoch(**args)
