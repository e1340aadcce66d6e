#!/usr/bin/env bash
# The optimizer sweeps behind the README's "compare" evidence, on the two built-in tasks:
#   configs/quickstart.yaml          the digits MLP of the quickstart (Momentum + warmup + cosine)
#   configs/compare/deep_mlp.yaml    the digits through a 10-hidden-layer ReLU MLP without normalisation
# 6 optimizers x 6 learning rates x 3 seeds = 108 runs per task, 2 at a time (a few minutes each on
# 2 CPU cores). Re-running skips the finished runs. The plots are copied to docs/images/.
# Usage: bash scripts/compare_evidence.sh [python]   (default: python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python}
# The quickstart's eta_min (5e-4) and warmup start_lr (5e-3) are absolute learning rates that only fit
# its own 0.05; for the sweep they become 1e-6 and the default Optimizer.learning_rate / 100.
for task in "quickstart|configs/quickstart.yaml|-o LRScheduler.eta_min=1.0e-6 -o LRScheduler.warmup.start_lr=null" \
            "deep_mlp|configs/compare/deep_mlp.yaml|"; do
    IFS='|' read -r name config overrides <<<"$task"
    # shellcheck disable=SC2086  # $overrides is a list of words
    "$PY" -m paddle_optim compare -c "$config" $overrides --optimizers SGD,Momentum,Adam,AdamW,RAdam,Ranger \
        --lr 0.3,0.1,0.03,0.01,0.003,0.001 --seeds 3 --jobs 2 --out "runs/compare_$name"
    mkdir -p docs/images
    for plot in sensitivity loss_curves schedules; do
        cp "runs/compare_$name/$plot.png" "docs/images/compare_${name}_$plot.png"
    done
done
