#!/usr/bin/env python
"""Trainer overhead and the quickstart result, measured in one run.

1. ``paddle_optim train`` on a config vs a bare hand-written Paddle loop on the same model, data,
   optimizer, schedule and batch size (no evaluation, no logging, no checkpoints in the bare loop).
   Short runs are measured in pairs (alternating which side goes first) and the median of the
   per-pair ratios is reported, which keeps the drifting load of a shared machine out of the ratio.
   The trainer is timed twice:
   its training phase (``metrics.json`` ``samples_per_second``: what the step loop costs) and the
   whole run including per-epoch evaluation, checkpoints, CSV/VisualDL logging and ``curves.png``.
2. A conv net on image files: ResNet-18 (``paddle.vision.models.resnet18``) on a folder of PNGs
   written into a temporary directory, 2 ``DataLoader`` workers, ``paddle_optim train`` vs
   ``paddle.Model.fit`` on the same images, transforms, batch size, optimizer and shuffling (in pairs,
   alternating, like 1). Both sides' samples/s cover their training only (no evaluation, no saving).
3. The quickstart's validation top-1 and training seconds (target: >= 0.97 in < 60 s on 2 CPU cores).

Usage::

    python scripts/bench_trainer.py [--config configs/quickstart.yaml] [--repeats 15] [--overhead-epochs 5] [--full-runs 2]
                                    [--conv-pairs 3] [--conv-epochs 2] [--conv-images 384]
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
import yaml
from PIL import Image

from paddle_optim.data import build_datasets
from paddle_optim.data.folder import image_folder
from paddle_optim.data.transforms import build_transforms, default_transforms
from paddle_optim.models import build_model
from paddle_optim.sections import load_resolved_config
from paddle_optim.training.command import run_training


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
    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in range(g["epochs"]):
        order = np.random.RandomState(epoch).permutation(len(y_all))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            loss = loss_fn(model(paddle.to_tensor(x_all[idx])), paddle.to_tensor(y_all[idx]))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            lr.step()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    samples = len(y_all) * g["epochs"]
    return samples / seconds, samples / cpu_seconds


#: The conv-net comparison: image side, classes, batch, DataLoader workers, optimizer (both sides).
CONV = {"size": 32, "classes": 4, "batch": 32, "workers": 2, "lr": 0.01, "momentum": 0.9}


def png_folder(root: str, images: int, seed: int) -> None:
    """``root/<class>/<n>.png``: ``images`` RGB images of CONV["size"] pixels, a brightness gradient
    whose direction is the class, plus noise (learnable, and PNG decoding costs what it does for photos)."""
    rng = np.random.RandomState(seed)
    side, classes = CONV["size"], CONV["classes"]
    ramp = np.linspace(0, 1, side, dtype=np.float32)
    patterns = [np.add.outer(ramp * np.cos(a), ramp * np.sin(a)) for a in np.linspace(0, np.pi, classes, endpoint=False)]
    for n in range(images):
        label = n % classes
        pixels = patterns[label][..., None] * 160 + rng.randint(0, 96, size=(side, side, 3))
        os.makedirs(os.path.join(root, f"class_{label}"), exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(os.path.join(root, f"class_{label}", f"{n}.png"))


def conv_config(root: str, epochs: int) -> str:
    """A trainer config for the PNG folders under ``root`` (evaluated once at the end, nothing saved)."""
    config = {
        "Global": {"epochs": epochs, "seed": 0, "device": "cpu", "eval_interval": epochs, "log_interval": 10},
        "Data": {"dataset": {"name": "folder", "train_dir": os.path.join(root, "train"), "val_dir": os.path.join(root, "val"),
                             "image_size": [CONV["size"]] * 2},
                 "batch_size": CONV["batch"], "num_workers": CONV["workers"]},
        "Model": {"name": "resnet18"},
        "Optimizer": {"name": "Momentum", "learning_rate": CONV["lr"], "momentum": CONV["momentum"]},
        "Checkpoint": {"save_interval": 0, "save_best": False},
    }
    path = os.path.join(root, "resnet18.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return path


def model_fit(root: str, epochs: int):
    """Samples/s of ``paddle.Model.fit`` on the same images, transforms, model, optimizer and batch:
    per wall-clock second and per CPU second of this process (the workers decode the PNGs)."""
    paddle.seed(0)
    data = image_folder(os.path.join(root, "train"), build_transforms(default_transforms([CONV["size"]] * 2, [0.5] * 3, [0.5] * 3)))
    model = paddle.Model(paddle.vision.models.resnet18(num_classes=CONV["classes"]))
    model.prepare(paddle.optimizer.Momentum(learning_rate=CONV["lr"], momentum=CONV["momentum"],
                                            parameters=model.parameters()), paddle.nn.CrossEntropyLoss())
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(data, batch_size=CONV["batch"], epochs=epochs, shuffle=True, num_workers=CONV["workers"], verbose=0)
    samples = len(data) * epochs
    return samples / (time.perf_counter() - start), samples / (time.process_time() - cpu_start)


def conv_rows(pairs: int, epochs: int, images: int):
    """([(wall, CPU) samples/s of Model.fit], [(wall, CPU) samples/s of the trainer]), one per pair, on
    one temporary PNG folder."""
    fit, ours = [], []
    with tempfile.TemporaryDirectory() as root:
        png_folder(os.path.join(root, "train"), images, seed=0)
        png_folder(os.path.join(root, "val"), 4 * CONV["classes"], seed=1)
        path = conv_config(root, epochs)
        for i in range(pairs):
            if i % 2 == 0:
                fit.append(model_fit(root, epochs))
            ours.append(trainer(path, [])[0])
            if i % 2 == 1:
                fit.append(model_fit(root, epochs))
    return fit, ours


def ratio_cell(values, base) -> str:
    """Median of the per-pair ratios, with the quartiles."""
    ratios = [v / b for v, b in zip(values, base)]
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return f"{statistics.median(ratios):.2f} ({q[0]:.2f}-{q[2]:.2f})"


def trainer(config_path, overrides):
    """(training-phase samples/s: wall and CPU, whole-run samples/s, metrics) of `paddle_optim train`."""
    with tempfile.TemporaryDirectory() as out:
        config = load_resolved_config(config_path, list(overrides) + [f"Global.output_dir={out}"])
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            _, metrics = run_training(config, None)
        wall = time.perf_counter() - start
    samples = metrics["samples_per_second"] * metrics["train_seconds"]
    return (metrics["samples_per_second"], samples / metrics["train_cpu_seconds"]), samples / wall, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "..", "configs", "quickstart.yaml"))
    parser.add_argument("--repeats", type=int, default=15, help="overhead pairs (bare, trainer)")
    parser.add_argument("--overhead-epochs", type=int, default=5, help="epochs of each overhead run")
    parser.add_argument("--full-runs", type=int, default=2, help="complete runs of the config for its accuracy")
    parser.add_argument("--conv-pairs", type=int, default=3, help="ResNet-18 pairs (paddle.Model.fit, trainer); 0: skip")
    parser.add_argument("--conv-epochs", type=int, default=2, help="epochs of each ResNet-18 run")
    parser.add_argument("--conv-images", type=int, default=384, help="training PNGs of the ResNet-18 runs")
    args = parser.parse_args()
    overrides = ["Global.device=cpu"]
    short = overrides + [f"Global.epochs={args.overhead_epochs}"]
    config = load_resolved_config(args.config, short)
    bare, bare_cpu, loop_sps, loop_cpu, whole_sps = [], [], [], [], []
    for i in range(args.repeats):
        # Short runs in pairs, alternating which goes first, so that the load of a shared machine
        # (which drifts over seconds) hits both sides of a pair alike; pairs are compared one by one.
        # CPU time (process_time, all threads) is barely touched by other processes' load at all.
        first_bare = i % 2 == 0
        if first_bare:
            wall, cpu = bare_loop(config)
        (a, a_cpu), b, _ = trainer(args.config, short)
        if not first_bare:
            wall, cpu = bare_loop(config)
        bare.append(wall)
        bare_cpu.append(cpu)
        loop_sps.append(a)
        loop_cpu.append(a_cpu)
        whole_sps.append(b)
    med = statistics.median
    print(f"paddle {paddle.__version__}, {os.cpu_count()} CPU cores; {args.repeats} pairs of {args.overhead_epochs}-epoch runs "
          f"on {config['Data']['dataset']['name']} (batch {config['Data']['batch_size']}, {config['Model']['name']} "
          f"{config['Model'].get('hidden_sizes', '')}, {config['Optimizer']['name']})")
    print("| loop | samples/s (median) | ratio to the bare loop (median of pairs, quartiles) |")
    print("|---|---|---|")
    print(f"| bare hand-written Paddle loop | {med(bare):.0f} | 1.00 |")
    for label, values, base in (("paddle_optim train, training phase (wall clock)", loop_sps, bare),
                                ("paddle_optim train, training phase (per CPU second)", loop_cpu, bare_cpu),
                                ("paddle_optim train, whole run (eval, checkpoints, logs; wall)", whole_sps, bare)):
        print(f"| {label} | {med(values):.0f} | {ratio_cell(values, base)} |")
    if args.conv_pairs:
        fit, ours = conv_rows(args.conv_pairs, args.conv_epochs, args.conv_images)
        print(f"\nResNet-18 on {args.conv_images} PNGs of {CONV['size']}x{CONV['size']} ({CONV['classes']} classes), batch "
              f"{CONV['batch']}, {CONV['workers']} DataLoader workers, Momentum; {args.conv_pairs} pairs of "
              f"{args.conv_epochs}-epoch runs")
        print("| loop | samples/s (median) | ratio to paddle.Model.fit (median of pairs, quartiles) |")
        print("|---|---|---|")
        for k, unit in enumerate(("wall clock", "per CPU second of the main process")):
            base, values = [f[k] for f in fit], [o[k] for o in ours]
            print(f"| paddle.Model.fit ({unit}) | {med(base):.0f} | 1.00 |")
            print(f"| paddle_optim train, training phase ({unit}) | {med(values):.0f} | {ratio_cell(values, base)} |")
    if not args.full_runs:
        return
    runs = [trainer(args.config, overrides)[2] for _ in range(args.full_runs)]
    best = [m["best_metric"] for m in runs]
    final = [m["final_metric"] for m in runs]
    seconds = [m["train_seconds"] for m in runs]
    print(f"{os.path.basename(args.config)} ({runs[0]['epochs']} epochs, {runs[0]['global_step']} steps), {args.full_runs} runs: "
          f"validation top-1 best {min(best):.4f}-{max(best):.4f}, final {min(final):.4f}-{max(final):.4f}, "
          f"training {min(seconds):.1f}-{max(seconds):.1f} s")


if __name__ == "__main__":
    main()
