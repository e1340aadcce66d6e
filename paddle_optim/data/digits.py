"""The 8x8 handwritten digits (UCI optdigits, test part: 1,797 images, 10 classes), shipped offline.

The data file ``optdigits/digits.csv.gz`` is package data of paddle-optim (about 57 KB; its source and
CC BY 4.0 licence are in ``optdigits/README.md`` beside it). Each row is 64 pixel values in 0..16
followed by the label; pixels are scaled to [0, 1].
"""
import gzip
import os

import numpy as np

DIGITS_CSV = os.path.join(os.path.dirname(__file__), "optdigits", "digits.csv.gz")


def load_digits(as_image: bool = False):
    """``(x, y)``: x float32 of shape (1797, 64), or (1797, 1, 8, 8) when ``as_image``; y int64."""
    with gzip.open(DIGITS_CSV, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype="float32")
    x, y = table[:, :-1] / 16.0, table[:, -1].astype("int64")
    if as_image:
        x = x.reshape(-1, 1, 8, 8)
    return x, y
