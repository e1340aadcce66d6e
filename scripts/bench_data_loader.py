"""Reading an image folder: paddle-optim's guarded readers against ``paddle.io.DataLoader``, side by side.

    python scripts/bench_data_loader.py [--rounds 6] [--images 256] [--batch 32] [--size 32] [--only guarded]

One folder of ``--images`` good 32x32 PNGs (2 classes) in a temporary directory, read the way the
``folder`` data set does (resize, ToTensor, normalise) one epoch at a time with the trainer's batch
sampler. The readers take turns, ``--rounds`` epochs each, so that load from other processes hits
them alike; every epoch builds a new loader (as every epoch of the trainer does). Prints the median
epoch time, its ratio to ``paddle.io.DataLoader`` with the same number of workers, and the epochs
that failed (an exception or a dead worker: no data is bad here). A loader that delivers no batch for
``--hang-seconds`` is reported as hung with the table so far, and the benchmark exits (code 3).
"""
# zlib before paddle: see paddle_optim/__init__.py.
import zlib  # noqa: F401

import argparse
import os
import statistics
import tempfile
import threading
import time

import numpy as np
import paddle
from PIL import Image

from paddle_optim.data.folder import image_folder
from paddle_optim.data.loader import iterate_batches
from paddle_optim.data.sampler import EpochBatchSampler
from paddle_optim.data.transforms import build_transforms, default_transforms


def make_folder(root: str, images: int, size: int) -> None:
    for i in range(images):
        folder = os.path.join(root, "ab"[i % 2])
        os.makedirs(folder, exist_ok=True)
        pixels = np.random.RandomState(i).randint(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"{i}.png"))


def paddle_loader(dataset, sampler, num_workers):
    return paddle.io.DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, return_list=True)


READERS = [
    ("paddle.io.DataLoader, num_workers 0", paddle_loader, 0),
    ("guarded, in this process (num_workers 0)", iterate_batches, 0),
    ("paddle.io.DataLoader, num_workers 2", paddle_loader, 2),
    ("guarded workers (num_workers 2)", iterate_batches, 2),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (also the resize)")
    parser.add_argument("--hang-seconds", type=float, default=60, help="an epoch not read by then is 'hung'")
    parser.add_argument("--only", choices=("all", "guarded"), default="all",
                        help="guarded: only paddle-optim's readers (no ratios), e.g. where Paddle's loader hangs")
    args = parser.parse_args()
    readers = [r for r in READERS if args.only == "all" or r[1] is iterate_batches]
    with tempfile.TemporaryDirectory() as root:
        make_folder(root, args.images, args.size)
        dataset = image_folder(root, build_transforms(default_transforms([args.size] * 2, [0.5] * 3, [0.5] * 3)))
        times = {name: [] for name, _, _ in READERS}
        failures = dict.fromkeys(times, 0)
        for epoch in range(args.rounds):
            for name, reader, workers in readers:
                sampler = EpochBatchSampler(dataset, args.batch, seed=0)
                sampler.set_epoch(epoch)
                # A loader that never delivers its next batch blocks in C++; the table so far is printed.
                watchdog = threading.Timer(args.hang_seconds, hung, (args, times, failures, name, epoch))
                watchdog.daemon = True
                watchdog.start()
                start = time.perf_counter()
                try:
                    batches = sum(1 for _ in reader(dataset, sampler, workers))
                    assert batches == len(sampler)
                except Exception as err:  # the failure is what is counted
                    failures[name] += 1
                    print(f"epoch {epoch} {name}: {type(err).__name__}: {str(err).strip().splitlines()[0][:150]}")
                    continue
                finally:
                    watchdog.cancel()
                times[name].append(time.perf_counter() - start)
    table(args, times, failures)


def hung(args, times, failures, name, epoch) -> None:
    print(f"epoch {epoch} {name}: HUNG (no batch for {args.hang_seconds:.0f} s); the table so far:", flush=True)
    failures[name] += 1
    table(args, times, failures)
    os._exit(3)


def table(args, times, failures) -> None:
    print(f"\n{args.images} images {args.size}x{args.size}, batch {args.batch}, {args.rounds} epochs per reader, Paddle "
          f"{paddle.__version__}\n")
    print("| reader | median ms / epoch | ratio | failed epochs |")
    print("|---|---:|---:|---:|")
    for name, _, workers in READERS:
        if not times[name] and not failures[name]:
            continue  # not run (--only)
        baseline = times[f"paddle.io.DataLoader, num_workers {workers}"]
        median = statistics.median(times[name]) * 1e3 if times[name] else float("nan")
        base = statistics.median(baseline) * 1e3 if baseline else float("nan")
        ratio = f"{median / base:.2f}x" if baseline else "-"
        print(f"| {name} | {median:.1f} | {ratio} | {failures[name]} of {len(times[name]) + failures[name]} |", flush=True)


if __name__ == "__main__":
    main()
