"""AMP: the GPU code path (auto_cast, decorate O2 with master weights, GradScaler calls) driven on
CPU, where Paddle keeps fp32, must give exactly the plain fp32 step on both Paddle lines; and on CPU
the trainer says once that AMP is inactive."""
import numpy as np
import paddle
import pytest

from paddle_optim.cli import main
from paddle_optim.factory import build_optimizer
from paddle_optim.training.amp import Amp


def one_step(amp, unscale_first):
    paddle.seed(0)
    model = paddle.nn.Sequential(paddle.nn.Linear(4, 8), paddle.nn.ReLU(), paddle.nn.Linear(8, 3))
    optimizer = build_optimizer({"name": "Momentum", "momentum": 0.9,
                                 "grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 0.5}}, model, 0.1)
    if amp is not None:
        model, optimizer = amp.decorate(model, optimizer)
    x, y = paddle.randn([5, 4]), paddle.to_tensor([0, 1, 2, 0, 1])
    for _ in range(2):
        if amp is None:
            paddle.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        else:
            with amp.autocast():
                loss = paddle.nn.functional.cross_entropy(model(x), y)
            amp.backward(loss)
            if unscale_first:
                amp.unscale(optimizer)
            amp.step(optimizer)
        optimizer.clear_grad()
    return [p.numpy() for p in model.parameters()]


@pytest.mark.parametrize("level", ["O1", "O2"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("unscale_first", [False, True])
def test_gpu_code_path_matches_the_fp32_step_when_paddle_keeps_fp32(level, dtype, unscale_first):
    section = {"enable": True, "level": level, "dtype": dtype, "init_loss_scaling": 1024.0,
               "use_dynamic_loss_scaling": True}
    amp = Amp(section, "gpu")  # the GPU branch, run on the CPU place
    # Paddle's GradScaler switches itself off on a CPU place, so what runs here is the API sequence
    # (decorate, auto_cast, scale/unscale_/step/update), not the loss scaling itself.
    assert amp.active
    for got, want in zip(one_step(amp, unscale_first), one_step(None, False)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_on_cpu_amp_is_inactive_said_once_and_training_runs_in_fp32(make_config):
    cfg, out = make_config({"AMP": {"enable": True, "level": "O2"}})
    assert main(["train", "-c", cfg]) == 0
    assert (out / "train.log").read_text().count("AMP is inactive on CPU") == 1  # logged before train.log opened
    import json

    assert json.loads((out / "metrics.json").read_text())["status"] == "finished"
    assert paddle.load(str(out / "checkpoints" / "latest.pdparams"))["net.1.weight"].dtype == paddle.float32


def test_cpu_message(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="paddle_optim.train"):
        Amp({"enable": True, "level": "O1", "dtype": "float16", "init_loss_scaling": 1.0,
             "use_dynamic_loss_scaling": False}, "cpu")
    assert [r.getMessage() for r in caplog.records] == [
        "AMP is inactive on CPU (no low-precision CPU kernels); training in float32"]
