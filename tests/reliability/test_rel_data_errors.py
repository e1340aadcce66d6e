"""Bad data sets end a run with ONE ``error:`` line naming the file or sample and the cause, exit code 2,
no traceback, never a hang, and nothing of an earlier run lost.

* Checked when the config is read, before ``Global.output_dir`` exists: one table of malformed ``npz``
  files and image-folder layouts, run in-process through the CLI's own entry point
  (``paddle_optim.cli.main``, what ``paddle-optim`` calls) for ``train`` and ``check``.
* Found when a sample is read: a truncated PNG (no workers and 2 DataLoader workers) while resuming a
  finished run, a user data set whose ``__getitem__`` raises or returns a sample of another shape, a
  worker that crashes (SIGSEGV), and a failing rank under ``--nproc 2``: real ``python -m paddle_optim
  train`` subprocesses, each with a hard timeout (a hang guard, not a timing assertion), and the
  earlier run's checkpoints byte-identical afterwards.
"""
import re
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from launching import run_process
from paddle_optim.cli import main
from rel_helpers import child_env

TIMEOUT = 180
RNG = np.random.RandomState(0)
X = RNG.randn(30, 4).astype("float32")
Y = np.arange(30) % 3


def base_config(dataset, out, **changes):
    config = {"Global": {"epochs": 1, "seed": 3, "device": "cpu", "log_interval": 1, "output_dir": str(out)},
              "Data": {"dataset": dataset, "batch_size": 4},
              "Model": {"name": "mlp", "hidden_sizes": [8]},
              "Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9},
              "Checkpoint": {"save_interval": 1, "keep_last": 1}}
    for section, values in changes.items():
        config[section] = dict(config.get(section) or {}, **values)
    return config


def write(tmp_path, config, name="run"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def one_error_line(err):
    """The only line of ``err``, which must be an ``error:`` line (nothing else, no traceback)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --- checked when the config is read -----------------------------------------------------------------

def good(**arrays):
    return dict({"x": X, "y": Y}, **arrays)


def at(index, value, base=Y):
    y = base.copy()
    y[index] = value
    return y


def text_file(path):
    path.write_text("x,y\n0.5,1\n")


def npy_file(path):
    with open(path, "wb") as fh:  # np.save(path) would append .npy
        np.save(fh, X)


def truncated_npz(path):
    np.savez(path, **good())
    path.write_bytes(path.read_bytes()[:300])


NAN_X = X.copy()
NAN_X[6, 2] = np.nan

# (id, train file, val file, Data.dataset changes, Loss section, key, fragment, the file named)
# A file is a dict of arrays (np.savez) or a function writing it; "train"/"val": the file the line names.
NPZ_CASES = [
    ("negative label", good(y=at(4, -1)), None, {}, None, "Data.dataset.y_key", "class label -1 (sample 4)", "train"),
    ("negative label other than Loss.ignore_index", good(y=at(4, -5)), None, {},
     {"name": "CrossEntropyLoss", "ignore_index": -1}, "Data.dataset.y_key", "or -1 (Loss.ignore_index", "train"),
    ("label >= num_classes", good(y=at(7, 3)), None, {"num_classes": 3}, None, "Data.dataset.num_classes",
     "label 3 (sample 7), outside [0, 3)", "train"),
    ("val label >= num_classes", good(), good(y=at(2, 5)), {"num_classes": 3}, None, "Data.dataset.num_classes",
     "label 5 (sample 2)", "val"),
    ("negative val label", good(), good(y=at(0, -2)), {}, None, "Data.dataset.y_key", "class label -2 (sample 0)",
     "val"),
    ("every label ignored", good(y=np.full(30, -100)), None, {}, None, "Data.dataset.y_key", "nothing to learn",
     "train"),
    ("string labels", good(y=np.array(["cat", "dog", "owl"] * 10)), None, {}, None, "Data.dataset.train",
     "'y' holds string", "train"),
    ("object labels", good(y=np.array([1, "a", None] * 10, dtype=object)), None, {}, None, "Data.dataset.train",
     "'y' holds object", "train"),
    ("string features", good(x=X.astype(str)), None, {}, None, "Data.dataset.train", "'x' holds string", "train"),
    ("object features", good(x=X.astype(object)), None, {}, None, "Data.dataset.train", "'x' holds object", "train"),
    ("complex features", good(x=X.astype("complex64")), None, {}, None, "Data.dataset.train", "'x' holds complex",
     "train"),
    ("x and y of different lengths", good(y=Y[:29]), None, {}, None, "Data.dataset.train",
     "30 samples in 'x' but 29 targets", "train"),
    ("1-D x", good(x=X[:, 0]), None, {}, None, "Data.dataset.train", "has shape (30,), one number per sample",
     "train"),
    ("empty arrays", {"x": np.zeros((0, 4), "float32"), "y": np.zeros(0, "int64")}, None, {}, None,
     "Data.dataset.train", "no samples", "train"),
    ("samples without features", good(x=np.zeros((30, 0), "float32")), None, {}, None, "Data.dataset.train",
     "no features", "train"),
    ("a scalar y", good(y=np.array(3)), None, {}, None, "Data.dataset.train", "'y' is a scalar", "train"),
    ("val features differ from train", good(), good(x=RNG.randn(30, 5)), {}, None, "Data.dataset.val",
     "shape (5,), the training file's (4,)", "val"),
    ("a text file named .npz", text_file, None, {}, None, "Data.dataset.train", "not a readable .npz archive",
     "train"),
    ("a .npy file named .npz", npy_file, None, {}, None, "Data.dataset.train", "not a readable .npz archive",
     "train"),
    ("a truncated .npz", truncated_npz, None, {}, None, "Data.dataset.train", "not a readable .npz archive", "train"),
    ("missing x key", {"features": X, "y": Y}, None, {}, None, "Data.dataset.train",
     "has no array 'x'; it has: features, y", "train"),
    ("missing y key in val", good(), {"x": X}, {}, None, "Data.dataset.val", "has no array 'y'; it has: x", "val"),
    ("fractional labels", good(y=Y + 0.5), None, {}, None, "Data.dataset.y_key", "whole numbers", "train"),
    ("labels of shape (N, 3)", good(y=np.zeros((30, 3), "int64")), None, {}, None, "Data.dataset.y_key",
     "shape (N,) or (N, 1), got (30, 3)", "train"),
    ("non-finite float targets", good(y=at(3, np.nan, RNG.randn(30))), None, {"targets": "values"}, None,
     "Data.dataset.y_key", "finite", "train"),
    ("val targets of another shape", good(y=RNG.randn(30, 2)), good(y=RNG.randn(30, 3)), {"targets": "values"}, None,
     "Data.dataset.val", "targets of 'y' have shape (3,), the training file's (2,)", "val"),
    ("a split without validation samples", {"x": X[:3], "y": np.arange(3)}, None, {"val_fraction": 0.2}, None,
     "Data.dataset.val_fraction", "leaves no validation sample", "train"),
    ("NaN features (found when the set is built)", good(x=NAN_X), None, {}, None, "Data.dataset.train",
     "holds NaN or Inf (sample 6)", "train"),
]
# Found only when the arrays are read, which `check` does not do.
BUILD_TIME = {"NaN features (found when the set is built)"}


def write_npz(path, content):
    if callable(content):
        content(path)
    else:
        np.savez(path, **content)
    return str(path)


@pytest.mark.parametrize("case, train, val, changes, loss, key, fragment, named", NPZ_CASES,
                         ids=[c[0] for c in NPZ_CASES])
def test_a_malformed_npz_is_one_error_line_before_output_dir_exists(tmp_path, capsys, case, train, val, changes,
                                                                     loss, key, fragment, named):
    files = {"train": write_npz(tmp_path / "train.npz", train)}
    if val is not None:
        files["val"] = write_npz(tmp_path / "val.npz", val)
    dataset = dict({"name": "npz", **files}, **changes)
    out = tmp_path / "out"
    config = write(tmp_path, base_config(dataset, out, **({"Loss": loss} if loss else {})))
    assert_one_line_before_output_dir(config, out, capsys, key, fragment, files[named], case not in BUILD_TIME)


def assert_one_line_before_output_dir(config, out, capsys, key, fragment, named, check_too=True):
    assert main(["train", "-c", config]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {key}: ") and fragment in line and named in line, line
    assert not out.exists()
    if check_too:  # `check` must not call such a config valid
        assert main(["check", "-c", config]) == 2
        assert one_error_line(capsys.readouterr().err) == line


def make_images(root, layout):
    """``layout``: {class folder: image count, or "txt" for a folder holding only a text file}; the key
    ``"."`` puts that many images at the root itself."""
    root.mkdir(parents=True, exist_ok=True)
    for name, count in layout.items():
        folder = root / name
        folder.mkdir(exist_ok=True)
        if count == "txt":
            (folder / "notes.txt").write_text("not an image")
            continue
        for i in range(count):
            pixels = np.random.RandomState(i).randint(0, 255, (10, 10, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{name.strip('.')}{i}.png")


GOOD_LAYOUT = {"a": 2, "b": 2}
# (id, train layout, val layout, key, fragment, the folder named)
FOLDER_CASES = [
    ("class folder without images", {"a": 3, "b": 0}, GOOD_LAYOUT, "Data.dataset.train_dir", "'b' of", "train"),
    ("class folder with no image file", {"a": 3, "b": "txt"}, GOOD_LAYOUT, "Data.dataset.train_dir", "'b' of",
     "train"),
    ("images without class folders", {".": 4}, GOOD_LAYOUT, "Data.dataset.train_dir",
     "has 4 image(s) but no class folders", "train"),
    ("an empty train_dir", {}, GOOD_LAYOUT, "Data.dataset.train_dir", "has no class folders", "train"),
    ("val class folder without images", GOOD_LAYOUT, {"a": 1, "b": 0}, "Data.dataset.val_dir", "'b' of", "val"),
    ("val class folders differ", GOOD_LAYOUT, {"a": 1, "c": 1}, "Data.dataset.val_dir",
     "differ from train_dir's ['a', 'b']", "val"),
]


@pytest.mark.parametrize("case, train, val, key, fragment, named", FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_a_bad_image_folder_layout_is_one_error_line_before_output_dir_exists(tmp_path, capsys, case, train, val,
                                                                               key, fragment, named):
    dirs = {"train": tmp_path / "train", "val": tmp_path / "val"}
    make_images(dirs["train"], train)
    make_images(dirs["val"], val)
    out = tmp_path / "out"
    dataset = {"name": "folder", "train_dir": str(dirs["train"]), "val_dir": str(dirs["val"]), "image_size": [8, 8]}
    config = write(tmp_path, base_config(dataset, out))
    assert_one_line_before_output_dir(config, out, capsys, key, fragment, str(dirs[named]))


def test_labels_equal_to_the_loss_ignore_index_train(tmp_path, capsys):
    """The other side of the one rule: -100 (CrossEntropyLoss's default ignore_index) is not an error,
    in the data check nor in the trainer's check of the model's outputs."""
    path = write_npz(tmp_path / "train.npz", good(y=at(slice(0, 6), -100)))
    out = tmp_path / "out"
    assert main(["train", "-c", write(tmp_path, base_config({"name": "npz", "train": path}, out))]) == 0
    assert (out / "checkpoints" / "latest.pdparams").exists()


# --- found when a sample is read ---------------------------------------------------------------------

def cli(config, *args, timeout=TIMEOUT):
    """``python -m paddle_optim train -c config args...`` with a hard timeout: ``(exit code, output)``."""
    return run_process([sys.executable, "-m", "paddle_optim", "train", "-c", config, *args], timeout,
                       env=child_env())


def user_data(out, **kwargs):
    return base_config({"name": "rel_bad_data:make", "num_classes": 3, "kwargs": kwargs}, out)


@pytest.mark.parametrize("failure, fragment", [
    ("raise", "training sample 13 could not be read: ValueError: record 13 is corrupt (raised at rel_bad_data.py:"),
    ("shape", "training samples [12, 13, 14, 15] do not form one batch: ValueError:"),
])
def test_a_user_data_set_that_fails_at_one_sample_is_one_error_line(tmp_path, capsys, failure, fragment):
    """In this process (num_workers 0) nothing can hang: no reader thread."""
    out = tmp_path / "out"
    config = user_data(out, bad_index=13, failure=failure)
    config["Data"]["shuffle"] = False  # batch 4 = samples 12..15
    assert main(["train", "-c", write(tmp_path, config)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(errors) == 1 and fragment in errors[0], err


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A finished 1-epoch run on an image folder (class b's fourth image is training sample 9, outside
    the first 8 samples the trainer's dry run reads), then that image truncated as a failed copy
    leaves it: ``(config, output dir, the truncated file)``."""
    tmp = tmp_path_factory.mktemp("images")
    make_images(tmp / "train", {"a": 6, "b": 6})
    make_images(tmp / "val", {"a": 2, "b": 2})
    out = tmp / "out"
    config = write(tmp, base_config({"name": "folder", "train_dir": str(tmp / "train"), "val_dir": str(tmp / "val"),
                                     "image_size": [8, 8]}, out))
    assert main(["train", "-c", config]) == 0  # a good run: in this process
    bad = tmp / "train" / "b" / "b3.png"
    bad.write_bytes(bad.read_bytes()[:100])
    return config, out, str(bad)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_truncated_image_ends_the_resumed_run_with_one_line_and_keeps_its_checkpoints(image_run, snapshot,
                                                                                         num_workers):
    from paddle_optim.training import checkpoint

    config, out, bad = image_run
    before = snapshot(out / "checkpoints")
    code, log = cli(config, "--resume", "-o", "Global.epochs=2", "-o", f"Data.num_workers={num_workers}")
    assert code == 2, log
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    assert "Traceback" not in log and len(errors) == 1, log
    assert f"training sample 9 ({bad}) could not be read: OSError:" in errors[0], errors
    assert snapshot(out / "checkpoints") == before  # the last good checkpoints, untouched
    assert checkpoint.load(str(out / "checkpoints" / "latest"))[2]["global_step"] == 3  # 12 images / 4


def test_a_worker_that_crashes_is_named_with_its_sample_not_a_hang(tmp_path):
    config = user_data(tmp_path / "out", bad_index=13, failure="SIGSEGV")
    config["Data"]["num_workers"] = 2
    code, log = cli(write(tmp_path, config))
    assert code == 2, log
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    assert "Traceback" not in log and len(errors) == 1, log
    assert "a DataLoader worker process died while reading training sample 13 (worker" in errors[0], errors
    assert "killed by SIGSEGV" in errors[0], errors


@pytest.mark.slow
def test_a_data_error_on_one_rank_ends_the_whole_launch(tmp_path):
    """``--nproc 2``: the rank that reads the bad sample reports it and exits 2; the other rank, waiting
    in the gradient all-reduce, either reports the lost peer (``PeerLost``) or is stopped by the launcher
    first (then Paddle prints its C++ dump of that SIGTERM); no Python traceback, no wait forever."""
    out = tmp_path / "out"
    config = user_data(out, bad_index=20, failure="raise")
    code, log = cli(write(tmp_path, config), "--nproc", "2")
    assert code != 0, log
    logs = "".join(p.read_text(errors="replace") for p in sorted((out / "launch_log").glob("workerlog.*")))
    errors = [line for line in logs.splitlines() if line.startswith("error:")]
    assert not re.search(r"^Traceback", logs, re.MULTILINE) and errors, logs
    named = [e for e in errors if "training sample 20 could not be read: ValueError: record 20 is corrupt" in e]
    # The other rank, if its all-reduce failed before the launcher stopped it: PeerLost's line.
    assert len(named) == 1 and all("lost rank" in e for e in errors if e not in named), errors



def test_the_guarded_readers_return_what_paddle_dataloader_returns(tmp_path):
    """Reading in this process and through guarded workers changes no batch: the same values, in the
    same order, as ``paddle.io.DataLoader`` with the same batch sampler (an image folder: a Paddle tensor
    per sample; the user set: numpy arrays and ints)."""
    import paddle

    from paddle_optim.data.folder import image_folder
    from paddle_optim.data.transforms import build_transforms, default_transforms
    from paddle_optim.data.loader import iterate_batches
    from paddle_optim.data.sampler import EpochBatchSampler
    from rel_bad_data import FlakyDataset

    make_images(tmp_path / "img", {"a": 5, "b": 6})
    for dataset in (image_folder(str(tmp_path / "img"), build_transforms(default_transforms([8, 8], [0.5] * 3, [0.5] * 3))), FlakyDataset("train", 21)):
        sampler = EpochBatchSampler(dataset, 4, seed=1)
        sampler.set_epoch(2)
        expected = [(x.numpy(), y.numpy().reshape(-1)) for x, y in
                    paddle.io.DataLoader(dataset, batch_sampler=sampler, return_list=True)]
        assert len(expected) == 3 + (len(dataset) > 12) * 3
        for num_workers in (0, 2):
            got = [(x.numpy(), y.numpy()) for x, y in iterate_batches(dataset, sampler, num_workers)]
            assert len(got) == len(expected)
            for (x, y), (x_ref, y_ref) in zip(got, expected):
                np.testing.assert_array_equal(x, x_ref)
                np.testing.assert_array_equal(y, y_ref)
                assert x.dtype == x_ref.dtype and y.dtype == np.int64
