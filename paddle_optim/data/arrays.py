"""In-memory data sets held as numpy arrays (digits, synthetic, ``.npz``).

An :class:`ArrayDataset` is a normal ``paddle.io.Dataset`` (so ``paddle.io.DataLoader`` and user code
can use it), and also hands out whole batches by fancy indexing (:meth:`ArrayDataset.batch`), which
is what the trainer does: collating one sample at a time costs more than the step of a small model.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
import paddle


@dataclass(frozen=True)
class DatasetInfo:
    """What a model builder needs to know about the data: one sample's shape and the model's outputs
    (``num_classes``: the class count, or the target values per sample of a regression / multi-label set)."""

    sample_shape: Tuple[int, ...]
    num_classes: int


def class_indices(y: np.ndarray) -> np.ndarray:
    """Class labels as a 1-D array: ``(N, 1)`` (a common export) is squeezed once, here.

    Left as ``(N, 1)``, a comparison with the ``(N,)`` predictions broadcasts to ``(N, N)`` and the
    accuracy comes out far above 1.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"class labels must have shape (N,) or (N, 1), got {tuple(y.shape)}")
    return y


def bad_class_labels(labels: np.ndarray, num_classes: Optional[int], ignore_index: Optional[int]) -> np.ndarray:
    """Which class labels break THE rule (a boolean mask): a label is a class index in
    ``[0, num_classes)`` (any index >= 0 when ``num_classes`` is None), or exactly ``ignore_index``, the
    label a class-index loss skips (Paddle's CrossEntropyLoss / NLLLoss: -100 unless the Loss section
    sets it). Any other negative label is an error, wherever labels are checked (the ``npz`` files when
    the config is read, every batch's labels against the model's outputs before training)."""
    labels = np.asarray(labels)
    bad = labels < 0
    if num_classes is not None:
        bad |= labels >= num_classes
    if ignore_index is not None:
        bad &= labels != ignore_index
    return bad


def targets(y: np.ndarray) -> np.ndarray:
    """Targets as the trainer feeds them: integer labels are class indices (:func:`class_indices`,
    int64); float targets (regression values, multi-hot labels) keep their shape, as float32."""
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        return class_indices(y).astype("int64")
    return y.astype("float32")


class ArrayDataset(paddle.io.Dataset):
    """Samples ``x[i]`` (float32) with targets ``y[i]`` (:func:`targets`: integer class indices, int64,
    ``(N, 1)`` squeezed to ``(N,)``; or float targets of any shape, float32). ``num_classes``: the
    model's outputs (classes, or target values per sample)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, num_classes: int):
        super().__init__()
        y = targets(y)
        if len(x) != len(y):
            raise ValueError(f"ArrayDataset: {len(x)} samples but {len(y)} labels")
        self.x = np.ascontiguousarray(x, dtype="float32")
        self.y = np.ascontiguousarray(y)
        self.info = DatasetInfo(tuple(self.x.shape[1:]), int(num_classes))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int):
        return self.x[index], self.y[index]

    def batch(self, indices: Sequence[int]):
        """``(x, y)`` numpy arrays of the samples at ``indices``."""
        idx = np.asarray(indices, dtype="int64")
        return self.x[idx], self.y[idx]


def held_out(class_count: int, val_fraction: float) -> int:
    """Validation samples taken from a class of ``class_count`` samples, or from all samples of float
    targets (the one rounding rule)."""
    return int(round(class_count * val_fraction))


def held_out_by_class(y: np.ndarray, val_fraction: float) -> int:
    """Validation samples :func:`split_train_val` takes out of the class labels ``y``."""
    return sum(held_out(int(np.sum(y == c)), val_fraction) for c in np.unique(y))


def split_values(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int):
    """A fixed, seeded random split of samples with float targets: ``(x_train, y_train, x_val, y_val)``."""
    order = np.random.RandomState(seed).permutation(len(y))
    val = np.sort(order[:held_out(len(y), val_fraction)])
    mask = np.zeros(len(y), dtype=bool)
    mask[val] = True
    return x[~mask], y[~mask], x[mask], y[mask]


def split_train_val(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int):
    """A fixed, seeded, class-stratified split: ``(x_train, y_train, x_val, y_val)``.

    Stratified so that every class keeps its share in both parts (small data sets such as digits
    otherwise swing the validation accuracy by a point between seeds for no reason).
    """
    rng = np.random.RandomState(seed)
    val_idx = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        rng.shuffle(members)
        val_idx.extend(members[:held_out(len(members), val_fraction)])
    val_mask = np.zeros(len(y), dtype=bool)
    val_mask[np.asarray(val_idx, dtype="int64")] = True
    return x[~val_mask], y[~val_mask], x[val_mask], y[val_mask]
