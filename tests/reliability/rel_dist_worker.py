"""One rank of the distributed reliability tests (run by ``paddle.distributed.launch``)::

    rel_dist_worker.py CONFIG DUMP_DIR [--resume]

Trains CONFIG (with ``RELIABILITY_FAULT`` injected, see ``fault_train.py``), then writes this rank's
weights and optimizer state (moments, Lookahead slow weights, ...) to ``DUMP_DIR/rank<r>.npz``.
"""
import zlib  # noqa: F401  (before paddle)
import os
import sys

import numpy as np

import fault_train
from paddle_optim.errors import UserError
from paddle_optim.optimizers.state import portable_state_dict
from paddle_optim.sections import load_resolved_config
from paddle_optim.training.command import run_training


def flatten(tree, prefix=""):
    """``{"optimizer/state/0/moment1": array, ...}`` of a nested dict/list of tensors and numbers."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flatten(sub, f"{prefix}/{key}").items()}
    if isinstance(tree, (list, tuple)):
        return {k: v for i, sub in enumerate(tree) for k, v in flatten(sub, f"{prefix}/{i}").items()}
    value = np.asarray(tree.numpy() if hasattr(tree, "numpy") else tree)
    return {prefix: value if value.dtype != object else np.asarray(repr(tree))}  # e.g. None: compared as text


if __name__ == "__main__":
    config_path, dump_dir = sys.argv[1], sys.argv[2]
    if os.environ.get("RELIABILITY_FAULT"):
        fault_train.install(os.environ["RELIABILITY_FAULT"])
    try:
        run, _ = run_training(load_resolved_config(config_path, []), "auto" if "--resume" in sys.argv[3:] else None)
    except UserError as err:  # as the CLI reports it: error lines, exit code 2
        print("\n".join(f"error: {line}" for line in err.problems), file=sys.stderr)
        sys.exit(2)
    arrays = flatten({"model": dict(run.model.state_dict()), "optimizer": portable_state_dict(run.optimizer)})
    np.savez(os.path.join(dump_dir, f"rank{run.world.rank}.npz"), **arrays)
