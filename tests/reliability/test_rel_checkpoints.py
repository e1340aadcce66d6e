"""Resume never throws away good checkpoints, loads all of the weights or none, and verifies every file.

One uninterrupted run and one run SIGKILLed before step 20 (``latest`` at step 18, ``epoch_2`` at 16,
``epoch_1`` at 8, ``best_model``) are made once; each test damages a copy of the killed run's directory:

* every single-bit flip in any of the three files of ``latest`` is detected and named, and the newest
  intact checkpoint is chosen; the copies (``epoch_N``, ``best_model``) are files of their own;
* damage kind x file -> which checkpoint ``--resume`` continues from, or one error line when none is intact;
* a resume whose model, optimizer or data layout differs from the checkpoint's;
* damaged CSV tables: one error line, nothing of the run changed.
"""
import os
import random
import shutil
import signal
import sys

import paddle
import pytest

from paddle_optim.cli import main
from paddle_optim.data.sampler import EpochBatchSampler
from paddle_optim.errors import UserError
from paddle_optim.training import checkpoint
from paddle_optim.training.command import find_resume

from launching import run_process
from rel_helpers import RESUME_CONFIG, assert_same_run, child_env, fault_train, load_checkpoint, write_config

SUFFIXES = (".pdparams", ".pdopt", ".pdstates")
SAMPLES = RESUME_CONFIG["Data"]["dataset"]["num_samples"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    config, out = write_config(tmp_path_factory.mktemp("full"), "full")
    assert main(["train", "-c", config]) == 0
    return out


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    config, out = write_config(tmp_path_factory.mktemp("killed"), "killed")
    code, log = fault_train(config, "train_step:20")
    assert code == -signal.SIGKILL, log[-3000:]
    steps = {n: load_checkpoint(out / "checkpoints" / n)[2]["global_step"] for n in ("latest", "epoch_2", "epoch_1")}
    assert steps == {"latest": 18, "epoch_2": 16, "epoch_1": 8}
    return config, out


@pytest.fixture
def run_copy(killed, tmp_path):
    """``(config path, output dir)``: a private copy of the killed run."""
    config_src, out_src = killed
    out = tmp_path / "killed"
    shutil.copytree(out_src, out)
    config = tmp_path / "killed.yaml"
    config.write_text(open(config_src).read().replace(str(out_src), str(out)))
    return str(config), out


def flip_bit(path, bit):
    with open(path, "r+b") as fh:
        fh.seek(bit // 8)
        byte = fh.read(1)[0]
        fh.seek(bit // 8)
        fh.write(bytes([byte ^ (1 << bit % 8)]))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_single_bit_flip_in_any_file_is_detected_and_the_newest_intact_checkpoint_is_chosen(suffix, run_copy):
    _, out = run_copy
    ckpt = out / "checkpoints"
    path = str(ckpt / "latest") + suffix
    rng = random.Random(suffix)
    bits = [rng.randrange(os.path.getsize(path) * 8) for _ in range(30)]
    bits[:2] = [0, os.path.getsize(path) * 8 - 1]  # the first and the last bit of the file too
    for bit in bits:
        flip_bit(path, bit)
        found = dict(checkpoint.intact_checkpoints(str(ckpt)))
        assert found[str(ckpt / "latest")] is not None and "latest" + suffix in found[str(ckpt / "latest")], bit
        assert [p for p, problem in found.items() if problem is None][0] == str(ckpt / "epoch_2"), bit
        with pytest.raises(UserError, match="latest"):
            checkpoint.load(str(ckpt / "latest"))
        flip_bit(path, bit)  # undo: the next flip is again a single one
    assert checkpoint.newest_complete(str(ckpt)) == str(ckpt / "latest")


def test_copies_are_independent_files_so_damage_to_one_is_not_damage_to_another(run_copy):
    _, out = run_copy
    ckpt = out / "checkpoints"
    for name in ("epoch_1", "epoch_2", "best_model"):
        for suffix in SUFFIXES:
            assert os.stat(str(ckpt / name) + suffix).st_nlink == 1, (name, suffix)
    # best_model and the epoch_N of its epoch were copies of one latest (hard links of one inode before)
    twin = str(ckpt / f"epoch_{checkpoint.load_states(str(ckpt / 'best_model'))['run']['best_epoch']}")
    with open(twin + ".pdparams", "r+b") as fh:  # damage in place
        fh.truncate(10)
    found = dict(checkpoint.intact_checkpoints(str(ckpt)))
    assert found[twin] is not None and found[str(ckpt / "best_model")] is None


def test_a_pruning_killed_halfway_is_reported_and_finished_by_the_next_one(tmp_path):
    for n in (1, 2, 3):
        checkpoint.save(str(tmp_path / f"epoch_{n}"), {"w": paddle.to_tensor([float(n)])}, {}, {"global_step": n})
    os.remove(str(tmp_path / "epoch_1.pdstates"))  # prune_epochs removes .pdstates first, then was killed
    found = dict(checkpoint.intact_checkpoints(str(tmp_path)))
    assert "missing" in found[str(tmp_path / "epoch_1")] and found[str(tmp_path / "epoch_3")] is None
    checkpoint.prune_epochs(str(tmp_path), 2)
    assert sorted(os.listdir(tmp_path)) == sorted(f"epoch_{n}{s}" for n in (2, 3) for s in SUFFIXES)


def test_a_checkpoint_of_the_earlier_format_without_a_trailer_still_loads(run_copy):
    _, out = run_copy
    prefix = str(out / "checkpoints" / "epoch_1")
    states = checkpoint.load_states(prefix)
    paddle.save(dict(states, format=1), prefix + ".pdstates")  # what earlier versions wrote
    assert checkpoint.verify(prefix)["global_step"] == 8
    paddle.save(states, prefix + ".pdstates")  # this format without its trailer: damaged
    with pytest.raises(UserError, match="trailer is missing or damaged"):
        checkpoint.verify(prefix)


def remove(path):
    os.remove(path)


def truncate(path):
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)


def flip_middle(path):
    flip_bit(path, os.path.getsize(path) * 4)


# damage: ((name, suffix, how), ...) -> the checkpoint --resume continues from (None: one error line)
DAMAGE = [
    ([("latest", ".pdopt", remove)], "epoch_2"),
    ([("latest", ".pdstates", flip_middle)], "epoch_2"),
    ([("latest", ".pdparams", truncate), ("epoch_2", ".pdstates", flip_middle)], "newest of epoch_1, best_model"),
    ([("latest", ".pdparams", flip_middle), ("epoch_2", ".pdstates", truncate), ("epoch_1", ".pdparams", remove)],
     "best_model"),
    ([("latest", ".pdstates", remove), ("epoch_2", ".pdopt", flip_middle), ("epoch_1", ".pdstates", truncate)],
     "best_model"),
    ([("latest", ".pdopt", truncate), ("epoch_2", ".pdstates", flip_middle), ("epoch_1", ".pdopt", remove),
      ("best_model", ".pdparams", flip_middle)], None),
]


@pytest.mark.parametrize("damage,expected", DAMAGE)
def test_resume_takes_the_newest_intact_checkpoint_and_names_every_damaged_file(damage, expected, run_copy, caplog):
    _, out = run_copy
    ckpt = out / "checkpoints"
    if expected == "newest of epoch_1, best_model":  # best_model is epoch 1's or epoch 2's (step 8 or 16)
        expected = "best_model" if checkpoint.load_states(str(ckpt / "best_model"))["global_step"] == 16 else "epoch_1"
    for name, suffix, how in damage:
        how(str(ckpt / name) + suffix)
    if expected is None:
        with pytest.raises(UserError) as err:
            find_resume("auto", str(out))
        message = str(err.value)
        assert "no intact checkpoint" in message and "--overwrite" in message
        for name, suffix, _ in damage:
            assert name + suffix in message, (name, suffix, message)
        return
    with caplog.at_level("WARNING", logger="paddle_optim.train"):
        assert find_resume("auto", str(out)) == str(ckpt / expected)
    for name, suffix, _ in damage:
        assert any(name + suffix in r.getMessage() for r in caplog.records), (name, suffix)


def test_checkpoints_that_belongs_rejects_are_passed_over_and_named(run_copy, caplog):
    _, out = run_copy
    ckpt = out / "checkpoints"
    with caplog.at_level("WARNING", logger="paddle_optim.train"):  # e.g. another run's (states["run_id"])
        assert find_resume("auto", str(out), lambda states: states["global_step"] < 16) == str(ckpt / "epoch_1")
    for name in ("latest", "epoch_2"):
        assert any(f"{ckpt / name} is a checkpoint of another run" in r.getMessage() for r in caplog.records), name


def test_only_best_model_intact_resumes_from_it_and_ends_identical(run_copy, uninterrupted, capsys):
    config, out = run_copy
    ckpt = out / "checkpoints"
    os.remove(str(ckpt / "latest.pdopt"))  # the case
    for name in ("epoch_1", "epoch_2"):
        truncate(str(ckpt / name) + ".pdstates")
    assert main(["train", "-c", config, "--resume"]) == 0
    captured = capsys.readouterr()
    assert "resumed from " + str(ckpt / "best_model") in captured.out and "latest.pdopt" in captured.out
    assert_same_run(uninterrupted, out)


def test_no_intact_checkpoint_is_one_error_line_and_changes_nothing(run_copy, capsys, snapshot):
    config, out = run_copy
    ckpt = out / "checkpoints"
    for name in ("latest", "epoch_1", "epoch_2", "best_model"):
        flip_middle(str(ckpt / name) + ".pdparams")
    before = snapshot(out)
    assert main(["train", "-c", config, "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --resume: no intact checkpoint"), err
    assert snapshot(out) == before


# a changed config -> what the error line must name
MISFITS = [
    (["Model.hidden_sizes=[32]"], ["[8, 16]", "[8, 32]", "Model.hidden_sizes"]),
    (["Model.hidden_sizes=[16,16]"], ["missing", "Model.hidden_sizes"]),
    (["Model.hidden_sizes=[16]", "Data.dataset.num_features=6"], ["[8, 16]", "[6, 16]", "num_features"]),
]


@pytest.mark.parametrize("overrides,named", MISFITS)
def test_a_checkpoint_that_does_not_fit_loads_nothing_and_is_one_error_line(overrides, named, run_copy, capsys,
                                                                          snapshot):
    config, out = run_copy
    before = snapshot(out)
    args = ["train", "-c", config, "--resume"] + [a for o in overrides for a in ("-o", o)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for text in named:
        assert text in err[0], (text, err[0])
    assert snapshot(out) == before


def test_a_dtype_mismatch_is_refused_too():
    from paddle_optim.training.loop import _set_model_state

    model = paddle.nn.Linear(2, 3)
    state = {k: v.astype("float64") for k, v in model.state_dict().items()}
    before = model.weight.numpy().copy()
    with pytest.raises(UserError, match=r"weight \(checkpoint \[2, 3\] float64, model \[2, 3\] float32\)"):
        _set_model_state(model, state, "ckpt", [])
    assert (model.weight.numpy() == before).all()


@pytest.mark.parametrize("old,new", [((12, 1), (16, 1)), ((12, 1), (8, 2)), ((12, 2), (5, 1)), ((7, 3), (12, 2))])
def test_the_samples_left_of_an_epoch_are_the_same_for_any_new_batch_layout(old, new):
    data = list(range(97))
    (b_old, w_old), (b_new, w_new) = old, new
    done = 3 * b_old * w_old  # 3 full batches on every rank
    order = EpochBatchSampler(data, 1, shuffle=True, seed=4)
    order.set_epoch(2)
    expected = order.epoch_indices()[done:]
    seen = []
    for rank in range(w_new):
        sampler = EpochBatchSampler(data, b_new, w_new, rank, shuffle=True, seed=4, pad=False)
        sampler.set_epoch(2, 0, done)
        seen += [i for batch in sampler for i in batch]
    assert sorted(seen) == sorted(expected)


def test_a_changed_batch_size_mid_epoch_continues_at_the_same_sample(run_copy, capsys):
    config, out = run_copy  # latest: step 18, 4 micro-batches of 12 into epoch 3
    assert main(["train", "-c", config, "--resume", "-o", "Data.batch_size=16"]) == 0
    captured = capsys.readouterr().out
    assert f"epoch 3 continues at sample 48 of its {SAMPLES}" in captured, captured[-2000:]
    states = load_checkpoint(out / "checkpoints" / "latest")[2]
    assert states["run"]["samples_seen"] == 3 * SAMPLES  # none skipped, none repeated
    assert states["data_layout"] == {"batch_size": 16, "world_size": 1}


def test_a_changed_process_count_mid_epoch_continues_at_the_same_sample(run_copy):
    config, out = run_copy
    cmd = [sys.executable, "-m", "paddle_optim", "train", "-c", config, "--resume", "--nproc", "2"]
    code, log = run_process(cmd, 240, env=child_env())
    workers = "".join(p.read_text() for p in (out / "launch_log").glob("workerlog.*"))
    assert code == 0, log[-2000:] + workers[-3000:]
    assert f"processes 1 -> 2): epoch 3 continues at sample 48 of its {SAMPLES}" in workers, workers[-3000:]
    states = load_checkpoint(out / "checkpoints" / "latest")[2]
    assert states["run"]["samples_seen"] == 3 * SAMPLES  # 144 left: 72 per rank, none skipped or repeated
    assert states["data_layout"] == {"batch_size": 12, "world_size": 2}


def nul_bytes(path):
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) // 2)
        fh.write(b"\0" * 40)


def bad_step(path):
    lines = open(path).read().splitlines(keepends=True)
    lines[1] = "x" + lines[1]
    open(path, "w").write("".join(lines))


def extra_field(path):
    lines = open(path).read().splitlines(keepends=True)
    lines[1] = lines[1].rstrip("\n") + ",1\n"
    open(path, "w").write("".join(lines))


def not_utf8(path):
    with open(path, "ab") as fh:
        fh.write(b"\xff\xfe\n")


def no_header(path):
    lines = open(path).read().splitlines(keepends=True)
    open(path, "w").write("".join(lines[1:]))


@pytest.mark.parametrize("table,damage", [("train_log.csv", nul_bytes), ("eval_log.csv", nul_bytes),
                                          ("eval_log.csv", bad_step), ("train_log.csv", extra_field),
                                          ("eval_log.csv", not_utf8), ("train_log.csv", no_header)])
def test_a_damaged_table_is_one_error_line_before_anything_changes(table, damage, run_copy, capsys, snapshot):
    config, out = run_copy
    damage(str(out / table))
    before = snapshot(out)
    assert main(["train", "-c", config, "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and table in err[0] and "damaged" in err[0], err
    assert snapshot(out) == before
