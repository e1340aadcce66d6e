"""Fine-tuning from local weights (``Model.pretrained``, ``pretrained_strict``) and frozen parameters
(``Model.freeze``), end to end through ``paddle-optim train``."""
import numpy as np
import paddle
import pytest

from paddle_optim.cli import main
from paddle_optim.sections import load_resolved_config
from paddle_optim.training.distributed import World
from paddle_optim.training.loop import Run

BACKBONE, HEAD = ("net.1.weight", "net.1.bias"), ("net.3.weight", "net.3.bias")  # mlp, hidden_sizes [16]
FOUR_CLASSES = {"Data": {"dataset": {"name": "synthetic", "num_samples": 256, "num_val": 64, "num_features": 8,
                                     "num_classes": 4, "seed": 1}}}


@pytest.fixture
def base_run(make_config):
    """A trained 3-class run: its checkpoints directory."""
    cfg, out = make_config({"Global": {"epochs": 1}}, name="base")
    assert main(["train", "-c", cfg]) == 0
    return out / "checkpoints"


def weights(path):
    return {k: v.numpy() for k, v in paddle.load(str(path)).items()}


def step0_weights(cfg):
    run = Run(load_resolved_config(cfg, []), World(0, 1, "cpu"))
    return {k: v.numpy() for k, v in run.model.state_dict().items()}


def one_error_line(capsys, argv):
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (code, err)
    return err[0]


def test_a_replaced_head_keeps_its_fresh_initialisation_and_the_backbone_is_loaded(base_run, make_config, capsys,
                                                                                   snapshot):
    loaded = weights(base_run / "latest.pdparams")
    cfg, out = make_config(dict(FOUR_CLASSES, Global={"epochs": 1},  # a run's output directory: its latest
                                Model={"pretrained": str(base_run.parent), "pretrained_strict": False}), name="tuned")
    fresh_cfg, _ = make_config(dict(FOUR_CLASSES, Global={"epochs": 1}), name="fresh")
    start, fresh = step0_weights(cfg), step0_weights(fresh_cfg)
    for key in BACKBONE:
        np.testing.assert_array_equal(start[key], loaded[key])
        assert not np.array_equal(start[key], fresh[key])
    for key in HEAD:  # the 4-class head: the same values as a run without pretrained weights
        np.testing.assert_array_equal(start[key], fresh[key])
    assert start["net.3.weight"].shape == (16, 4) and loaded["net.3.weight"].shape == (16, 3)

    assert main(["train", "-c", cfg]) == 0
    log = (out / "train.log").read_text()
    assert "Model.pretrained: loaded 2 of 4 keys" in log
    assert "skipped (fresh initialisation kept): shape-mismatched: net.3.weight (weights [16, 3], model [16, 4]), " \
           "net.3.bias (weights [3], model [4])" in log

    # strict (the default): one error line naming the keys, and the earlier run in output_dir is untouched
    before = snapshot(out)
    line = one_error_line(capsys, ["train", "-c", cfg, "-o", "Model.pretrained_strict=true"])
    assert line.startswith("error: Model.pretrained: ") and "shape-mismatched: net.3.weight" in line
    assert "Model.pretrained_strict: false" in line
    assert snapshot(out) == before


@pytest.mark.parametrize("optimizer, state_path", [
    ({"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01}, ("accumulators", "velocity")),
    ({"name": "Ranger", "learning_rate": 0.01, "weight_decay": 0.01}, ("extra", "slow_weights")),  # Lookahead's
])
def test_frozen_backbone_is_bit_identical_after_training_while_the_head_moves(base_run, make_config, optimizer,
                                                                              state_path):
    pdparams = base_run / "latest.pdparams"  # a plain paddle.save(model.state_dict()) file
    loaded = weights(pdparams)
    cfg, out = make_config({"Model": {"pretrained": str(pdparams), "freeze": ["net.1.*"]}, "Optimizer": optimizer},
                           name="frozen")
    assert main(["train", "-c", cfg]) == 0
    trained = weights(out / "checkpoints" / "latest.pdparams")
    for key in BACKBONE:
        np.testing.assert_array_equal(trained[key], loaded[key])
    for key in HEAD:
        assert not np.array_equal(trained[key], loaded[key]), key
    assert "Model.freeze: 2 of 4 parameters frozen: net.1.weight, net.1.bias" in (out / "train.log").read_text()
    # frozen parameters get no optimizer state: only the head's two have a velocity / a slow copy
    state = paddle.load(str(out / "checkpoints" / "latest.pdopt"))
    for key in state_path:
        state = state[key]
    assert [list(v.shape) for v in state.values()] == [[16, 3], [3]]


@pytest.mark.parametrize("override, fragment", [
    ("Model.freeze=[backbone.*]", "error: Model.freeze[0]: 'backbone.*' matches no parameter"),
    ("Model.freeze=[net.*]", "error: Model.freeze: ['net.*'] matches every parameter"),
    ("Model.freeze=[3]", "error: Model.freeze[0]: expected a name pattern string"),
    ("Model.pretrained=nosuch/checkpoints/latest", "error: Model.pretrained: no weights at nosuch/checkpoints/latest"),
])
def test_bad_fine_tuning_keys_are_one_error_line_before_anything_is_written(make_config, capsys, override, fragment):
    cfg, out = make_config(name="bad")
    line = one_error_line(capsys, ["train", "-c", cfg, "-o", override])
    assert line.startswith(fragment), line
    assert not out.exists()


@pytest.mark.parametrize("content, fragment", [(b"not a pickle", "cannot read"), (None, "holds a list, not a state dict")])
def test_weights_that_are_not_a_state_dict_are_one_error_line(make_config, capsys, tmp_path, content, fragment):
    bad = tmp_path / "bad.pdparams"
    if content is None:
        paddle.save([1, 2], str(bad))
    else:
        bad.write_bytes(content)
    cfg, out = make_config({"Model": {"pretrained": str(bad)}}, name="bad")
    line = one_error_line(capsys, ["train", "-c", cfg])
    assert line.startswith("error: Model.pretrained: ") and fragment in line, line
    assert not out.exists()
