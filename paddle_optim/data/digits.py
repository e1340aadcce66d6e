"""The 8x8 handwritten digits bundled with scikit-learn (1,797 images, 10 classes), read offline.

The file ``sklearn/datasets/data/digits.csv.gz`` ships inside the scikit-learn wheel; it is read with
numpy only, because importing scikit-learn after Paddle 2.6 crashes (both bundle zlib). Each row is
64 pixel values in 0..16 followed by the label. Pixels are scaled to [0, 1].
"""
import gzip
import importlib.util
import os

import numpy as np

from ..errors import UserError

def digits_csv_path() -> str:
    """Path of the bundled ``digits.csv.gz`` (found without importing scikit-learn)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the digits data set needs scikit-learn installed (its wheel ships the data file): "
                        "pip install scikit-learn")
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz")
    if not os.path.exists(path):
        raise UserError(f"scikit-learn is installed but has no digits data file at {path}")
    return path


def load_digits(as_image: bool = False):
    """``(x, y)``: x float32 of shape (1797, 64), or (1797, 1, 8, 8) when ``as_image``; y int64."""
    with gzip.open(digits_csv_path(), "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype="float32")
    x, y = table[:, :-1] / 16.0, table[:, -1].astype("int64")
    if as_image:
        x = x.reshape(-1, 1, 8, 8)
    return x, y
