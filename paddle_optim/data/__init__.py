"""Built-in and user data sets, and the ``Data`` config section.

``Data.dataset.name`` selects one of :data:`DATASETS` or a user factory by import path:

==============  ==========================================================================================
``digits``      the 8x8 handwritten digits shipped with the package (UCI optdigits), fixed seeded stratified split
``synthetic``   Gaussian class clusters generated from a seed (tests, benchmarks)
``regression``  a seeded synthetic regression: float targets ``(N, num_targets)`` (MSELoss, MAE/RMSE/R2)
``multilabel``  seeded synthetic multi-hot labels ``(N, num_labels)`` (BCEWithLogitsLoss, Precision/Recall/Auc)
``npz``         ``.npz`` arrays ``x``/``y`` (keys configurable), optional separate validation file; ``targets:
                classes`` (integer class indices) or ``values`` (float targets: regression, multi-hot)
``folder``      images in ``DatasetFolder`` layout (``train_dir/<class>/<img>``)
``pkg.mod:fn``  ``fn(mode="train"|"val", **kwargs)`` returning a ``paddle.io.Dataset``
==============  ==========================================================================================
"""
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..config.fields import number_list
from ..config.import_path import check_kwargs, is_import_path, load_object
from ..config.ranges import CLASSES, COUNT, NON_NEGATIVE, OPEN_UNIT, POSITIVE
from ..config.schema import REQUIRED, Field, Range, join_key, unknown_name_message, validate_section
from ..errors import ConfigError
from . import npz
from .arrays import ArrayDataset, DatasetInfo, held_out, held_out_by_class, split_train_val
from .digits import load_digits
from .folder import check_folders, count_images, image_folder
from .loader import read_sample
from .sampler import steps_per_epoch
from .synthetic import make_blobs, make_multilabel, make_regression
from .transforms import SeededSamples, build_transforms, default_transforms, probe_folder, validate_transforms



@dataclass(frozen=True)
class DatasetKind:
    name: str
    description: str
    fields: Mapping[str, Field]


DATASETS: Dict[str, DatasetKind] = {k.name: k for k in [
    DatasetKind("digits", "8x8 handwritten digits (UCI optdigits, 1,797 images, 10 classes), shipped offline", {
        "val_fraction": Field((float,), 0.2, OPEN_UNIT, help="share of each class held out for validation"),
        "split_seed": Field((int,), 0, help="seed of the fixed train/val split"),
        "as_image": Field((bool,), False, help="samples shaped (1, 8, 8) for CNNs instead of (64,)"),
    }),
    DatasetKind("synthetic", "Gaussian class clusters generated from a seed", {
        "num_samples": Field((int,), 1024, COUNT), "num_val": Field((int,), 256, COUNT),
        "num_features": Field((int,), 16, COUNT), "num_classes": Field((int,), 4, CLASSES),
        "noise": Field((float,), 1.0, NON_NEGATIVE), "separation": Field((float,), 2.0, NON_NEGATIVE),
        "seed": Field((int,), 0),
        "shape": number_list(None, COUNT, integers=True, help="reshape each sample, e.g. [1, 4, 4]"),
    }),
    DatasetKind("regression", "a seeded synthetic regression, y = sin(x W1) + 0.5 x W2 + noise", {
        "num_samples": Field((int,), 1024, COUNT), "num_val": Field((int,), 256, COUNT),
        "num_features": Field((int,), 8, COUNT), "num_targets": Field((int,), 1, COUNT),
        "noise": Field((float,), 0.1, NON_NEGATIVE), "seed": Field((int,), 0),
    }),
    DatasetKind("multilabel", "seeded synthetic multi-hot labels, y_k = 1[x w_k + noise > 0]", {
        "num_samples": Field((int,), 1024, COUNT), "num_val": Field((int,), 256, COUNT),
        "num_features": Field((int,), 16, COUNT), "num_labels": Field((int,), 5, COUNT),
        "noise": Field((float,), 0.3, NON_NEGATIVE), "seed": Field((int,), 0),
    }),
    DatasetKind("npz", "numpy .npz arrays", {
        "train": Field((str,), help="path of the training .npz"),
        "val": Field((str,), None, help="path of the validation .npz (default: split off the training file)"),
        "val_fraction": Field((float,), 0.2, OPEN_UNIT), "split_seed": Field((int,), 0),
        "x_key": Field((str,), "x"), "y_key": Field((str,), "y"),
        "num_classes": Field((int,), None, CLASSES, help="default: max label + 1 (targets: values: the "
                             "values per sample)"),
        "targets": Field((str,), "classes", choices=("classes", "values"),
                         help="classes: integer class indices (N,) or (N, 1); values: float targets of any "
                              "shape, (N,) read as (N, 1), split at random instead of by class"),
    }),
    DatasetKind("folder", "images in paddle.vision DatasetFolder layout (root/<class>/<image>)", {
        "train_dir": Field((str,)), "val_dir": Field((str,)),
        "image_size": number_list([32, 32], COUNT, integers=True, length=2),
        "mean": number_list([0.5, 0.5, 0.5], Range(), length=3),
        "std": number_list([0.5, 0.5, 0.5], POSITIVE, length=3),
    }),
]}

USER_FIELDS = {"kwargs": Field((dict,), {}),
               "num_classes": Field((int,), REQUIRED, COUNT, help="the model's outputs: classes, or values per sample "
                                    "of float targets")}

DATA_FIELDS = {
    "dataset": Field((dict,), help="e.g. {name: digits}"),
    "batch_size": Field((int,), 64, COUNT, help="samples per process per micro-batch"),
    "eval_batch_size": Field((int,), None, COUNT, help="default: batch_size"),
    "drop_last": Field((bool,), False),
    "shuffle": Field((bool,), True),
    "num_workers": Field((int,), 0, NON_NEGATIVE, help="DataLoader workers (image folders / user data sets)"),
    "transforms": Field((list,), None, help="folder: the training images' paddle.vision.transforms, e.g. "
                        "[{name: RandomResizedCrop, size: 32}, RandomHorizontalFlip, ToTensor] (default: Resize, "
                        "ToTensor, Normalize from the data set's image_size, mean, std)"),
    "eval_transforms": Field((list,), None, help="folder: the validation images' transforms (default as transforms)"),
}

#: The Data keys that hold a transform list, and the folder each one is tried on.
_TRANSFORM_KEYS = (("transforms", "train_dir"), ("eval_transforms", "val_dir"))


def validate_dataset(raw: Any, path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    """Resolve ``Data.dataset``; files and folders must exist, user factories must import."""
    if not isinstance(raw, Mapping) or "name" not in raw:
        return {}, [ConfigError(join_key(path, "name"), f"is required; allowed: {', '.join(DATASETS)} "
                                "or an import path 'package.module:factory'")]
    name = raw["name"]
    if is_import_path(name):
        resolved, errors = validate_section(raw, dict(USER_FIELDS, name=Field((str,))), path)
        try:
            factory = load_object(name, join_key(path, "name"))
        except ConfigError as err:
            return resolved, errors + [err]
        errors += check_kwargs(factory, dict(resolved.get("kwargs") or {}, mode="train"), join_key(path, "kwargs"),
                               reserved=("mode",))
        return resolved, errors
    if not isinstance(name, str) or name not in DATASETS:
        return {}, [ConfigError(join_key(path, "name"), unknown_name_message("dataset", name, DATASETS) +
                                " (or an import path 'package.module:factory')")]
    resolved, errors = validate_section(raw, dict(DATASETS[name].fields, name=Field((str,))), path)
    if name == "synthetic" and resolved.get("shape") and not errors:
        if math.prod(resolved["shape"]) != resolved["num_features"]:
            errors.append(ConfigError(join_key(path, "shape"), f"{resolved['shape']} holds "
                                      f"{math.prod(resolved['shape'])} values, num_features is {resolved['num_features']}"))
    for key in ("train", "val"):
        if name == "npz" and resolved.get(key) and not os.path.isfile(resolved[key]):
            errors.append(ConfigError(join_key(path, key), f"file not found: {resolved[key]}"))
    for key in ("train_dir", "val_dir"):
        if name == "folder" and resolved.get(key) and not os.path.isdir(resolved[key]):
            errors.append(ConfigError(join_key(path, key), f"directory not found: {resolved[key]}"))
    if not errors and name in _CHECK_FILES:  # the contents, once the section itself is valid
        errors += _CHECK_FILES[name](resolved)
    return resolved, errors


#: The data sets whose files are checked when the config is read, before anything is built or written.
_CHECK_FILES: Mapping[str, Callable[[Mapping[str, Any]], List[ConfigError]]] = {
    "npz": npz.check_files, "folder": check_folders}


def class_label_problems(data_section: Mapping[str, Any], ignore_index: Optional[int]) -> List[ConfigError]:
    """The data set's class labels against the one rule (in ``[0, num_classes)``, or the loss's
    ``ignore_index``), where they are known before anything is built: ``npz`` files."""
    ds = data_section["dataset"]
    return npz.class_label_problems(ds, ignore_index) if ds["name"] == "npz" else []


def validate_data_section(raw: Any, path: str) -> Tuple[Dict[str, Any], List[ConfigError]]:
    resolved, errors = validate_section(raw, DATA_FIELDS, path)
    if "dataset" in resolved:
        resolved["dataset"], more = validate_dataset(resolved["dataset"], join_key(path, "dataset"))
        errors += more
    if resolved.get("eval_batch_size") is None and "batch_size" in resolved:
        resolved["eval_batch_size"] = resolved["batch_size"]
    errors += _validate_transform_keys(resolved, path, not errors)
    return resolved, errors


def _validate_transform_keys(resolved: Dict[str, Any], path: str, probe: bool) -> List[ConfigError]:
    """``Data.transforms`` / ``Data.eval_transforms``: folder data sets only; each list resolved, then (when the
    rest of the section is valid) tried on its folder's first image; both must give one sample shape."""
    errors: List[ConfigError] = []
    ds = resolved.get("dataset") or {}
    shapes = {}
    for key, folder in _TRANSFORM_KEYS:
        if resolved.get(key) is None:
            continue
        if ds.get("name") != "folder":
            errors.append(ConfigError(join_key(path, key), "applies to the folder data set only (Data.dataset.name: "
                                      "folder); a user data set applies its own transforms in its factory"))
            continue
        resolved[key], more = validate_transforms(resolved[key], join_key(path, key))
        errors += more
        if probe and not more:
            try:
                shapes[key] = probe_folder(resolved[key], ds[folder], join_key(path, key))
            except ConfigError as err:
                errors.append(err)
    if shapes and None not in shapes.values():  # None: a folder without images, reported when it is read
        default = (3,) + tuple(ds["image_size"])  # the fixed pipeline's shape (RGB)
        train, val = shapes.get("transforms", default), shapes.get("eval_transforms", default)
        if train != val:
            key = "eval_transforms" if "eval_transforms" in shapes else "transforms"
            errors.append(ConfigError(join_key(path, key), f"the training images come out {train}, the validation "
                                      f"images {val}; the model takes one input shape: make both lists (or "
                                      f"Data.dataset.image_size) produce the same size"))
    return errors


def _user_factory(section: Mapping[str, Any]) -> Callable:
    return load_object(section["name"], "Data.dataset.name")


def num_train_samples(data_section: Mapping[str, Any]) -> int:
    """Size of the training set of a resolved ``Data`` section, reading no more than needed."""
    ds = data_section["dataset"]
    name = ds["name"]
    if name == "digits":
        y = load_digits()[1]
        return len(y) - held_out_by_class(y, ds["val_fraction"])
    if name == "synthetic" or name in _GENERATED:
        return ds["num_samples"]
    if name == "npz":
        y = npz.training_targets(ds)
        if ds["val"]:
            return len(y)
        return len(y) - (held_out_by_class(y, ds["val_fraction"]) if ds["targets"] == "classes" else
                         held_out(len(y), ds["val_fraction"]))
    if name == "folder":
        return count_images(ds["train_dir"])
    return len(_user_factory(ds)(mode="train", **ds["kwargs"]))


def build_datasets(data_section: Mapping[str, Any]):
    """``(train_dataset, val_dataset, DatasetInfo)`` of a resolved ``Data`` section."""
    ds = data_section["dataset"]
    name = ds["name"]
    if name == "digits":
        x, y = load_digits(ds["as_image"])
        xt, yt, xv, yv = split_train_val(x, y, ds["val_fraction"], ds["split_seed"])
        return ArrayDataset(xt, yt, 10), ArrayDataset(xv, yv, 10), DatasetInfo(tuple(xt.shape[1:]), 10)
    if name == "synthetic":
        x, y = make_blobs(ds["num_samples"] + ds["num_val"], ds["num_features"], ds["num_classes"], ds["noise"],
                          ds["separation"], ds["seed"], ds["shape"])
        n = ds["num_samples"]
        train = ArrayDataset(x[:n], y[:n], ds["num_classes"])
        return train, ArrayDataset(x[n:], y[n:], ds["num_classes"]), train.info
    if name in _GENERATED:
        x, y = _GENERATED[name](ds)
        n = ds["num_samples"]
        train = ArrayDataset(x[:n], y[:n], y.shape[1])
        return train, ArrayDataset(x[n:], y[n:], y.shape[1]), train.info
    if name == "npz":
        return npz.datasets(ds)
    if name == "folder":
        train = _folder(ds, "train_dir", data_section["transforms"])
        val = _folder(ds, "val_dir", data_section["eval_transforms"])
        shape = tuple(read_sample(train, 0, "training")[0].shape) if data_section["transforms"] else (3,) + tuple(ds["image_size"])
        return train, val, DatasetInfo(shape, len(train.classes))
    factory = _user_factory(ds)
    train, val = factory(mode="train", **ds["kwargs"]), factory(mode="val", **ds["kwargs"])
    return train, val, DatasetInfo(tuple(np.shape(train[0][0])), ds["num_classes"])


def _folder(ds: Mapping[str, Any], folder: str, transforms: Optional[List[Dict[str, Any]]]):
    """The images of ``ds[folder]`` through ``transforms`` (each sample's random numbers seeded, see
    :class:`~paddle_optim.data.transforms.SeededSamples`), or through the fixed pipeline when None."""
    if transforms is None:  # nothing random: no seeding
        return image_folder(ds[folder], build_transforms(default_transforms(ds["image_size"], ds["mean"], ds["std"])))
    return SeededSamples(image_folder(ds[folder], build_transforms(transforms)))


#: The generated data sets with float targets, each ``(x, y)`` of its resolved section (train, then val samples).
_GENERATED: Mapping[str, Callable] = {
    "regression": lambda ds: make_regression(ds["num_samples"] + ds["num_val"], ds["num_features"],
                                             ds["num_targets"], ds["noise"], ds["seed"]),
    "multilabel": lambda ds: make_multilabel(ds["num_samples"] + ds["num_val"], ds["num_features"],
                                             ds["num_labels"], ds["noise"], ds["seed"]),
}


def config_steps_per_epoch(config, world_size: int = 1, num_samples: Optional[int] = None) -> int:
    """Optimizer steps per epoch of a resolved config, for every command (``train``, ``check``,
    ``lr-plot``, ``compare``). Reads only the size of the training set, unless ``num_samples`` gives
    it. A data set that makes no step (a batch larger than it with ``drop_last``) is a ConfigError."""
    data = config["Data"]
    try:
        return steps_per_epoch(num_train_samples(data) if num_samples is None else num_samples, data["batch_size"],
                               world_size, config["Global"]["accumulate_steps"], data["drop_last"])
    except ValueError as err:
        raise ConfigError("Data.batch_size", str(err)) from None


__all__ = ["DATASETS", "build_datasets", "class_label_problems", "config_steps_per_epoch", "num_train_samples", "steps_per_epoch",
           "validate_data_section", "validate_dataset"]
