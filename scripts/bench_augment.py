#!/usr/bin/env python
"""What the reproducible augmentation of ``Data.transforms`` costs: the data loading rate of a folder of
PNGs through an augmentation pipeline, with each sample's random numbers seeded from (seed, epoch, index)
(:class:`paddle_optim.data.transforms.SeededSamples`, what ``paddle-optim train`` does) against the same
pipeline unseeded (plain ``DatasetFolder``), through the trainer's own ``iterate_batches``. Epochs are
measured in pairs (alternating which side goes first) and the median of the per-pair ratios is reported,
which keeps the drifting load of a shared machine out of the ratio.

Usage::

    python scripts/bench_augment.py [--images 512] [--size 64] [--repeats 7] [--workers 0 2]
"""
import zlib  # noqa: F401  (before paddle)
import argparse
import os
import statistics
import tempfile
import time
import timeit

import numpy as np
import paddle
from PIL import Image

from paddle_optim.data.folder import image_folder
from paddle_optim.data.loader import iterate_batches
from paddle_optim.data.randomness import seeded
from paddle_optim.data.sampler import EpochBatchSampler
from paddle_optim.data.transforms import SeededSamples, build_transforms

PIPELINE = [{"name": "RandomResizedCrop", "size": 32}, {"name": "RandomHorizontalFlip"},
            {"name": "ColorJitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4}, {"name": "ToTensor"},
            {"name": "Normalize", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}]


def make_pngs(root: str, images: int, size: int) -> None:
    rng = np.random.RandomState(0)
    for i in range(images):
        folder = os.path.join(root, f"class{i % 4}")
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(rng.randint(0, 256, (size, size, 3), dtype=np.uint8)).save(os.path.join(folder, f"{i}.png"))


def epoch_rate(dataset, workers: int, epoch: int) -> float:
    """Samples/s of one epoch through the trainer's batching (batches of 64)."""
    sampler = EpochBatchSampler(dataset, 64, seed=1)
    sampler.set_epoch(epoch)
    start = time.perf_counter()
    for _ in iterate_batches(dataset, sampler, workers):
        pass
    return len(dataset) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--size", type=int, default=64, help="side of the square PNGs")
    parser.add_argument("--repeats", type=int, default=7, help="pairs of epochs per worker count")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    # in the main process (num_workers 0): seed, then restore the caller's states; workers only seed
    per_sample = min(timeit.repeat("with seeded(1, 2, 3): pass", globals={"seeded": seeded}, number=2000,
                                   repeat=5)) / 2000
    with tempfile.TemporaryDirectory() as root:
        make_pngs(root, args.images, args.size)
        plain = image_folder(root, build_transforms(PIPELINE))
        seeded_set = SeededSamples(image_folder(root, build_transforms(PIPELINE)))
        print(f"paddle {paddle.__version__}; {args.images} PNGs of {args.size}x{args.size} -> "
              + " -> ".join(s["name"] for s in PIPELINE) + "; batches of 64")
        print(f"seeding + restoring random and numpy per sample (main process): {per_sample * 1e6:.1f} us\n")
        print("| workers | unseeded samples/s (median) | seeded samples/s (median) | seeded / unseeded (median of pairs; quartiles) |")
        print("|---|---|---|---|")
        for workers in args.workers:
            epoch_rate(plain, workers, 0)  # warm-up: page cache, first worker start
            rates, ratios = {"plain": [], "seeded": []}, []
            for r in range(args.repeats):
                order = [("plain", plain), ("seeded", seeded_set)][:: 1 if r % 2 == 0 else -1]
                pair = {name: epoch_rate(ds, workers, r) for name, ds in order}
                for name, rate in pair.items():
                    rates[name].append(rate)
                ratios.append(pair["seeded"] / pair["plain"])
            q1, _, q3 = statistics.quantiles(ratios, n=4)
            print(f"| {workers} | {statistics.median(rates['plain']):,.0f} | {statistics.median(rates['seeded']):,.0f} "
                  f"| **{statistics.median(ratios):.3f}** ({q1:.3f}-{q3:.3f}) |")


if __name__ == "__main__":
    main()
