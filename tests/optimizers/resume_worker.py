"""A small Ranger training run, used by test_state_resume in-process and as a fresh process.

As a script: ``python resume_worker.py CHECKPOINT STOP OUTPUT`` builds the model and optimizer
anew, loads CHECKPOINT (``{"model", "optimizer", "step"}``), trains up to step STOP and saves the
parameters (numpy, in order) to OUTPUT with ``paddle.save``.
"""
# zlib before paddle: see paddle_optim/__init__.py.
import zlib  # noqa: F401

import sys

import numpy as np
import paddle

import paddle_optim


def build(seed):
    paddle.seed(seed)
    model = paddle.nn.Sequential(paddle.nn.Conv2D(2, 4, 3), paddle.nn.Tanh(), paddle.nn.Flatten(),
                                 paddle.nn.Linear(16, 3))
    scheduler = paddle.optimizer.lr.CosineAnnealingDecay(0.01, T_max=20)
    optimizer = paddle_optim.Ranger(learning_rate=scheduler, parameters=model.parameters(),
                                    weight_decay=0.01, decoupled_weight_decay=True, k=5)
    return model, optimizer, scheduler


def train(model, optimizer, scheduler, start, stop):
    for step in range(start, stop):
        inputs = np.random.default_rng(step).standard_normal([4, 2, 4, 4]).astype("float32")
        model(paddle.to_tensor(inputs)).square().mean().backward()
        optimizer.step()
        optimizer.clear_grad()
        scheduler.step()
    return [p.numpy() for p in model.parameters()]


def main(checkpoint, stop, output):
    paddle.set_device("cpu")
    model, optimizer, scheduler = build(seed=99)  # different weights: the checkpoint must win
    state = paddle.load(checkpoint)
    model.set_state_dict(state["model"])
    optimizer.set_state_dict(state["optimizer"])
    paddle.save({"params": train(model, optimizer, scheduler, state["step"], int(stop))}, output)


if __name__ == "__main__":
    main(*sys.argv[1:])
