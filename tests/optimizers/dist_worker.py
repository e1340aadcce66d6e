"""Worker for test_distributed: Ranger under paddle.DataParallel, each rank on its own data.

``python -m paddle.distributed.launch --nproc_per_node 2 dist_worker.py OUT_DIR`` trains a small
model for a few steps and saves, per rank, ``OUT_DIR/rank<r>.pdparams`` with the weights and
Lookahead's slow weights (numpy, in parameter order).
"""
# zlib before paddle: see paddle_optim/__init__.py.
import zlib  # noqa: F401

import os
import sys

import numpy as np
import paddle
import paddle.distributed as dist

import paddle_optim

STEPS = 8  # two Lookahead synchronisations with k = 3, and two steps past the last one


def main(out_dir):
    paddle.set_device("cpu")
    dist.init_parallel_env()
    rank = dist.get_rank()
    paddle.seed(1000 + rank)  # different initial weights: DataParallel must broadcast rank 0's
    model = paddle.nn.Sequential(paddle.nn.Conv2D(2, 4, 3), paddle.nn.Tanh(), paddle.nn.Flatten(),
                                 paddle.nn.Linear(16, 3))
    parallel = paddle.DataParallel(model)
    optimizer = paddle_optim.Ranger(0.01, parameters=model.parameters(), k=3)
    initial = [p.numpy().copy() for p in model.parameters()]
    for step in range(STEPS):
        inputs = np.random.default_rng(10 * step + rank).standard_normal([4, 2, 4, 4])
        parallel(paddle.to_tensor(inputs.astype("float32"))).square().mean().backward()
        optimizer.step()
        optimizer.clear_grad()
    state = optimizer.state_dict()
    paddle.save({"initial": initial,
                 "weights": [p.numpy() for p in model.parameters()],
                 "slow": [state["extra"]["slow_weights"][i] for i in range(len(initial))]},
                os.path.join(out_dir, f"rank{rank}.pdparams"))


if __name__ == "__main__":
    main(sys.argv[1])
