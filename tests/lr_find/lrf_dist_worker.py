"""One rank of the distributed lr-find test (run by paddle.distributed.launch): the sweep of CONFIG,
then ``DUMP/rank<r>.npz`` with the learning rate every step applied (read back from the optimizer),
the curve, the stop reason and the final weights."""
import zlib  # noqa: F401  (before paddle)
import sys

import numpy as np

from paddle_optim.lr_find.curve import learning_rates
from paddle_optim.lr_find.sweep import finder_config, sweep
from paddle_optim.training import distributed
from paddle_optim.training.loop import Run
from paddle_optim.sections import load_resolved_config

config_path, dump = sys.argv[1], sys.argv[2]
config = load_resolved_config(config_path, [])
world = distributed.setup("cpu")
lrs = learning_rates(1e-4, 10.0, 30)
run = Run(finder_config(config, lrs[0]), world)
applied = []
result = sweep(run, lrs, 5, 4.0, lambda i, lr, loss: applied.append(run.optimizer.get_lr()))
weights = {f"w_{k}": v.numpy() for k, v in run.model.state_dict().items()}
np.savez(f"{dump}/rank{world.rank}.npz", applied=np.array(applied), losses=np.array(result.losses),
         stop=np.array(result.stop or ""), **weights)
