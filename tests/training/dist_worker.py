"""One rank of the 2-process test: train CONFIG, then save this rank's weights to DIR/rank<r>.npz and
its evaluation of the trained weights, sharded over the ranks and by this process alone, to
DIR/rank<r>_eval.json.

Run by ``paddle.distributed.launch`` (a script, so absolute imports; zlib before paddle).
"""
import zlib  # noqa: F401
import json
import os
import sys

import numpy as np

from paddle_optim.sections import load_resolved_config
from paddle_optim.training.command import run_training
from paddle_optim.training.distributed import World
from paddle_optim.training.evaluate import evaluate

if __name__ == "__main__":
    config_path, out_dir = sys.argv[1], sys.argv[2]
    run, _ = run_training(load_resolved_config(config_path, []), None)
    weights = {k: v.numpy() for k, v in run.model.state_dict().items()}
    np.savez(os.path.join(out_dir, f"rank{run.world.rank}.npz"), **weights)
    batch = run.config["Data"]["eval_batch_size"]
    evaluations = {name: evaluate(run.model, run.val_set, batch, run.loss_fn, run.metrics, run.amp, world)
                   for name, world in (("ranks", run.world), ("one_process", World(0, 1, run.world.device)))}
    with open(os.path.join(out_dir, f"rank{run.world.rank}_eval.json"), "w") as fh:
        json.dump(evaluations, fh)
