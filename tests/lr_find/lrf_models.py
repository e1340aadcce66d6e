"""A user model for the distributed lr-find test, loaded by import path
(``Model: {name: "lrf_models:NaNOnOneRank", rank: 1, at_forward: 12}``): an MLP whose logits become
NaN on ONE rank from its ``at_forward``-th training forward on, as when one shard holds a bad sample."""
import paddle
import paddle.distributed as dist


class NaNOnOneRank(paddle.nn.Layer):
    def __init__(self, in_features: int = 8, num_classes: int = 3, hidden: int = 16, rank: int = 1,
                 at_forward: int = 12):
        super().__init__()
        self.fc1 = paddle.nn.Linear(in_features, hidden)
        self.fc2 = paddle.nn.Linear(hidden, num_classes)
        self.rank, self.at_forward, self.calls = rank, at_forward, 0

    def forward(self, x):
        logits = self.fc2(paddle.nn.functional.relu(self.fc1(x)))
        if self.training:
            self.calls += 1
            if self.calls >= self.at_forward and dist.get_rank() == self.rank:
                logits = logits * float("nan")
        return logits
