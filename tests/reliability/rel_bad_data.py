"""A user data set, loaded by import path (``rel_bad_data:make``) as a user's own would be, that fails at
one training index the way real data fails: ``failure: raise`` (a corrupt record: ``__getitem__``
raises), ``SIGKILL`` (the out-of-memory killer) or ``SIGSEGV`` (a decoder crash) of the process reading
it, or ``shape`` (a sample of another shape, which cannot be batched with the others)."""
import os
import signal

import numpy as np
import paddle


class FlakyDataset(paddle.io.Dataset):
    """Gaussian clusters of 3 classes, 8 features; ``bad_index`` of the training set fails as ``failure`` says."""

    def __init__(self, mode, size=48, bad_index=-1, failure="raise"):
        super().__init__()
        self.size = size if mode == "train" else 12
        self.bad_index = bad_index if mode == "train" else -1
        self.failure = failure

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        label = index % 3
        x = (np.random.RandomState(index).randn(8) + 2 * label).astype("float32")
        if index == self.bad_index:
            if self.failure == "raise":
                raise ValueError(f"record {index} is corrupt")
            if self.failure == "shape":
                return x[:5], label
            os.kill(os.getpid(), getattr(signal, self.failure))
        return x, label


def make(mode, **kwargs):
    return FlakyDataset(mode, **kwargs)
