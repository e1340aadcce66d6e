"""User images in the ``paddle.vision.datasets.DatasetFolder`` layout: ``root/<class name>/<image>``.

Images are decoded by Paddle's default loader, resized to ``image_size``, scaled to [0, 1] and
normalised with ``mean``/``std`` per channel; the class index is the sorted position of the folder
name (as DatasetFolder does), so train and val folders must hold the same class folders.
"""
import paddle


def image_folder(root: str, image_size, mean, std):
    from paddle.vision import transforms

    transform = transforms.Compose([transforms.Resize(tuple(image_size)), transforms.ToTensor(),
                                    transforms.Normalize(mean=list(mean), std=list(std))])
    return paddle.vision.datasets.DatasetFolder(root, transform=transform)


def count_images(root: str) -> int:
    """Number of samples under ``root`` without decoding any image."""
    return len(paddle.vision.datasets.DatasetFolder(root))
