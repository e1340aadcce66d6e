"""``Data.transforms`` (training) and ``Data.eval_transforms`` of the ``folder`` data set: lists of
``paddle.vision.transforms`` by name with their own arguments, or a user class by import path::

    transforms: [{name: RandomResizedCrop, size: 32, scale: [0.5, 1.0]}, RandomHorizontalFlip,
                 {name: ColorJitter, brightness: 0.2}, ToTensor, {name: Normalize, mean: [0.5, 0.5, 0.5],
                 std: [0.5, 0.5, 0.5]}]

Validated once (:func:`validate_transforms`: the name, the arguments against the class's signature,
the construction), then tried on the first image of the folder (:func:`probe_transforms`: each step
runs, the result is a float32 ``(C, H, W)`` array), so that ``check`` and ``train`` report a bad
pipeline before anything is written. Absent, the folder's fixed Resize/ToTensor/Normalize applies.

Reproducibility: the random transforms draw from Python's ``random`` and numpy's global generator
(:mod:`~paddle_optim.data.randomness`). :class:`SeededSamples` seeds both from ``(seed, epoch, sample
index)`` before each sample, so the augmentation of a sample is the same whichever process or worker
computes it, with any number of workers, and after a resume at any step.
"""
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import paddle

from ..config.import_path import check_kwargs, is_import_path, load_object
from ..config.schema import join_key, unknown_name_message
from ..errors import ConfigError, user_code_failed
from .randomness import seeded

#: The classes of ``paddle.vision.transforms`` a list may name (the same in Paddle 2.6 and 3.x).
TRANSFORMS = ("Resize", "RandomResizedCrop", "CenterCrop", "RandomCrop", "Pad", "RandomHorizontalFlip",
              "RandomVerticalFlip", "RandomRotation", "RandomAffine", "RandomPerspective", "ColorJitter",
              "BrightnessTransform", "ContrastTransform", "SaturationTransform", "HueTransform", "Grayscale",
              "ToTensor", "Normalize", "Transpose", "RandomErasing")

#: BaseTransform's ``keys`` selects inputs of a tuple; a folder's transforms see one image.
_NOT_CONFIGURABLE = ("keys",)


def _transform_class(name: str) -> Callable:
    from paddle.vision import transforms

    return getattr(transforms, name)  # name is one of TRANSFORMS


def _describe(spec: Mapping[str, Any]) -> str:
    return f"{spec['name']}({', '.join(f'{k}={v!r}' for k, v in spec.items() if k != 'name')})"


def validate_transforms(raw: Any, path: str) -> Tuple[Optional[List[Dict[str, Any]]], List[ConfigError]]:
    """Resolve a transform list: each item a name or ``{name: ..., <its arguments>}``; returns the list
    as mappings (``[{name: ToTensor}, ...]``) and every problem found, each at its item's key."""
    if raw is None:
        return None, []
    if not isinstance(raw, list) or not raw:
        return None, [ConfigError(path, f"expected a list of transforms such as [{{name: RandomHorizontalFlip}}, "
                                        f"{{name: ToTensor}}], got {raw!r}")]
    resolved, errors = [], []
    for i, item in enumerate(raw):
        spec = {"name": item} if isinstance(item, str) else item
        key = join_key(path, i)
        if not isinstance(spec, Mapping) or "name" not in spec:
            errors.append(ConfigError(key, f"expected a transform name or {{name: ..., <its arguments>}}, got {item!r}"))
            continue
        spec = dict(spec)
        problems = _check_spec(spec, key)
        errors += problems
        if not problems:
            resolved.append(spec)
    return resolved, errors


def _check_spec(spec: Dict[str, Any], key: str) -> List[ConfigError]:
    name, args = spec["name"], {k: v for k, v in spec.items() if k != "name"}
    if is_import_path(name):
        try:
            cls = load_object(name, join_key(key, "name"))
        except ConfigError as err:
            return [err]
    elif isinstance(name, str) and name in TRANSFORMS:
        cls = _transform_class(name)
    else:
        return [ConfigError(join_key(key, "name"), unknown_name_message("transform", name, TRANSFORMS) +
                            " (or an import path 'package.module:Class')")]
    errors = [ConfigError(join_key(key, k), "is not configurable here: a folder's transforms see the image only")
              for k in _NOT_CONFIGURABLE if k in args]
    errors += check_kwargs(cls, {k: v for k, v in args.items() if k not in _NOT_CONFIGURABLE}, key,
                           reserved=_NOT_CONFIGURABLE)
    if errors:
        return errors
    try:
        cls(**args)
    except Exception as err:  # the class's own checks (asserts, ValueError, ...): one line, at validation
        return [_failed(key, _describe(spec), err)]
    return []


def _failed(key: str, what: str, err: Exception) -> ConfigError:
    if str(err).strip():
        return user_code_failed(key, what, err)
    # Paddle's transforms check many arguments with a bare assert
    return ConfigError(key, f"{what} failed: {type(err).__name__} (the class rejects these arguments); "
                            f"see the documentation of {what.partition('(')[0]}")


def default_transforms(image_size: Sequence[int], mean: Sequence[float], std: Sequence[float]) -> List[Dict[str, Any]]:
    """The fixed pipeline of a folder without ``Data.transforms``: Resize to ``image_size``, ToTensor, Normalize."""
    return [{"name": "Resize", "size": list(image_size)}, {"name": "ToTensor"},
            {"name": "Normalize", "mean": list(mean), "std": list(std)}]


class ImagePipeline:
    """A resolved list as one callable (``paddle.vision.transforms.Compose``) that returns a numpy array:
    a ``paddle.Tensor`` made in a DataLoader worker process crashes the worker when Paddle hands it to
    the main process through shared memory (a segfault on Paddle 2.6.2 and 3.x), a numpy array does not."""

    def __init__(self, specs: Sequence[Mapping[str, Any]]):
        from paddle.vision import transforms

        self.compose = transforms.Compose([_build_one(spec) for spec in specs])

    def __call__(self, image) -> np.ndarray:
        value = self.compose(image)
        return value.numpy() if isinstance(value, paddle.Tensor) else value


def build_transforms(specs: Sequence[Mapping[str, Any]]) -> ImagePipeline:
    """The callable of a resolved list."""
    return ImagePipeline(specs)


def _build_one(spec: Mapping[str, Any]) -> Callable:
    name = spec["name"]
    cls = load_object(name, "name") if is_import_path(name) else _transform_class(name)
    return cls(**{k: v for k, v in spec.items() if k != "name"})


def probe_transforms(specs: Sequence[Mapping[str, Any]], image, image_path: str, path: str) -> Tuple[int, ...]:
    """Run a resolved list on ``image`` (a PIL image read from ``image_path``) one transform at a time;
    return the sample shape ``(C, H, W)``. A transform that fails, or a result that is not a float32
    ``(C, H, W)`` array, is a :class:`ConfigError` at ``path`` naming the transform."""
    value = image
    with seeded(0, 0, 0):  # random transforms draw something; the caller's generators are untouched
        for i, spec in enumerate(specs):
            try:
                value = _build_one(spec)(value)
            except Exception as err:  # any transform, Paddle's or the user's, on a real image: one line
                raise _failed(join_key(path, i), f"{_describe(spec)} on {image_path}", err) from None
    dtype = getattr(value, "dtype", None)
    if not isinstance(value, (np.ndarray, paddle.Tensor)) or len(value.shape) != 3 or \
            dtype not in (np.float32, paddle.float32):
        got = f"{dtype} array of shape {tuple(value.shape)}" if dtype is not None else type(value).__name__
        raise ConfigError(path, f"must turn an image into a float32 array (C, H, W); on {image_path} it gives "
                                f"{got}: end the list with {{name: ToTensor}} (then {{name: Normalize, ...}})")
    return tuple(int(n) for n in value.shape)


def probe_folder(specs: Sequence[Mapping[str, Any]], root: str, path: str) -> Optional[Tuple[int, ...]]:
    """:func:`probe_transforms` on the first image of the folder ``root``; None when it holds no images."""
    try:
        folder = paddle.vision.datasets.DatasetFolder(root)
    except RuntimeError:  # no class folders / images: reported where the folder is read
        return None
    image_path = folder.samples[0][0]
    try:
        image = folder.loader(image_path)
    except OSError as err:  # PIL's UnidentifiedImageError too
        raise ConfigError(path, f"cannot try the transforms: {image_path} is not a readable image ({err})") from None
    return probe_transforms(specs, image, image_path, path)


class SeededSamples(paddle.io.Dataset):
    """``dataset`` with the random numbers of sample ``i`` in epoch ``e`` drawn from ``(seed, e, i)``.

    ``random`` and ``numpy.random`` are seeded before each sample and restored after it (so the main
    process's generators, saved in checkpoints, never move). :meth:`set_epoch` selects the epoch;
    ``paddle_optim.data.loader.iterate_batches`` calls it with the batch sampler's seed and epoch
    before it creates the epoch's loader (worker processes start from the dataset as it is then).
    """

    def __init__(self, dataset):
        self.dataset = dataset
        self.seed = 0
        self.epoch = 0

    def set_epoch(self, seed: int, epoch: int) -> None:
        self.seed, self.epoch = int(seed), int(epoch)

    @property
    def classes(self):
        return self.dataset.classes

    @property
    def samples(self):  # ``(path, label)`` per sample: what error messages name
        return self.dataset.samples

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        with seeded(self.seed, self.epoch, index):
            return self.dataset[index]


__all__ = ["TRANSFORMS", "ImagePipeline", "SeededSamples", "build_transforms", "default_transforms", "probe_folder",
           "probe_transforms", "validate_transforms"]
