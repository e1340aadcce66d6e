"""User code for the signal tests, loaded by import path like a user's own module.

:class:`GatedMLP` is ``Linear - ReLU - Linear`` that, when the environment names a gate directory
(``REL_GATE_DIR``), stops inside its ``block_at``-th training forward: it writes ``rank<r>`` there and
sleeps until the process is signalled. So a test stops a run at a known step, after a known
checkpoint, without racing the trainer. Without ``REL_GATE_DIR`` it trains normally (the resume).
"""
import os
import time

import paddle


class GatedMLP(paddle.nn.Layer):
    def __init__(self, in_features: int = 8, num_classes: int = 3, hidden: int = 16, block_at: int = 5):
        super().__init__()
        self.fc1 = paddle.nn.Linear(in_features, hidden)
        self.fc2 = paddle.nn.Linear(hidden, num_classes)
        self.block_at, self.calls = block_at, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            gate = os.environ.get("REL_GATE_DIR")
            if gate and self.calls == self.block_at:
                open(os.path.join(gate, "rank" + os.environ.get("PADDLE_TRAINER_ID", "0")), "w").close()
                while True:  # until a signal ends the process
                    time.sleep(0.5)
        return self.fc2(paddle.nn.functional.relu(self.fc1(x)))
