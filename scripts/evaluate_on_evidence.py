"""The evidence behind ``Optimizer.evaluate_on``'s default: Lookahead and Ranger evaluated on their fast and on
their slow weights, on the two built-in compare tasks, several seeds (the README table).

Runs ``paddle-optim compare`` once per task and setting (``-o Optimizer.evaluate_on=fast|slow``; a rerun skips
the finished cells), then prints one markdown row per task x optimizer x learning rate: best and final
validation top-1 (mean ± std over seeds) of each setting, and the paired differences slow - fast per seed of
both and of the final evaluation loss (with how many seeds are above / equal to / below zero).
Training does not depend on the setting (same seed, bit-identical fast weights: tests/training/test_evaluate_on.py),
so each pair differs only in the weights that were evaluated.

    python scripts/evaluate_on_evidence.py [--seeds 5] [--jobs 2] [--out runs/evaluate_on]
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

QUICKSTART = ("configs/quickstart.yaml", ["-o", "LRScheduler.eta_min=1.0e-6", "-o", "LRScheduler.warmup.start_lr=null"])
DEEP_MLP = ("configs/compare/deep_mlp.yaml", [])
# Both tasks have 45 steps per epoch, a multiple of compare's Lookahead k = 5: every evaluation falls on a
# synchronisation (fast = slow) and the setting cannot matter. Ranger's k = 6 meets every second epoch end;
# Lookahead with k = 7 (45 = 6 x 7 + 3) is evaluated 3, 6, 2, 5, ... steps after a synchronisation.
LOOKAHEAD_K7 = "{name: Lookahead, learning_rate: 0.1, k: 7, alpha: 0.5, inner: {name: Momentum, momentum: 0.9}%s}"
SWEEPS = [  # (name, task name, config, overrides, --optimizers, --lr): near each optimizer's best lr on the task
    ("quickstart", "quickstart", *QUICKSTART, "Lookahead,Ranger", "0.1,0.03"),
    ("deep_mlp", "deep_mlp", *DEEP_MLP, "Lookahead,Ranger", "0.03"),
    ("quickstart_k7", "quickstart", QUICKSTART[0], QUICKSTART[1] + ["-o", "Optimizer=" + LOOKAHEAD_K7 % (
        ", weight_decay: 0.0005, grad_clip: {name: ClipGradByGlobalNorm, clip_norm: 10}")], "Lookahead", "0.1"),
    ("deep_mlp_k7", "deep_mlp", DEEP_MLP[0], ["-o", "Optimizer=" + LOOKAHEAD_K7 % ""], "Lookahead", "0.03"),
]
SETTINGS = ("fast", "slow")


def sweep(spec, setting, args):
    name, _, config, overrides, optimizers, lrs = spec
    out = os.path.join(args.out, f"{name}_{setting}")
    subprocess.run([sys.executable, "-m", "paddle_optim", "compare", "-c", config, *overrides,
                    "-o", f"Optimizer.evaluate_on={setting}", "--optimizers", optimizers, "--lr", lrs,
                    "--seeds", str(args.seeds), "--jobs", str(args.jobs), "--out", out], check=True)
    with open(os.path.join(out, "results.csv"), newline="") as fh:
        return {(r["optimizer"], float(r["learning_rate"]), int(r["seed"])): r for r in csv.DictReader(fh)
                if r["status"] == "finished"}


def mean_std(values, fmt="{:.4f}"):
    if not values:
        return "–"
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values) if len(values) > 1 else 0.0)}"


def final_loss(row):
    with open(os.path.join(row["run_dir"], "metrics.json"), encoding="utf-8") as fh:
        return json.load(fh)["final_metrics"]["loss"]


def mean_eval_loss(row):
    """The evaluation loss averaged over every evaluation of the run (mid-training ones included)."""
    with open(os.path.join(row["run_dir"], "eval_log.csv"), newline="") as fh:
        return statistics.mean(float(r["loss"]) for r in csv.DictReader(fh))


def paired(fast, slow, fmt="{:.4f}"):
    """Mean ± std of slow - fast over the seeds, and how many seeds are above / equal / below."""
    diff = [b - a for a, b in zip(fast, slow)]
    return f"{mean_std(diff, fmt)} ({sum(d > 0 for d in diff)} / {sum(d == 0 for d in diff)} / {sum(d < 0 for d in diff)})"


def rows(spec, results):
    fast, slow = results["fast"], results["slow"]
    for optimizer, lr in sorted({(o, lr) for o, lr, _ in fast}, key=lambda k: (k[0], -k[1])):
        seeds = sorted(s for o, r, s in fast if (o, r) == (optimizer, lr) and (o, r, s) in slow)
        runs = {setting: [results[setting][(optimizer, lr, s)] for s in seeds] for setting in SETTINGS}
        value = {(m, setting): [float(r[f"{m}_metric"]) for r in runs[setting]] for m in ("best", "final")
                 for setting in SETTINGS}
        loss = {setting: [final_loss(r) for r in runs[setting]] for setting in SETTINGS}
        every = {setting: [mean_eval_loss(r) for r in runs[setting]] for setting in SETTINGS}
        k = " (k 7)" if spec[0].endswith("_k7") else " (k 5)" if optimizer == "Lookahead" else ""
        yield (f"| {spec[1]} | {optimizer}{k} | {lr:g} | {len(seeds)} | {mean_std(value['best', 'fast'])} | "
               f"{mean_std(value['best', 'slow'])} | {paired(value['best', 'fast'], value['best', 'slow'])} | "
               f"{mean_std(value['final', 'fast'])} | {mean_std(value['final', 'slow'])} | "
               f"{paired(value['final', 'fast'], value['final', 'slow'])} | {paired(loss['fast'], loss['slow'], '{:.1e}')} | "
               f"{paired(every['fast'], every['slow'], '{:.1e}')} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="runs/evaluate_on")
    args = parser.parse_args()
    table = ["| task | optimizer | lr | seeds | best top1, fast | best top1, slow | best: slow − fast (> / = / <) "
             "| final top1, fast | final top1, slow | final: slow − fast (> / = / <) | final eval loss: slow − fast "
             "| eval loss, mean over all evaluations: slow − fast |", "|---|---|---:|---:|---|---|---|---|---|---|---|---|"]
    for spec in SWEEPS:
        table += rows(spec, {setting: sweep(spec, setting, args) for setting in SETTINGS})
    print("\n".join(table))


if __name__ == "__main__":
    main()
