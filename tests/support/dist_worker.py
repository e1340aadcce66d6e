"""The one worker of the distributed tests, run by ``paddle.distributed.launch`` in every process
(a script: absolute imports, zlib before paddle). Each mode writes this rank's arrays to
``DUMP/rank<r>.npz`` for :func:`launching.assert_ranks_identical`::

    dist_worker.py train DUMP CONFIG [--resume]   the trainer (RELIABILITY_FAULT: fault_train's faults);
                                                  model weights and optimizer state (moments, slow weights)
    dist_worker.py ranger DUMP                    Ranger under paddle.DataParallel, each rank on its own data
    dist_worker.py lr-find DUMP CONFIG            the lr-find sweep: applied learning rates, losses, stop
"""
import zlib  # noqa: F401  (before paddle)
import os
import sys

import numpy as np


def flatten(tree, prefix=""):
    """``{"optimizer/state/0/moment1": array, ...}`` of a nested dict/list of tensors and numbers."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flatten(sub, f"{prefix}/{key}").items()}
    if isinstance(tree, (list, tuple)):
        return {k: v for i, sub in enumerate(tree) for k, v in flatten(sub, f"{prefix}/{i}").items()}
    value = np.asarray(tree.numpy() if hasattr(tree, "numpy") else tree)
    return {prefix: value if value.dtype != object else np.asarray(repr(tree))}  # e.g. None: compared as text


def train(config_path, resume):
    from paddle_optim.errors import UserError
    from paddle_optim.optimizers.state import portable_state_dict
    from paddle_optim.sections import load_resolved_config
    from paddle_optim.training.command import run_training

    if os.environ.get("RELIABILITY_FAULT"):
        import fault_train  # tests/reliability, on PYTHONPATH

        fault_train.install(os.environ["RELIABILITY_FAULT"])
    try:
        run, _ = run_training(load_resolved_config(config_path, []), "auto" if resume else None)
    except UserError as err:  # as the CLI reports it: error lines, exit code 2
        print("\n".join(f"error: {line}" for line in err.problems), file=sys.stderr)
        sys.exit(2)
    return run.world.rank, flatten({"model": dict(run.model.state_dict()),
                                    "optimizer": portable_state_dict(run.optimizer)})


RANGER_STEPS = 8  # two Lookahead synchronisations with k = 3, and two steps past the last one


def ranger():
    import paddle
    import paddle.distributed as dist

    import paddle_optim

    paddle.set_device("cpu")
    dist.init_parallel_env()
    rank = dist.get_rank()
    paddle.seed(1000 + rank)  # different initial weights: DataParallel must broadcast rank 0's
    model = paddle.nn.Sequential(paddle.nn.Conv2D(2, 4, 3), paddle.nn.Tanh(), paddle.nn.Flatten(),
                                 paddle.nn.Linear(16, 3))
    parallel = paddle.DataParallel(model)
    optimizer = paddle_optim.Ranger(0.01, parameters=model.parameters(), k=3)
    initial = [p.numpy().copy() for p in model.parameters()]
    for step in range(RANGER_STEPS):
        inputs = np.random.default_rng(10 * step + rank).standard_normal([4, 2, 4, 4])
        parallel(paddle.to_tensor(inputs.astype("float32"))).square().mean().backward()
        optimizer.step()
        optimizer.clear_grad()
    slow = optimizer.state_dict()["extra"]["slow_weights"]
    return rank, flatten({"initial": initial, "weights": [p.numpy() for p in model.parameters()],
                          "slow": [slow[i] for i in range(len(initial))]})


def lr_find(config_path):
    from paddle_optim.lr_find.curve import learning_rates
    from paddle_optim.lr_find.sweep import finder_config, sweep
    from paddle_optim.sections import load_resolved_config
    from paddle_optim.training import distributed
    from paddle_optim.training.loop import Run

    config = load_resolved_config(config_path, [])
    world = distributed.setup("cpu")
    lrs = learning_rates(1e-4, 10.0, 30)
    run = Run(finder_config(config, lrs[0]), world)
    applied = []
    result = sweep(run, lrs, 5, 4.0, lambda i, lr, loss: applied.append(run.optimizer.get_lr()))
    weights = {f"w_{k}": v.numpy() for k, v in run.model.state_dict().items()}
    return world.rank, dict(applied=np.array(applied), losses=np.array(result.losses),
                            stop=np.array(result.stop or ""), **weights)


if __name__ == "__main__":
    mode, dump, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "train":
        rank, arrays = train(args[0], "--resume" in args[1:])
    elif mode == "ranger":
        rank, arrays = ranger()
    elif mode == "lr-find":
        rank, arrays = lr_find(args[0])
    else:
        sys.exit(f"unknown mode {mode!r}")
    np.savez(os.path.join(dump, f"rank{rank}.npz"), **arrays)
