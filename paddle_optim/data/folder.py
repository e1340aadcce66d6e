"""User images in the ``paddle.vision.datasets.DatasetFolder`` layout: ``root/<class name>/<image>``.

Images are decoded by Paddle's default loader and passed through ``Data.transforms`` (default: resized
to ``image_size``, scaled to [0, 1] and normalised with ``mean``/``std`` per channel); the class index
is the sorted position of the folder name (as DatasetFolder does), so train and val folders must hold
the same class folders.
"""
import paddle


def image_folder(root: str, transform):
    """The images under ``root`` through ``transform`` (a callable on a PIL image, see
    :func:`paddle_optim.data.transforms.build_transforms`)."""
    return paddle.vision.datasets.DatasetFolder(root, transform=transform)


def count_images(root: str) -> int:
    """Number of samples under ``root`` without decoding any image."""
    return len(paddle.vision.datasets.DatasetFolder(root))
