"""Built-in data sets, user data by import path, num_train_samples, and the deterministic sampler."""
import textwrap

import numpy as np
import pytest

from paddle_optim.data import build_datasets, num_train_samples, validate_data_section
from paddle_optim.data.arrays import ArrayDataset
from paddle_optim.data.sampler import EpochBatchSampler


def resolved(dataset, **data):
    section, errors = validate_data_section(dict({"dataset": dataset}, **data), "Data")
    assert errors == [], errors
    return section


def test_digits_are_real_offline_and_split_fixed_and_stratified():
    data = resolved({"name": "digits"})
    train, val, info = build_datasets(data)
    assert (len(train), len(val)) == (1438, 359) and len(train) + len(val) == 1797
    assert num_train_samples(data) == len(train)
    assert info.sample_shape == (64,) and info.num_classes == 10
    assert train.x.min() == 0.0 and train.x.max() == 1.0
    shares = np.bincount(val.y, minlength=10) / np.bincount(np.concatenate([train.y, val.y]), minlength=10)
    np.testing.assert_allclose(shares, 0.2, atol=0.01)
    again = build_datasets(data)[1]
    np.testing.assert_array_equal(again.x, val.x)
    image = build_datasets(resolved({"name": "digits", "as_image": True}))[2]
    assert image.sample_shape == (1, 8, 8)


def test_synthetic_and_npz_sizes_agree_with_num_train_samples(tmp_path):
    synthetic = resolved({"name": "synthetic", "num_samples": 100, "num_val": 20, "shape": [1, 4, 4]})
    train, val, info = build_datasets(synthetic)
    assert (len(train), len(val), info.sample_shape) == (100, 20, (1, 4, 4))
    assert num_train_samples(synthetic) == 100

    rng = np.random.RandomState(0)
    np.savez(tmp_path / "train.npz", x=rng.randn(50, 3).astype("float32"), y=rng.randint(0, 5, 50))
    split = resolved({"name": "npz", "train": str(tmp_path / "train.npz"), "val_fraction": 0.2})
    train, val, info = build_datasets(split)
    assert num_train_samples(split) == len(train) and len(train) + len(val) == 50
    np.savez(tmp_path / "val.npz", feats=rng.randn(7, 3), labels=rng.randint(0, 5, 7))
    np.savez(tmp_path / "train2.npz", feats=rng.randn(30, 3), labels=rng.randint(0, 5, 30))
    separate = resolved({"name": "npz", "train": str(tmp_path / "train2.npz"), "val": str(tmp_path / "val.npz"),
                         "x_key": "feats", "y_key": "labels", "num_classes": 5})
    train, val, info = build_datasets(separate)
    assert (len(train), len(val), info.num_classes) == (30, 7, 5) and num_train_samples(separate) == 30


def test_targets_of_any_shape_and_dtype(tmp_path):
    """Class indices (N,) or (N, 1) -> int64 (N,); float targets keep their shape ((N,) read as (N, 1)),
    split at random; the generated regression / multi-label sets give float targets of their width."""
    rng = np.random.RandomState(0)
    np.savez(tmp_path / "column.npz", x=rng.randn(40, 3), y=rng.randint(0, 4, (40, 1)))
    train, val, info = build_datasets(resolved({"name": "npz", "train": str(tmp_path / "column.npz")}))
    assert train.y.shape == (len(train),) and train.y.dtype == np.int64 and info.num_classes == 4
    values = rng.randn(50).astype("float64")
    np.savez(tmp_path / "values.npz", x=rng.randn(50, 3), y=values)
    section = resolved({"name": "npz", "train": str(tmp_path / "values.npz"), "targets": "values", "val_fraction": 0.2})
    train, val, info = build_datasets(section)
    assert (len(train), len(val), train.y.shape[1:], train.y.dtype, info.num_classes) == (40, 10, (1,), np.float32, 1)
    assert num_train_samples(section) == 40
    assert sorted(np.concatenate([train.y, val.y]).ravel().tolist()) == sorted(values.astype("float32").tolist())
    np.savez(tmp_path / "multi.npz", x=rng.randn(30, 3), y=(rng.rand(30, 6) > 0.5).astype("float32"))
    train, _, info = build_datasets(resolved({"name": "npz", "train": str(tmp_path / "multi.npz"), "targets": "values"}))
    assert train.y.shape[1:] == (6,) and info.num_classes == 6
    for name, width in (("regression", "num_targets"), ("multilabel", "num_labels")):
        train, val, info = build_datasets(resolved({"name": name, "num_samples": 20, "num_val": 5, width: 3}))
        assert (train.y.shape, val.y.shape, train.y.dtype, info.num_classes) == ((20, 3), (5, 3), np.float32, 3)
    ml = build_datasets(resolved({"name": "multilabel", "num_samples": 2000, "num_val": 5}))[0].y
    assert set(np.unique(ml)) == {0.0, 1.0} and 0.35 < ml.mean() < 0.65  # each label on for about half


def test_image_folder_layout(tmp_path):
    from PIL import Image

    for split, count in (("train", 3), ("val", 1)):
        for label in ("cat", "dog"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(np.full((10, 12, 3), 40 * i, dtype="uint8")).save(tmp_path / split / label / f"{i}.png")
    data = resolved({"name": "folder", "train_dir": str(tmp_path / "train"), "val_dir": str(tmp_path / "val"),
                     "image_size": [8, 8]})
    train, val, info = build_datasets(data)
    assert (len(train), len(val), info.num_classes, info.sample_shape) == (6, 2, 2, (3, 8, 8))
    assert num_train_samples(data) == 6
    x, y = train[0]
    assert tuple(x.shape) == (3, 8, 8) and y == 0


def test_user_data_set_by_import_path(tmp_path, monkeypatch):
    (tmp_path / "my_data.py").write_text(textwrap.dedent("""
        import numpy as np
        from paddle_optim.data.arrays import ArrayDataset

        def make(mode, size=10):
            n = size if mode == "train" else 4
            return ArrayDataset(np.zeros((n, 3)), np.arange(n) % 2, 2)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    data = resolved({"name": "my_data:make", "kwargs": {"size": 12}, "num_classes": 2})
    train, val, info = build_datasets(data)
    assert (len(train), len(val), info.sample_shape) == (12, 4, (3,))
    assert num_train_samples(data) == 12
    _, errors = validate_data_section({"dataset": {"name": "my_data:make", "kwargs": {"sise": 3},
                                                   "num_classes": 2}}, "Data")
    assert errors[0].key == "Data.dataset.kwargs.sise" and "did you mean 'size'" in str(errors[0])
    _, errors = validate_data_section({"dataset": {"name": "my_data:mak", "num_classes": 2}}, "Data")
    assert "has no 'mak'" in str(errors[0]) and "did you mean 'make'" in str(errors[0])


@pytest.mark.parametrize("dataset, key, fragment", [
    ({"name": "npz", "train": "/no/such.npz"}, "Data.dataset.train", "file not found"),
    ({"name": "folder", "train_dir": "/no/dir", "val_dir": "/no/dir"}, "Data.dataset.train_dir", "not found"),
    ({"name": "digits", "val_fraction": 1.0}, "Data.dataset.val_fraction", "allowed: (0, 1)"),
    ({"name": "no_such_module:make", "num_classes": 2}, "Data.dataset.name", "cannot import module"),
    ({}, "Data.dataset.name", "is required"),
])
def test_bad_data_sections(dataset, key, fragment):
    _, errors = validate_data_section({"dataset": dataset}, "Data")
    assert errors and errors[0].key == key and fragment in str(errors[0]), errors


def test_sampler_order_is_a_function_of_seed_and_epoch_and_resumes_mid_epoch():
    ds = ArrayDataset(np.zeros((23, 1)), np.zeros(23), 2)
    sampler = EpochBatchSampler(ds, 4, seed=5)
    sampler.set_epoch(3)
    full = list(sampler)
    assert len(full) == 6 and sorted(i for b in full for i in b) == list(range(23))
    other = EpochBatchSampler(ds, 4, seed=5)
    other.set_epoch(3)
    assert list(other) == full
    other.set_epoch(4)
    assert list(other) != full
    other.set_epoch(3, start_batch=4)
    assert list(other) == full[4:] and len(other) == 2


def test_sampler_shards_ranks_with_padding_for_training_and_exactly_for_evaluation():
    ds = ArrayDataset(np.zeros((11, 1)), np.zeros(11), 2)
    shards = [EpochBatchSampler(ds, 3, num_replicas=2, rank=r, seed=0) for r in (0, 1)]
    for s in shards:
        s.set_epoch(1)
    seen = [[i for b in s for i in b] for s in shards]
    assert len(seen[0]) == len(seen[1]) == 6 and set(seen[0]) | set(seen[1]) == set(range(11))
    evals = [EpochBatchSampler(ds, 3, num_replicas=2, rank=r, shuffle=False, pad=False) for r in (0, 1)]
    assert sorted(i for s in evals for b in s for i in b) == list(range(11))


def test_digits_ship_with_the_package_and_need_no_scikit_learn():
    import subprocess
    import sys

    # A fresh interpreter in which importing scikit-learn fails: the data must come from package data.
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import paddle_optim.data.digits as d, numpy as np\n"
            "x, y = d.load_digits()\n"
            "print(x.shape, np.bincount(y).tolist(), round(float(x.sum()), 3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(1797, 64) [178, 182, 177, 183, 181, 182, 181, 179, 174, 180] 35107.375"
    import os

    from paddle_optim.data import digits

    here = os.path.dirname(digits.DIGITS_CSV)
    assert os.path.dirname(here) == os.path.dirname(digits.__file__)
    assert "CC BY 4.0" in open(os.path.join(here, "README.md"), encoding="utf-8").read()
