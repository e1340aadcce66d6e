"""One rank of the 2-process test: train CONFIG, then save this rank's weights to DIR/rank<r>.npz.

Run by ``paddle.distributed.launch`` (a script, so absolute imports; zlib before paddle).
"""
import zlib  # noqa: F401
import os
import sys

import numpy as np

from paddle_optim.sections import load_resolved_config
from paddle_optim.training.command import run_training

if __name__ == "__main__":
    config_path, out_dir = sys.argv[1], sys.argv[2]
    run, _ = run_training(load_resolved_config(config_path, []), None)
    weights = {k: v.numpy() for k, v in run.model.state_dict().items()}
    np.savez(os.path.join(out_dir, f"rank{run.world.rank}.npz"), **weights)
