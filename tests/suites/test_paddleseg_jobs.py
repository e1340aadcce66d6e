"""A tiny PP-HumanSeg-Lite on a synthetic image and mask, trained by PaddleSeg 2.8.0's
``paddleseg.core.train`` through ``paddle-optim suite-train``, with Momentum (baseline), Ranger,
RAdam and Lookahead(Momentum): the loss falls, every step's learning rate is PaddleSeg's warmup +
polynomial schedule, and PaddleSeg's own resume (``resume_model``) continues bit-identically (the
same weights and optimizer state as the uninterrupted run, the same logged losses)."""
import os
import re

import numpy as np
import pytest

from runs import check_ok, suite_train
from synthetic import segmentation_config, write_segmentation

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paddleseg_train.py")
ITERS, WARMUP, BASE_LR, START_LR, RESUME_AT = 8, 2, 0.05, 0.005, 4
OPTIMIZERS = {
    "Momentum": {"type": "Momentum", "momentum": 0.9, "weight_decay": 4.0e-5},
    "Ranger": {"type": "Ranger", "k": 3, "decoupled_decay": 0.01,  # AdamW-style, none on norm layers
               "custom_cfg": [{"name": "bn", "weight_decay_mult": 0.0}]},
    "RAdam": {"type": "RAdam", "weight_decay": 4.0e-5},
    "Lookahead": {"type": "Lookahead", "alpha": 0.5, "k": 3,
                  "inner": {"type": "Momentum", "momentum": 0.9, "weight_decay": 4.0e-5}},
}
_LOG = re.compile(r"\[TRAIN\] epoch: \d+, iter: (\d+)/\d+, loss: ([\d.]+), lr: ([\d.]+)")


def expected_lr(step):
    """PaddleSeg's lr_scheduler: linear warmup from START_LR, then PolynomialDecay(power 0.9) to 0."""
    if step < WARMUP:
        return START_LR + (BASE_LR - START_LR) * step / WARMUP
    return BASE_LR * (1 - (step - WARMUP) / (ITERS - WARMUP)) ** 0.9


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_segmentation(str(tmp_path_factory.mktemp("seg")), images=1, size=64)


def _train(tmp, data, name, run, resume=None):
    cfg = os.path.join(tmp, f"{run}.yml")
    with open(cfg, "w") as f:
        f.write(segmentation_config(data, OPTIMIZERS[name], iters=ITERS))
    save = os.path.join(tmp, run)
    result = suite_train(DRIVER, "--config", cfg, "--save_dir", save, "--save_interval", str(RESUME_AT),
                         *(["--resume_model", resume] if resume else []))
    check_ok(result)
    return save, [(int(i), loss, float(lr)) for i, loss, lr in _LOG.findall(result.stdout + result.stderr)]


def _load(path):
    import paddle

    return paddle.load(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_paddleseg_trains_follows_schedule_and_resumes_exactly(name, tmp_path, data):
    full, logged = _train(str(tmp_path), data, name, "full")
    assert [i for i, _, _ in logged] == list(range(1, ITERS + 1))
    losses = [float(loss) for _, loss, _ in logged]
    assert np.mean(losses[-2:]) < 0.9 * np.mean(losses[:2]), losses
    np.testing.assert_allclose([lr for _, _, lr in logged], [expected_lr(i) for i in range(ITERS)], atol=1e-6)

    resumed, resumed_logged = _train(str(tmp_path), data, name, "resumed",
                                     resume=os.path.join(full, f"iter_{RESUME_AT}"))
    assert resumed_logged == logged[RESUME_AT:]
    a = _load(os.path.join(full, f"iter_{ITERS}", "model.pdparams"))
    b = _load(os.path.join(resumed, f"iter_{ITERS}", "model.pdparams"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=f"{name}: {key}")


def test_a_bad_key_is_one_error_line(tmp_path, data):
    """PaddleSeg wraps a component's constructor error in a RuntimeError; suite-train still reports
    the bad key as one ``error:`` line with exit code 2."""
    cfg = tmp_path / "bad.yml"
    cfg.write_text(segmentation_config(data, {"type": "Ranger", "momentum": 0.9}, iters=ITERS))
    result = suite_train(DRIVER, "--config", str(cfg), "--save_dir", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("error: optimizer.momentum: unknown key for Ranger; allowed:")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_paddleseg_two_cpu_ranks_each_register_and_train(tmp_path_factory, tmp_path):
    """``suite-train --nproc 2``: PaddleSeg's multi-process path (fleet's distributed optimizer
    around ours) on two gloo ranks; each registers and the job runs to the end."""
    data = write_segmentation(str(tmp_path_factory.mktemp("seg2")), images=2, size=64)
    cfg = tmp_path / "two.yml"
    cfg.write_text(segmentation_config(data, OPTIMIZERS["Ranger"], iters=ITERS))
    logs = tmp_path / "log"
    result = suite_train("--log-dir", str(logs), DRIVER, "--config", str(cfg), "--save_dir", str(tmp_path / "two"),
                         "--save_interval", str(ITERS), nproc=2)
    check_ok(result)
    for rank in (0, 1):
        assert "paddleseg: added RAdam, Ranger, Lookahead" in (logs / f"workerlog.{rank}").read_text()
    logged = [(int(i), float(lr)) for i, _, lr in _LOG.findall((logs / "workerlog.0").read_text())]
    assert [i for i, _ in logged] == list(range(1, ITERS + 1))
    np.testing.assert_allclose([lr for _, lr in logged], [expected_lr(i) for i in range(ITERS)], atol=1e-6)
    assert (tmp_path / "two" / f"iter_{ITERS}" / "model.pdopt").exists()
