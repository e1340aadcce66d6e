"""User images in the ``paddle.vision.datasets.DatasetFolder`` layout: ``root/<class name>/<image>``.

Images are decoded by Paddle's default loader and passed through ``Data.transforms`` (default: resized
to ``image_size``, scaled to [0, 1] and normalised with ``mean``/``std`` per channel); the class index
is the sorted position of the folder name (as DatasetFolder does), so train and val folders must hold
the same class folders.

The layout is checked when the config is read (:func:`check_folders`), with Paddle's own scan (the
same class folders and image extensions DatasetFolder uses), before anything is built or written:
images without class folders and class folders without images are one error line each. An image that
cannot be decoded is found only when it is read: see :mod:`paddle_optim.data.loader`.
"""
import os
from typing import Any, Dict, List, Mapping

import paddle

from ..errors import ConfigError


def image_folder(root: str, transform):
    """The images under ``root`` through ``transform`` (a callable on a PIL image, see
    :func:`paddle_optim.data.transforms.build_transforms`)."""
    return paddle.vision.datasets.DatasetFolder(root, transform=transform)


def scan(root: str) -> Dict[str, int]:
    """``{class folder: number of images}`` as DatasetFolder sees ``root``, decoding nothing."""
    from paddle.vision.datasets.folder import IMG_EXTENSIONS, make_dataset

    classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    counts = dict.fromkeys(classes, 0)
    for _, label in make_dataset(root, {c: i for i, c in enumerate(classes)}, IMG_EXTENSIONS):
        counts[classes[label]] += 1
    return counts


def count_images(root: str) -> int:
    """Number of samples under ``root`` without decoding any image."""
    return sum(scan(root).values())


def check_folders(ds: Mapping[str, Any]) -> List[ConfigError]:
    """Every problem of the resolved ``folder`` section's layout (empty: DatasetFolder can read both)."""
    from paddle.vision.datasets.folder import IMG_EXTENSIONS

    extensions = ", ".join(IMG_EXTENSIONS)
    problems, classes = [], {}
    for key in ("train_dir", "val_dir"):
        root, key_path = ds[key], f"Data.dataset.{key}"
        counts = classes[key] = scan(root)
        if not counts:
            loose = sum(1 for e in os.scandir(root) if e.is_file() and e.name.lower().endswith(IMG_EXTENSIONS))
            found = f"{loose} image(s) but no class folders" if loose else "no class folders"
            problems.append(ConfigError(key_path, f"{root} has {found}; allowed: {root}/<class name>/<image>, one "
                                        "folder per class"))
            continue
        empty = [c for c, n in counts.items() if n == 0]
        if empty:
            problems.append(ConfigError(key_path, f"class folder(s) {', '.join(map(repr, empty))} of {root} hold no "
                                        f"images ({extensions}); allowed: at least one image per class folder"))
    if not problems and list(classes["val_dir"]) != list(classes["train_dir"]):
        problems.append(ConfigError("Data.dataset.val_dir", f"class folders {list(classes['val_dir'])} of {ds['val_dir']} "
                                    f"differ from train_dir's {list(classes['train_dir'])}; allowed: the same class "
                                    "folders"))
    return problems
