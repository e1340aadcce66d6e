"""The bundled 8x8 digits as an image folder (``root/train/<digit>/<n>.png``, ``root/val/<digit>/<n>.png``,
the ``digits`` data set's fixed split), so the ``folder`` data set and ``Data.transforms`` can be tried
offline::

    python -m paddle_optim.data.digits_folder data/digits_png      # then: train -c configs/folder_augment.yaml
"""
import argparse
import os

import numpy as np
from PIL import Image

from .arrays import split_train_val
from .digits import load_digits


def write_digits_folder(root: str, size: int = 32) -> int:
    """Write the 1,797 digits as ``size`` x ``size`` grayscale PNGs (each pixel repeated); returns the count."""
    x, y = load_digits(as_image=True)
    xt, yt, xv, yv = split_train_val(x, y, 0.2, 0)
    scale = -(-size // 8)
    for split, images, labels in (("train", xt, yt), ("val", xv, yv)):
        for n, (image, label) in enumerate(zip(images, labels)):
            folder = os.path.join(root, split, str(int(label)))
            os.makedirs(folder, exist_ok=True)
            pixels = np.kron(image[0], np.ones((scale, scale)))[:size, :size]
            Image.fromarray((pixels * 255).round().astype("uint8")).save(os.path.join(folder, f"{n}.png"))
    return len(y)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write the bundled digits as an image folder.")
    parser.add_argument("root", help="output directory (train/ and val/ are created in it)")
    parser.add_argument("--size", type=int, default=32, help="side of the square images (default 32)")
    args = parser.parse_args(argv)
    print(f"{write_digits_folder(args.root, args.size)} images in {args.root}/train and {args.root}/val")


if __name__ == "__main__":
    main()
