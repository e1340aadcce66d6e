"""Atomic checkpoints (every interruption point of a save leaves a complete one), pruning, copies,
resume paths, cut tables and VisualDL on resume. The kill-and-resume check of whole runs lives in
tests/reliability/test_rel_kill_resume.py (one place)."""
import os
import time

import paddle
import pytest

from paddle_optim.errors import UserError
from paddle_optim.training import checkpoint


def write_set(prefix, value, suffix_extra=""):
    checkpoint.save(prefix, {"w": paddle.to_tensor([value])}, {"opt": value}, {"global_step": value})


@pytest.mark.parametrize("stage", ["params_tmp", "opt_tmp", "states_part", "committed", "one_moved", "two_moved"])
def test_an_interrupted_save_leaves_one_complete_checkpoint(tmp_path, stage):
    prefix = str(tmp_path / "latest")
    write_set(prefix, 1.0)
    # Replay the steps of save() for the value 2.0 and stop after `stage`.
    paddle.save({"w": paddle.to_tensor([2.0])}, prefix + ".pdparams.tmp")
    if stage != "params_tmp":
        paddle.save({"opt": 2.0}, prefix + ".pdopt.tmp")
    if stage not in ("params_tmp", "opt_tmp"):
        sizes = {s: os.path.getsize(prefix + s + ".tmp") for s in (".pdparams", ".pdopt")}
        paddle.save({"global_step": 2.0, "format": checkpoint.FORMAT_VERSION, "sizes": sizes},
                    prefix + ".pdstates.part")
        checkpoint._seal(prefix + ".pdstates.part")  # save()'s own digest trailer
    committed = stage in ("committed", "one_moved", "two_moved")
    if committed:
        os.replace(prefix + ".pdstates.part", prefix + ".pdstates.tmp")
    if stage in ("one_moved", "two_moved"):
        os.replace(prefix + ".pdparams.tmp", prefix + ".pdparams")
    if stage == "two_moved":
        os.replace(prefix + ".pdopt.tmp", prefix + ".pdopt")
    model, opt, states = checkpoint.load(prefix)
    expected = 2.0 if committed else 1.0
    assert model["w"].numpy().tolist() == [expected] and opt["opt"] == expected and states["global_step"] == expected
    assert sorted(os.listdir(tmp_path)) == ["latest.pdopt", "latest.pdparams", "latest.pdstates"]


def test_truncated_or_foreign_files_are_user_errors(tmp_path):
    prefix = str(tmp_path / "x")
    write_set(prefix, 1.0)
    with open(prefix + ".pdparams", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(UserError, match="is corrupt"):
        checkpoint.load(prefix)
    with open(prefix + ".pdstates", "wb") as fh:
        fh.write(b"not a pickle")
    with pytest.raises(UserError, match="corrupt or not a paddle-optim checkpoint"):
        checkpoint.load(prefix)
    os.remove(prefix + ".pdopt")
    with pytest.raises(UserError, match="incomplete checkpoint"):
        checkpoint.load(prefix)


def test_keep_last_prunes_oldest_epochs(tmp_path):
    for n in (1, 2, 3, 4):
        write_set(str(tmp_path / f"epoch_{n}"), float(n))
    checkpoint.prune_epochs(str(tmp_path), 2)
    assert sorted(os.listdir(tmp_path)) == sorted(f"epoch_{n}{s}" for n in (3, 4)
                                                  for s in (".pdparams", ".pdopt", ".pdstates"))
    assert checkpoint.newest_complete(str(tmp_path)).endswith("epoch_4")


def test_csv_tables_drop_rows_after_the_checkpoint_and_a_cut_off_last_row(tmp_path):
    from paddle_optim.training.records import CsvLog, read_csv

    path = tmp_path / "t.csv"
    path.write_text("step,epoch,loss,lr,momentum\n2,1,0.5,0.1,0.9\n4,1,0.4,0.1,0.9\n6,2,0.3,0.1,0.9\n8,2,0.")
    log = CsvLog(str(path), ("step", "epoch", "loss", "lr", "momentum"), resume_step=4)
    log.write({"step": 6, "epoch": 2, "loss": 0.25, "lr": 0.1, "momentum": None})
    log.close()
    assert [(r["step"], r["loss"], r["momentum"]) for r in read_csv(str(path))] == \
        [("2", "0.5", "0.9"), ("4", "0.4", "0.9"), ("6", "0.25", "")]


def test_copies_survive_later_saves_of_their_source(tmp_path):
    latest, best = str(tmp_path / "latest"), str(tmp_path / "best_model")
    write_set(latest, 1.0)
    checkpoint.copy(latest, best)
    checkpoint.copy(latest, best)  # twice: nothing left behind
    write_set(latest, 2.0)
    assert checkpoint.load(best)[2]["global_step"] == 1.0 and checkpoint.load(latest)[2]["global_step"] == 2.0
    assert sorted(os.listdir(tmp_path)) == sorted(f"{n}{s}" for n in ("latest", "best_model")
                                                  for s in (".pdparams", ".pdopt", ".pdstates"))


def test_resume_accepts_every_way_of_naming_a_checkpoint(tmp_path):
    from paddle_optim.training.command import find_resume

    ckpt = tmp_path / "run" / "checkpoints"
    ckpt.mkdir(parents=True)
    write_set(str(ckpt / "epoch_1"), 1.0)
    write_set(str(ckpt / "latest"), 2.0)
    run_dir = str(tmp_path / "run")
    assert find_resume("auto", run_dir) == str(ckpt / "latest")
    assert find_resume(run_dir, "elsewhere") == str(ckpt / "latest")
    assert find_resume(str(ckpt), "elsewhere") == str(ckpt / "latest")
    assert find_resume(str(ckpt / "epoch_1"), "elsewhere") == str(ckpt / "epoch_1")
    assert find_resume(str(ckpt / "epoch_1.pdopt"), "elsewhere") == str(ckpt / "epoch_1")
    assert find_resume(None, run_dir) is None
    assert find_resume("auto", str(tmp_path / "empty")) is None  # killed before the first checkpoint
    with pytest.raises(UserError, match="no checkpoint at"):
        find_resume(str(tmp_path / "empty"), "elsewhere")


def _vdl_points(logdir):
    from visualdl import LogReader

    points = []
    for path in sorted(logdir.glob("vdlrecords.*")):
        reader = LogReader(file_path=str(path))
        points += [(tag, r.id, r.value) for tag in reader.get_tags().get("scalar", [])
                   for r in reader.get_data("scalar", tag)]
    return sorted(points)


@pytest.mark.parametrize("pause", [0.0, 1.1])  # resumed in the same second (same file name) or later
def test_a_resumed_run_shows_every_step_once_in_visualdl(tmp_path, pause):
    from paddle_optim.training.records import VisualDL

    first = VisualDL(str(tmp_path))
    for step in range(1, 11):  # the killed run got to step 10; its checkpoint is at step 6
        first.scalars({"train/lr": 0.1 * step, "train/loss": 1.0 / step}, step)
    first.close()
    time.sleep(pause)
    resumed = VisualDL(str(tmp_path), resume_step=6)
    for step in range(7, 13):
        resumed.scalars({"train/lr": 0.1 * step, "train/loss": 1.0 / step}, step)
    resumed.close()
    points = _vdl_points(tmp_path)
    assert [(tag, step) for tag, step, _ in points] == [(tag, s) for tag in ("train/loss", "train/lr") for s in range(1, 13)]
    lr = {step: value for tag, step, value in points if tag == "train/lr"}
    assert lr[3] == pytest.approx(0.3) and lr[12] == pytest.approx(1.2)
    assert len(list(tmp_path.glob("vdlrecords.*"))) == 1


def test_visualdl_points_keep_the_time_they_were_logged_not_when_their_batch_is_written(tmp_path):
    from visualdl import LogReader

    from paddle_optim.training.records import VisualDL

    vdl = VisualDL(str(tmp_path))
    vdl.scalars({"train/lr": 0.1}, 1)
    logged_by = time.time() * 1000
    time.sleep(0.3)
    vdl.close()  # the batch is written now
    reader = LogReader(file_path=str(next(tmp_path.glob("vdlrecords.*"))))
    (record,) = reader.get_data("scalar", "train/lr")
    assert record.timestamp <= logged_by + 1
