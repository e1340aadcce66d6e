"""A tiny YOLOv3 on synthetic COCO, trained by PaddleDetection 2.6.0's engine through
``paddle-optim suite-train``, with Momentum (baseline), Ranger, RAdam and Lookahead(Momentum):
the loss falls, the learning rate of every step is ppdet's warmup + piecewise schedule, and ppdet's
own resume (``-r``, with EMA) continues bit-identically: the same losses, learning rates, weights
and EMA weights as the uninterrupted run."""
import json
import os

import numpy as np
import pytest

from runs import check_ok, suite_train
from synthetic import write_coco, yolov3_config

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ppdet_train.py")
EPOCHS, STEPS_PER_EPOCH, BASE_LR = 3, 2, 0.002
OPTIMIZERS = {
    "Momentum": {"type": "Momentum", "momentum": 0.9},
    "Ranger": {"type": "Ranger", "k": 3},  # a synchronisation before and after the resume point
    "RAdam": {"type": "RAdam"},
    "Lookahead": {"type": "Lookahead", "alpha": 0.5, "k": 3, "inner": {"type": "Momentum", "momentum": 0.9}},
}


def expected_lr(step):
    """ppdet's LinearWarmup(start_factor 0.1, 3 steps) over PiecewiseDecay(milestone epoch 2, gamma 0.1)."""
    decayed = BASE_LR * (0.1 if step >= (EPOCHS - 1) * STEPS_PER_EPOCH else 1.0)
    return BASE_LR * (0.1 + 0.9 * step / 3) if step < 3 else decayed


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return write_coco(str(tmp_path_factory.mktemp("coco")))


def _train(tmp, coco, name, run, resume=None):
    cfg = os.path.join(tmp, f"{run}.yml")
    with open(cfg, "w") as f:
        f.write(yolov3_config(coco, os.path.join(tmp, run), OPTIMIZERS[name], epochs=EPOCHS,
                              regularizer={"type": "L2", "factor": 0.0001}))
    check_ok(suite_train(DRIVER, "-c", cfg, *(["-r", resume] if resume else [])))
    out = os.path.join(tmp, run, run)  # ppdet saves under save_dir/<config stem>
    with open(os.path.join(tmp, run, "steps.json")) as f:
        return out, json.load(f)


def _load(path):
    import paddle

    return {k: np.asarray(v) for k, v in paddle.load(path).items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_ppdet_yolov3_trains_follows_schedule_and_resumes_exactly(name, tmp_path, coco):
    full, steps = _train(str(tmp_path), coco, name, "full")
    assert len(steps) == EPOCHS * STEPS_PER_EPOCH
    losses = [s["loss"] for s in steps]
    assert np.mean(losses[-2:]) < 0.95 * np.mean(losses[:2]), losses
    np.testing.assert_allclose([s["lr"] for s in steps], [expected_lr(i) for i in range(len(steps))], rtol=1e-6)

    resumed, resumed_steps = _train(str(tmp_path), coco, name, "resumed", resume=os.path.join(full, "0"))
    assert resumed_steps == steps[STEPS_PER_EPOCH:]  # exact floats: losses and learning rates
    for suffix in (".pdparams", ".pdema"):  # ppdet swaps them: .pdparams holds the EMA weights
        a, b = _load(os.path.join(full, "model_final" + suffix)), _load(os.path.join(resumed, "model_final" + suffix))
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}{suffix}")


@pytest.mark.slow
def test_ppdet_two_cpu_ranks_each_register_and_train(tmp_path, coco):
    """``suite-train --nproc 2``: two gloo ranks under paddle.distributed.launch, each registers
    (its own worker log says so) and ppdet's data-parallel training with Ranger runs to the end."""
    cfg = tmp_path / "two.yml"
    cfg.write_text(yolov3_config(coco, str(tmp_path / "two"), OPTIMIZERS["Ranger"], epochs=2))
    logs = tmp_path / "log"
    check_ok(suite_train("--log-dir", str(logs), DRIVER, "-c", str(cfg), nproc=2))
    for rank in (0, 1):
        assert "paddledet: added RAdam, Ranger, Lookahead" in (logs / f"workerlog.{rank}").read_text()
    steps = json.loads((tmp_path / "two" / "steps.json").read_text())
    # 8 images over 2 ranks in batches of 4: one step per epoch.
    np.testing.assert_allclose([s["lr"] for s in steps], [expected_lr(0), expected_lr(1)], rtol=1e-6)
    assert (tmp_path / "two" / "two" / "model_final.pdparams").exists()
