"""The evidence behind ``Optimizer.evaluate_on``'s default: Lookahead and Ranger evaluated on their fast and on
their slow weights, on the two built-in compare tasks, several seeds (the README table).

Runs ``paddle-optim compare`` once per task and setting (``-o Optimizer.evaluate_on=fast|slow``; a rerun skips
the finished cells), then prints one markdown row per task x optimizer x learning rate: best and final
validation top-1 (mean ± std over seeds) of each setting and the paired difference slow - fast per seed.
Training does not depend on the setting (same seed, bit-identical fast weights: tests/training/test_evaluate_on.py),
so each pair differs only in the weights that were evaluated.

    python scripts/evaluate_on_evidence.py [--seeds 5] [--jobs 2] [--out runs/evaluate_on]
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys

TASKS = [  # (name, config, overrides, learning rates): the README compare sweeps' configs, near their best lrs
    ("quickstart", "configs/quickstart.yaml",
     ["-o", "LRScheduler.eta_min=1.0e-6", "-o", "LRScheduler.warmup.start_lr=null"], "0.1,0.03"),
    ("deep_mlp", "configs/compare/deep_mlp.yaml", [], "0.03"),
]
SETTINGS = ("fast", "slow")
OPTIMIZERS = "Lookahead,Ranger"


def sweep(task, setting, args):
    name, config, overrides, lrs = task
    out = os.path.join(args.out, f"{name}_{setting}")
    subprocess.run([sys.executable, "-m", "paddle_optim", "compare", "-c", config, *overrides,
                    "-o", f"Optimizer.evaluate_on={setting}", "--optimizers", OPTIMIZERS, "--lr", lrs,
                    "--seeds", str(args.seeds), "--jobs", str(args.jobs), "--out", out], check=True)
    with open(os.path.join(out, "results.csv"), newline="") as fh:
        return {(r["optimizer"], float(r["learning_rate"]), int(r["seed"])): r for r in csv.DictReader(fh)
                if r["status"] == "finished"}


def mean_std(values):
    if not values:
        return "–"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.4f}"


def rows(task, results):
    fast, slow = results["fast"], results["slow"]
    for optimizer, lr in sorted({(o, lr) for o, lr, _ in fast}, key=lambda k: (k[0], -k[1])):
        seeds = sorted(s for o, r, s in fast if (o, r) == (optimizer, lr) and (o, r, s) in slow)
        metric = {(m, setting): [float(results[setting][(optimizer, lr, s)][f"{m}_metric"]) for s in seeds]
                  for m in ("best", "final") for setting in SETTINGS}
        diff = [b - a for a, b in zip(metric["final", "fast"], metric["final", "slow"])]
        wins = f"{sum(d > 0 for d in diff)} / {sum(d == 0 for d in diff)} / {sum(d < 0 for d in diff)}"
        yield (f"| {task[0]} | {optimizer} | {lr:g} | {len(seeds)} | {mean_std(metric['best', 'fast'])} | "
               f"{mean_std(metric['best', 'slow'])} | {mean_std(metric['final', 'fast'])} | "
               f"{mean_std(metric['final', 'slow'])} | {mean_std(diff)} | {wins} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="runs/evaluate_on")
    args = parser.parse_args()
    table = ["| task | optimizer | lr | seeds | best top1, fast | best top1, slow | final top1, fast | final top1, slow "
             "| final slow − fast (paired) | seeds slow > / = / < fast |", "|---|---|---:|---:|---|---|---|---|---|---|"]
    for task in TASKS:
        table += rows(task, {setting: sweep(task, setting, args) for setting in SETTINGS})
    print("\n".join(table))


if __name__ == "__main__":
    main()
