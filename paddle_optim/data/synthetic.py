"""Synthetic tasks, fully determined by ``seed``: Gaussian class clusters (classification), a smooth
non-linear regression and independent multi-hot labels (multi-label).

Class ``c`` has a random centre ``mu_c ~ N(0, I)`` scaled by ``separation``; samples are
``mu_c + noise * N(0, I)``. With the defaults a small MLP reaches > 90% within a few epochs.
"""
import numpy as np


def make_blobs(num_samples: int, num_features: int, num_classes: int, noise: float, separation: float,
               seed: int, shape=None):
    """``(x, y)`` with x float32 of shape ``(num_samples, *shape)`` (default ``(num_features,)``)."""
    rng = np.random.RandomState(seed)
    centres = rng.randn(num_classes, num_features) * separation
    y = rng.randint(0, num_classes, size=num_samples)
    x = centres[y] + noise * rng.randn(num_samples, num_features)
    if shape is not None:
        x = x.reshape((num_samples,) + tuple(shape))
    return x.astype("float32"), y.astype("int64")


def make_regression(num_samples: int, num_features: int, num_targets: int, noise: float, seed: int):
    """``(x, y)``: ``x ~ N(0, I)``, ``y = sin(x W1) + 0.5 x W2 + noise * N(0, 1)`` of shape
    ``(num_samples, num_targets)`` (a smooth non-linear target an MLP fits well; a linear model leaves
    the sine's share unexplained)."""
    rng = np.random.RandomState(seed)
    w1 = rng.randn(num_features, num_targets) / np.sqrt(num_features)
    w2 = rng.randn(num_features, num_targets) / np.sqrt(num_features)
    x = rng.randn(num_samples, num_features)
    y = np.sin(x @ w1) + 0.5 * x @ w2 + noise * rng.randn(num_samples, num_targets)
    return x.astype("float32"), y.astype("float32")


def make_multilabel(num_samples: int, num_features: int, num_labels: int, noise: float, seed: int):
    """``(x, y)``: ``x ~ N(0, I)``, multi-hot ``y[:, k] = 1[x w_k + noise * N(0, 1) > 0]`` (float32,
    each label on for about half the samples, independently of the others)."""
    rng = np.random.RandomState(seed)
    w = rng.randn(num_features, num_labels) / np.sqrt(num_features)
    x = rng.randn(num_samples, num_features)
    y = (x @ w + noise * rng.randn(num_samples, num_labels)) > 0
    return x.astype("float32"), y.astype("float32")
