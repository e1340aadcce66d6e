#!/usr/bin/env python
"""Trainer overhead and the quickstart result, measured in one run.

1. ``paddle_optim train`` on a config vs a bare hand-written Paddle loop on the same model, data,
   optimizer, schedule and batch size (no evaluation, no logging, no checkpoints in the bare loop).
   Runs alternate (``--repeats`` each) and the medians are compared; the trainer is timed twice:
   its training phase (``metrics.json`` ``samples_per_second``: what the step loop costs) and the
   whole run including per-epoch evaluation, checkpoints, CSV/VisualDL logging and ``curves.png``.
2. The quickstart's validation top-1 and training seconds (target: >= 0.97 in < 60 s on 2 CPU cores).

Usage::

    python scripts/bench_trainer.py [--config configs/quickstart.yaml] [--repeats 3] [--epochs N]
"""
import zlib  # noqa: F401  (before paddle)
import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time

import numpy as np
import paddle

from paddle_optim.data import build_datasets
from paddle_optim.models import build_model
from paddle_optim.training.runner import prepare, run_training


def bare_loop(config) -> float:
    """Samples/s of a plain Paddle loop: Momentum + LinearWarmup(CosineAnnealingDecay), L2 on weights only."""
    g, data, opt = config["Global"], config["Data"], config["Optimizer"]
    paddle.seed(g["seed"])
    train_set, _, info = build_datasets(data)
    model = build_model(config["Model"], info)
    batch = data["batch_size"]
    steps_per_epoch = -(-len(train_set) // batch)
    total = steps_per_epoch * g["epochs"]
    lr = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.CosineAnnealingDecay(opt["learning_rate"], T_max=total - steps_per_epoch, eta_min=5e-4),
        warmup_steps=steps_per_epoch, start_lr=opt["learning_rate"] / 10, end_lr=opt["learning_rate"])
    weights = [p for p in model.parameters() if len(p.shape) > 1]
    others = [p for p in model.parameters() if len(p.shape) <= 1]
    optimizer = paddle.optimizer.Momentum(
        learning_rate=lr, momentum=opt["momentum"],
        parameters=[{"params": weights, "weight_decay": opt["weight_decay"]}, {"params": others, "weight_decay": 0.0}],
        grad_clip=paddle.nn.ClipGradByGlobalNorm(10.0))
    loss_fn = paddle.nn.CrossEntropyLoss()
    x_all, y_all = train_set.x, train_set.y
    model.train()
    start = time.perf_counter()
    for epoch in range(g["epochs"]):
        order = np.random.RandomState(epoch).permutation(len(y_all))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            loss = loss_fn(model(paddle.to_tensor(x_all[idx])), paddle.to_tensor(y_all[idx]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            lr.step()
    seconds = time.perf_counter() - start
    return len(y_all) * g["epochs"] / seconds


def trainer(config_path, overrides):
    """(training-phase samples/s, whole-run samples/s, metrics) of `paddle_optim train`."""
    with tempfile.TemporaryDirectory() as out:
        config = prepare(config_path, list(overrides) + [f"Global.output_dir={out}"])
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            _, metrics = run_training(config, None)
        wall = time.perf_counter() - start
    samples = metrics["samples_per_second"] * metrics["train_seconds"]
    return metrics["samples_per_second"], samples / wall, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs", "quickstart.yaml"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    overrides = ["Global.device=cpu"] + ([f"Global.epochs={args.epochs}"] if args.epochs else [])
    config = prepare(args.config, overrides)
    bare, loop_sps, whole_sps, runs = [], [], [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(config))
        a, b, metrics = trainer(args.config, overrides)
        loop_sps.append(a)
        whole_sps.append(b)
        runs.append(metrics)
    med = statistics.median
    print(f"paddle {paddle.__version__}, {os.cpu_count()} CPU cores, {args.repeats} alternating runs each, "
          f"{config['Global']['epochs']} epochs of {config['Data']['dataset']['name']} "
          f"(batch {config['Data']['batch_size']}, {config['Model']['name']} {config['Model'].get('hidden_sizes', '')}, "
          f"{config['Optimizer']['name']})")
    print("| loop | samples/s (median) | ratio to bare loop |")
    print("|---|---|---|")
    print(f"| bare hand-written Paddle loop | {med(bare):.0f} | 1.00 |")
    print(f"| paddle_optim train, training phase | {med(loop_sps):.0f} | {med(loop_sps) / med(bare):.2f} |")
    print(f"| paddle_optim train, whole run (eval, checkpoints, logs) | {med(whole_sps):.0f} | "
          f"{med(whole_sps) / med(bare):.2f} |")
    best = [m["best_metric"] for m in runs]
    final = [m["final_metric"] for m in runs]
    seconds = [m["train_seconds"] for m in runs]
    print(f"quickstart: validation top-1 best {min(best):.4f}-{max(best):.4f}, final {min(final):.4f}-{max(final):.4f}, "
          f"training {min(seconds):.1f}-{max(seconds):.1f} s")


if __name__ == "__main__":
    main()
