"""``Data.transforms`` / ``Data.eval_transforms``: validation (one line at the item's key, before anything
is written), the default pipeline unchanged, augmentation applied to its split only, and augmented runs
that are reproducible with 0 and 2 DataLoader workers and resume bit-identically (epoch end and mid-epoch)."""
import os
import random
import sys

import numpy as np
import paddle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddle_optim.cli import main
from paddle_optim.data import build_datasets, validate_data_section
from paddle_optim.data.transforms import SeededSamples

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reliability"))
from rel_helpers import assert_same_run, fault_train, load_checkpoint  # noqa: E402
from configs import write_config  # noqa: E402

AUGMENT = [{"name": "RandomResizedCrop", "size": 8, "scale": [0.5, 1.0]}, "RandomHorizontalFlip",
           {"name": "ColorJitter", "brightness": 0.3, "contrast": 0.3}, "ToTensor",
           {"name": "Normalize", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}]


def make_folder(root, size=12):
    """``root/{train,val}/{dark,light}/<i>.png``: 12 + 4 noisy RGB images per class."""
    from PIL import Image

    rng = np.random.RandomState(0)
    for split, count in (("train", 12), ("val", 4)):
        for label, level in (("dark", 60), ("light", 190)):
            os.makedirs(os.path.join(root, split, label))
            for i in range(count):
                pixels = np.clip(level + rng.randn(size, size, 3) * 40, 0, 255).astype("uint8")
                Image.fromarray(pixels).save(os.path.join(root, split, label, f"{i}.png"))
    return {"name": "folder", "train_dir": os.path.join(root, "train"), "val_dir": os.path.join(root, "val"),
            "image_size": [8, 8]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(str(tmp_path_factory.mktemp("images")))


def section(folder, **keys):
    resolved, errors = validate_data_section(dict({"dataset": folder, "batch_size": 4}, **keys), "Data")
    assert not errors, [str(e) for e in errors]
    return resolved


BAD = [  # (Data keys, key named in the error, fragment of the message)
    ({"transforms": [{"name": "ColorJitter", "brightnes": 0.2}, "ToTensor"]}, "Data.transforms[0].brightnes",
     "not an argument of ColorJitter (did you mean 'brightness'?); allowed: brightness, contrast, saturation, hue"),
    ({"transforms": ["RandomHorizontalFlip", "Flip", "ToTensor"]}, "Data.transforms[1].name",
     "unknown transform 'Flip'; allowed: BrightnessTransform, CenterCrop, ColorJitter,"),
    ({"transforms": [{"name": "Resize"}, "ToTensor"]}, "Data.transforms[0].size", "is required by Resize"),
    ({"transforms": [{"name": "Resize", "size": "big"}, "ToTensor"]}, "Data.transforms[0]",
     "Resize(size='big') failed: AssertionError (the class rejects these arguments)"),
    ({"transforms": [{"name": "RandomRotation", "degrees": -5}, "ToTensor"]}, "Data.transforms[0]",
     "RandomRotation(degrees=-5) failed: ValueError: If degrees is a single number, it must be positive"),
    # accepted by the constructor, rejected on the folder's first image: still before training
    ({"transforms": [{"name": "ColorJitter", "brightness": -1}, "ToTensor"]}, "Data.transforms[0]",
     "ColorJitter(brightness=-1) on "),
    ({"transforms": [{"name": "RandomCrop", "size": 50}, "ToTensor"]}, "Data.transforms[0]", "empty range"),
    ({"transforms": [{"name": "Resize", "size": 8}]}, "Data.transforms",
     "must turn an image into a float32 array (C, H, W); on "),
    ({"eval_transforms": [{"name": "Resize", "size": 10}, "ToTensor"]}, "Data.eval_transforms",
     "the training images come out (3, 8, 8), the validation images (3, 10, 10)"),
    ({"transforms": [{"name": "Resize", "size": 8, "keys": ["image"]}, "ToTensor"]}, "Data.transforms[0].keys",
     "is not configurable here"),
    ({"transforms": "ToTensor"}, "Data.transforms", "expected list"),
    ({"transforms": []}, "Data.transforms", "expected a list of transforms"),
    ({"transforms": [3]}, "Data.transforms[0]", "expected a transform name"),
    ({"transforms": [{"name": "nosuch_pkg.aug:Cutout"}]}, "Data.transforms[0].name", "cannot import module"),
]


@pytest.mark.parametrize("keys, key, fragment", BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_a_bad_transform_list_is_one_error_at_its_key(folder, keys, key, fragment):
    _, errors = validate_data_section(dict({"dataset": folder}, **keys), "Data")
    assert [e.key for e in errors] == [key], [str(e) for e in errors]
    assert fragment in errors[0].message, errors[0].message


_ARGUMENT = st.one_of(st.none(), st.booleans(), st.integers(-3, 40), st.floats(allow_nan=True, allow_infinity=True),
                      st.sampled_from(["", "x", "random", "CHW", "bilinear"]), st.lists(st.integers(-2, 40), max_size=5),
                      st.lists(st.floats(-1, 2), max_size=4))
_ITEM = st.one_of(st.sampled_from(["ToTensor", "RandomHorizontalFlip", "Flip", 3]), st.fixed_dictionaries(
    {"name": st.sampled_from(["Resize", "RandomResizedCrop", "ColorJitter", "RandomCrop", "Normalize", "Pad",
                              "RandomRotation", "RandomErasing", "Grayscale", "ToTensor", "Transpose", "nosuch"])},
    optional={k: _ARGUMENT for k in ("size", "scale", "brightness", "hue", "mean", "std", "padding", "degrees",
                                     "prob", "value", "num_output_channels", "data_format", "zz")}))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(_ITEM, min_size=1, max_size=4))
def test_any_transform_list_validates_and_builds_or_is_config_errors(folder, items):
    """Never a traceback: a list resolves (then the data sets build and give the probed shape) or every
    problem is a ConfigError at a Data.transforms key."""
    # images of 12x12: lists that keep the size are valid with the fixed validation pipeline
    resolved, errors = validate_data_section({"dataset": dict(folder, image_size=[12, 12]), "transforms": items}, "Data")
    if errors:
        assert all(e.key.startswith("Data.transforms") for e in errors), [str(e) for e in errors]
        return
    train, _, info = build_datasets(resolved)
    assert np.asarray(train[1][0]).shape == info.sample_shape and np.asarray(train[1][0]).dtype == np.float32


def test_transforms_belong_to_image_folders():
    _, errors = validate_data_section({"dataset": {"name": "digits"}, "eval_transforms": ["ToTensor"]}, "Data")
    assert [e.key for e in errors] == ["Data.eval_transforms"] and "folder data set only" in errors[0].message


def test_train_reports_a_bad_list_before_writing_anything(folder, tmp_path, capsys):
    config, out = write_config(tmp_path, "bad", run_config(folder, 0), {"Data": {"transforms": [
        "RandomHorizontalFlip", "ToTensor", {"name": "ColorJitter", "brightnes": 0.2}]}})
    for command in ("check", "train"):
        assert main([command, "-c", config]) == 2
        err = capsys.readouterr().err
        assert "error: Data.transforms[2].brightnes: not an argument of ColorJitter" in err and "Traceback" not in err
    assert not out.exists()


def test_without_the_keys_the_fixed_pipeline_is_unchanged(folder):
    from paddle.vision import transforms as T

    train, val, info = build_datasets(section(folder))
    assert isinstance(train, paddle.vision.datasets.DatasetFolder) and info.sample_shape == (3, 8, 8)
    fixed = T.Compose([T.Resize((8, 8)), T.ToTensor(), T.Normalize(mean=[0.5] * 3, std=[0.5] * 3)])
    image = train.loader(train.samples[5][0])
    np.testing.assert_array_equal(train[5][0], fixed(image).numpy())
    # the same steps written as a list give the same bits
    listed = build_datasets(section(folder, transforms=[{"name": "Resize", "size": [8, 8]}, "ToTensor", {
        "name": "Normalize", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}]))[0]
    np.testing.assert_array_equal(listed[5][0], train[5][0])


def test_each_list_applies_to_its_own_split_and_samples_depend_on_seed_epoch_index_only(folder):
    flip = [{"name": "RandomVerticalFlip", "prob": 1.0}, "ToTensor"]
    train, val, info = build_datasets(section(folder, transforms=flip, eval_transforms=["ToTensor"],
                                              **{"dataset": dict(folder, image_size=[12, 12])}))
    assert isinstance(train, SeededSamples) and isinstance(val, SeededSamples) and info.sample_shape == (3, 12, 12)
    raw = np.asarray(train.dataset.loader(train.dataset.samples[0][0]), dtype="float32").transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(train[0][0], raw[:, ::-1], rtol=0, atol=1e-6)  # flipped
    raw_val = np.asarray(val.dataset.loader(val.dataset.samples[0][0]), dtype="float32").transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(val[0][0], raw_val, rtol=0, atol=1e-6)  # not flipped

    augmented = build_datasets(section(folder, transforms=AUGMENT))[0]
    python_state, numpy_state = random.getstate(), np.random.get_state()
    first = augmented[3][0]
    random.random(), np.random.rand()  # the caller's generators do not matter ...
    np.testing.assert_array_equal(augmented[3][0], first)
    augmented.set_epoch(seed=0, epoch=1)  # ... the epoch (and seed) do
    assert not np.array_equal(augmented[3][0], first)
    random.setstate(python_state)
    np.random.set_state(numpy_state)
    augmented[4]  # and a sample leaves them where they were
    assert random.getstate() == python_state and np.random.get_state()[2] == numpy_state[2]


# 24 training images, batches of 4: 6 steps per epoch, 3 epochs; latest.* every 4 steps (mid-epoch 1, 2 and 3).
def run_config(folder, workers):
    return {"Global": {"epochs": 3, "seed": 5, "device": "cpu", "log_interval": 2},
            "Data": {"dataset": folder, "batch_size": 4, "num_workers": workers, "transforms": AUGMENT},
            "Model": {"name": "cnn", "channels": [4]},
            "Optimizer": {"name": "Momentum", "learning_rate": 0.05, "momentum": 0.9},
            "LRScheduler": {"name": "CosineAnnealingDecay"},
            "EMA": {"enable": False},
            "Checkpoint": {"interval_steps": 4, "save_interval": 1, "keep_last": 0}}


@pytest.fixture(scope="module")
def full_run(folder, tmp_path_factory):
    config, out = write_config(tmp_path_factory.mktemp("full"), "full", run_config(folder, 2))
    assert main(["train", "-c", config]) == 0
    return out


def test_augmented_runs_are_bit_identical_with_0_and_2_workers(full_run, folder, tmp_path):
    config, out = write_config(tmp_path, "no_workers", run_config(folder, 0))
    assert main(["train", "-c", config]) == 0
    assert_same_run(full_run, out)  # every checkpoint (incl. the RNG states), both CSV tables, metrics.json
    plain = run_config(folder, 0)
    plain["Data"]["transforms"] = [{"name": "Resize", "size": 8}] + AUGMENT[3:]  # nothing random
    config, out = write_config(tmp_path, "plain", plain)
    assert main(["train", "-c", config]) == 0
    assert not np.array_equal(load_checkpoint(out / "checkpoints" / "latest")[0]["fc.weight"],
                              load_checkpoint(full_run / "checkpoints" / "latest")[0]["fc.weight"])


def test_an_augmented_run_resumed_at_an_epoch_end_ends_bit_identical(full_run, folder, tmp_path):
    config, out = write_config(tmp_path, "resumed", run_config(folder, 2))
    assert main(["train", "-c", config, "--resume", str(full_run / "checkpoints" / "epoch_1")]) == 0
    for name in ("latest", "epoch_3"):
        full, resumed = (load_checkpoint(o / "checkpoints" / name) for o in (full_run, out))
        for a, b in zip(full[:2], resumed[:2]):  # weights, optimizer state
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a if isinstance(a[k], np.ndarray))
        assert full[2]["rng"] == resumed[2]["rng"] and full[2]["global_step"] == resumed[2]["global_step"] == 18


def test_an_augmented_run_killed_mid_epoch_and_resumed_ends_bit_identical(full_run, folder, tmp_path):
    # Killed without workers (a SIGKILLed trainer's orphaned DataLoader workers keep its pipes open),
    # resumed with 2, compared with the uninterrupted run with 2: the samples do not depend on either.
    config, out = write_config(tmp_path, "killed", run_config(folder, 0))
    code, log = fault_train(config, "train_step:10")  # in epoch 2, after the save at step 8
    assert code != 0 and "fault injection: SIGKILL" in log, log[-2000:]
    assert load_checkpoint(out / "checkpoints" / "latest")[2]["global_step"] == 8
    assert main(["train", "-c", config, "-o", "Data.num_workers=2", "--resume"]) == 0
    assert_same_run(full_run, out)
