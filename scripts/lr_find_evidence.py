"""The README's lr-find evidence: the finder's suggestions against the best learning rate of a
``compare`` sweep of the same config and optimizer, on two built-in tasks.

    python scripts/lr_find_evidence.py [--out runs/lr_find_evidence] [--seeds 2]

1. ``compare`` of Momentum, AdamW, RAdam, Ranger x 8 learning rates (1 seed, the config's schedule);
   a finished sweep is reused (compare skips finished cells).
2. ``lr-find`` of the same config and optimizer section (the one compare's cell uses; the finder
   drops the schedule), default range 1e-7 .. 10 in 100 steps, ``--seeds`` seeds.
3. ``train`` at the first seed's valley suggestion (the config's schedule, as compare trains).
4. A Markdown table: compare's best lr and the lrs within 1 point of its final top-1, each
   suggestion (one value per seed, marked when inside that range), and the top-1 trained at the valley.
Every command is printed before it runs.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

from paddle_optim.compare.grid import optimizer_section

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OPTIMIZERS = ("Momentum", "AdamW", "RAdam", "Ranger")
LRS = "0.3,0.2,0.1,0.05,0.02,0.01,0.005,0.002"
# The quickstart's eta_min and warmup start_lr are absolute values that only fit its own lr (as in
# scripts/compare_evidence.sh); the finder drops the schedule anyway.
TASKS = (("quickstart", "configs/quickstart.yaml", ["LRScheduler.eta_min=1.0e-6", "LRScheduler.warmup.start_lr=null"]),
         ("deep_mlp", "configs/compare/deep_mlp.yaml", []))
METHODS = ("steepest", "valley", "min/10")


def run(cmd, capture=False):
    print("$ " + shlex.join(cmd), flush=True)
    if capture:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc.stdout
    subprocess.run(cmd, cwd=ROOT, check=True)
    return ""


def suggestions(text):
    found = {}
    for method in METHODS:
        m = re.search(rf"^  {re.escape(method)}\s+(lr ([0-9.e+-]+)|none)", text, re.M)
        found[method] = float(m.group(2)) if m and m.group(2) else None
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "lr_find_evidence"))
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    py = [sys.executable, "-m", "paddle_optim"]
    table = ["| task | optimizer | compare: best lr (final top-1) | lr within 1 point | "
             + " | ".join(METHODS) + " | top-1 trained at the valley |", "|---" * (5 + len(METHODS)) + "|"]
    for task, config, overrides in TASKS:
        sweep_dir = os.path.join(args.out, f"compare_{task}")
        opts = [a for o in overrides for a in ("-o", o)]
        run(py + ["compare", "-c", config] + opts + ["--optimizers", ",".join(OPTIMIZERS), "--lr", LRS,
                                                    "--seeds", "1", "--jobs", "1", "--out", sweep_dir])
        with open(os.path.join(sweep_dir, "results.json"), encoding="utf-8") as fh:
            summary = json.load(fh)
        with open(os.path.join(ROOT, config), encoding="utf-8") as fh:
            base = yaml.safe_load(fh)
        seed = base["Global"]["seed"]
        for name in OPTIMIZERS:
            best = next(o for o in summary["optimizers"] if o["optimizer"] == name)
            final = next(s["final_metric"]["mean"] for s in summary["settings"]
                         if s["optimizer"] == name and s["learning_rate"] == best["best_learning_rate"])
            low, high = best["lr_within_one_point"]
            # compare's own cell section (JSON is YAML: `-o` reads it back exactly)
            section = json.dumps(optimizer_section(base["Optimizer"], name, base["Optimizer"]["learning_rate"]))
            found = []
            for s in range(args.seeds):
                out = os.path.join(args.out, f"{task}_{name}_seed{seed + s}.png")
                text = run(py + ["lr-find", "-c", config] + opts + ["-o", f"Optimizer={section}",
                                                                    "-o", f"Global.seed={seed + s}", "--out", out],
                           capture=True)
                print(text, flush=True)
                found.append(suggestions(text))
            cells = []
            for method in METHODS:
                values = [f[method] for f in found]
                inside = [v is not None and low * 0.999 <= v <= high * 1.001 for v in values]
                cells.append(" / ".join("–" if v is None else f"{v:.2g}{' ✓' if ok else ''}"
                                        for v, ok in zip(values, inside)))
            trained = "–"
            if found[0]["valley"] is not None:
                valley = float(f"{found[0]['valley']:.3g}")  # as printed by `use: -o ...`
                run_dir = os.path.join(args.out, f"train_{task}_{name}")
                cell = json.dumps(optimizer_section(base["Optimizer"], name, valley))
                run(py + ["train", "-c", config] + opts + ["-o", f"Optimizer={cell}", "-o",
                                                           f"Global.output_dir={run_dir}"], capture=True)
                with open(os.path.join(run_dir, "metrics.json"), encoding="utf-8") as fh:
                    trained = f"{json.load(fh)['final_metric']:.4f} (lr {valley:g})"
            table.append(f"| {task} | {name} | {best['best_learning_rate']:g} ({final:.4f}) | "
                         f"{low:g} – {high:g} | " + " | ".join(cells) + f" | {trained} |")
    print("\n".join(table))
    with open(os.path.join(args.out, "table.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
