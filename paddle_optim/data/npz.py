"""The ``npz`` data set: arrays ``x`` (samples) and ``y`` (targets) in ``.npz`` files (``numpy.savez``).

Every file is checked when the config is read (:func:`check_files`), so ``train``, ``check``,
``lr-plot`` and ``compare`` reject a bad file before anything is built or written: the file must be
an ``.npz`` archive holding both keys; ``x`` numbers shaped ``(samples, features...)`` with at least
one sample; ``y`` one target per sample (class indices ``(N,)``/``(N, 1)`` of whole numbers, or
finite float values); a validation file with samples (and values) of the training file's shape; a
split that leaves samples on both sides. ``x``'s shape and dtype come from its ``.npy`` header, so
only the targets are read. Which class labels are allowed depends on the loss
(:func:`class_label_problems`).
"""
import math
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..errors import ConfigError
from .arrays import (ArrayDataset, DatasetInfo, bad_class_labels, class_indices, held_out, held_out_by_class,
                     split_train_val, split_values)

#: The config key that names each file.
FILE_KEYS = {"train": "Data.dataset.train", "val": "Data.dataset.val"}
#: dtype kinds that are numbers: bool, signed and unsigned integers, floats.
_NUMERIC = "biuf"


def check_files(ds: Mapping[str, Any]) -> List[ConfigError]:
    """Every problem of the resolved ``npz`` section's files (empty: they can be trained on)."""
    try:
        x_train, y_train = _check_file(ds, "train")
        if ds["val"]:
            x_val, y_val = _check_file(ds, "val")
            _check_same_samples(ds, x_train, x_val, y_train, y_val)
        else:
            _check_split(ds, y_train)
    except ConfigError as err:
        return [err]
    return []


def _check_file(ds: Mapping[str, Any], which: str) -> Tuple[Tuple[int, ...], np.ndarray]:
    """``(x's shape, the targets)`` of one file, or ConfigError."""
    path, key_path = ds[which], FILE_KEYS[which]
    x_key, y_key = ds["x_key"], ds["y_key"]
    headers = _headers(path, key_path, (x_key, y_key))
    shape, dtype = headers[x_key]
    where = f"{path}: '{x_key}'"
    if dtype.kind not in _NUMERIC:
        raise ConfigError(key_path, f"{where} holds {_dtype_name(dtype)} values; allowed: numbers (bool, int, float)")
    if len(shape) < 2:
        raise ConfigError(key_path, f"{where} has shape {shape}, one number per sample; allowed: (samples, "
                          "features...), e.g. x.reshape(-1, 1) for one feature")
    if shape[0] == 0 or math.prod(shape[1:]) == 0:
        raise ConfigError(key_path, f"{where} has shape {shape}: no {'samples' if shape[0] == 0 else 'features'}; "
                          "allowed: at least one sample of at least one value")
    y_shape, y_dtype = headers[y_key]
    if y_dtype.kind not in _NUMERIC:
        raise ConfigError(key_path, f"{path}: '{y_key}' holds {_dtype_name(y_dtype)} values; allowed: numbers "
                          "(class indices, or float targets with targets: values)")
    if not y_shape:
        raise ConfigError(key_path, f"{path}: '{y_key}' is a scalar; allowed: one target per sample of '{x_key}'")
    if y_shape[0] != shape[0]:
        raise ConfigError(key_path, f"{path}: {shape[0]} samples in '{x_key}' but {y_shape[0]} targets in '{y_key}'; "
                          "allowed: one target per sample")
    with np.load(path, allow_pickle=False) as npz:
        return shape, targets(npz[y_key], path, ds)


def _headers(path: str, key_path: str, keys) -> Dict[str, Tuple[Tuple[int, ...], np.dtype]]:
    """``{key: (shape, dtype)}`` from the ``.npy`` headers inside the archive, reading no array."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name[:-len(".npy")]: name for name in archive.namelist() if name.endswith(".npy")}
            missing = [k for k in keys if k not in members]
            if missing:
                raise ConfigError(key_path, f"{path} has no array {', '.join(map(repr, missing))}; it has: "
                                  f"{', '.join(members) or 'none'} (set Data.dataset.x_key / y_key)")
            headers = {}
            for key in keys:
                with archive.open(members[key]) as member:
                    version = np.lib.format.read_magic(member)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(member)
                headers[key] = (tuple(shape), dtype)
            return headers
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as err:
        raise ConfigError(key_path, f"{path} is not a readable .npz archive ({type(err).__name__}: "
                          f"{str(err)[:200]}); allowed: a file written by numpy.savez / savez_compressed") from None


def _dtype_name(dtype: np.dtype) -> str:
    return {"O": "object (Python objects)", "U": f"string ({dtype})", "S": f"bytes ({dtype})",
            "V": f"structured ({dtype})", "c": f"complex ({dtype})"}.get(dtype.kind, str(dtype))


def _check_same_samples(ds, x_train, x_val, y_train, y_val) -> None:
    if tuple(x_val[1:]) != tuple(x_train[1:]):
        raise ConfigError(FILE_KEYS["val"], f"{ds['val']}: samples of '{ds['x_key']}' have shape {tuple(x_val[1:])}, "
                          f"the training file's {tuple(x_train[1:])}; allowed: the same shape")
    if ds["targets"] == "values" and y_val.shape[1:] != y_train.shape[1:]:
        raise ConfigError(FILE_KEYS["val"], f"{ds['val']}: targets of '{ds['y_key']}' have shape {y_val.shape[1:]}, "
                          f"the training file's {y_train.shape[1:]}; allowed: the same shape")


def _check_split(ds, y: np.ndarray) -> None:
    held = held_out_by_class(y, ds["val_fraction"]) if ds["targets"] == "classes" else \
        held_out(len(y), ds["val_fraction"])
    if held == 0 or held == len(y):
        side = "no validation sample" if held == 0 else "no training sample"
        rule = "round(count x val_fraction) of each class" if ds["targets"] == "classes" else \
            "round(samples x val_fraction)"
        raise ConfigError("Data.dataset.val_fraction", f"{ds['val_fraction']} of the {len(y)} samples of "
                          f"{ds['train']} leaves {side} ({rule} is held out); allowed: a val_fraction that splits "
                          "them, or a separate Data.dataset.val file")


def targets(y, path: str, ds: Mapping[str, Any]) -> np.ndarray:
    """The ``.npz`` targets as the section's ``targets`` says: class indices, or float values."""
    key = "Data.dataset.y_key"
    if ds["targets"] == "classes":
        try:
            y = class_indices(y)
        except ValueError as err:
            raise ConfigError(key, f"{path}: {err}") from None
        if y.size and not np.array_equal(y, np.round(y)):
            raise ConfigError(key, f"{path}: class labels must be whole numbers, got e.g. "
                              f"{y[y != np.round(y)][0]!r}")
        return y.astype("int64")
    y = np.asarray(y)
    if y.ndim == 0:
        raise ConfigError(key, f"{path}: targets: values needs a numeric array (N, ...), got {y.dtype} ()")
    y = y.astype("float32")
    if not np.isfinite(y).all():
        raise ConfigError(key, f"{path}: targets must be finite, got nan or inf")
    return y.reshape(len(y), 1) if y.ndim == 1 else y


def training_targets(ds: Mapping[str, Any]) -> np.ndarray:
    """The targets of the training file (the only array read)."""
    with np.load(ds["train"], allow_pickle=False) as npz:
        return targets(npz[ds["y_key"]], ds["train"], ds)


def class_label_problems(ds: Mapping[str, Any], ignore_index: Optional[int]) -> List[ConfigError]:
    """The class labels of both files against the one rule (:func:`~paddle_optim.data.arrays.bad_class_labels`):
    in ``[0, num_classes)`` (``num_classes`` when set, else any), or the loss's ``ignore_index``."""
    if ds["targets"] != "classes":
        return []
    for which in ("train", "val"):
        if not ds[which]:
            continue
        with np.load(ds[which], allow_pickle=False) as npz:
            y = targets(npz[ds["y_key"]], ds[which], ds)
        bad = np.flatnonzero(bad_class_labels(y, ds["num_classes"], ignore_index))
        if bad.size:
            label, index = int(y[bad[0]]), int(bad[0])
            skipped = f", or {ignore_index} (Loss.ignore_index: samples the loss skips)" if ignore_index is not None \
                else ""
            if label >= 0:
                return [ConfigError("Data.dataset.num_classes", f"{ds[which]} has label {label} (sample {index}), "
                                    f"outside [0, {ds['num_classes']}); allowed: num_classes > the largest label, "
                                    f"or omit it{skipped}")]
            allowed = f"0 <= label < {ds['num_classes']}" if ds["num_classes"] else "labels >= 0"
            return [ConfigError("Data.dataset.y_key", f"{ds[which]} has class label {label} (sample {index}); "
                                f"allowed: {allowed}{skipped}")]
        if which == "train" and not (y >= 0).any():
            return [ConfigError("Data.dataset.y_key", f"{ds[which]}: every label is {ignore_index} (Loss.ignore_index), "
                                "so there is nothing to learn; allowed: at least one class index >= 0")]
    return []


def _read(ds: Mapping[str, Any], which: str) -> Tuple[np.ndarray, np.ndarray]:
    path = ds[which]
    with np.load(path, allow_pickle=False) as npz:
        x, y = npz[ds["x_key"]], targets(npz[ds["y_key"]], path, ds)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        sample = int(np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))[0])
        raise ConfigError(FILE_KEYS[which], f"{path}: '{ds['x_key']}' holds NaN or Inf (sample {sample}); "
                          "allowed: finite numbers")
    return x, y


def datasets(ds: Mapping[str, Any]):
    """``(train, val, DatasetInfo)`` of a resolved ``npz`` section whose files passed :func:`check_files`."""
    x, y = _read(ds, "train")
    if ds["val"]:
        xv, yv = _read(ds, "val")
    else:
        split = split_train_val if ds["targets"] == "classes" else split_values
        x, y, xv, yv = split(x, y, ds["val_fraction"], ds["split_seed"])
    if ds["targets"] == "values":
        num_classes = ds["num_classes"] or math.prod(y.shape[1:])
    else:
        num_classes = ds["num_classes"] or int(max(y.max(), yv.max())) + 1
    return ArrayDataset(x, y, num_classes), ArrayDataset(xv, yv, num_classes), DatasetInfo(tuple(x.shape[1:]), num_classes)
