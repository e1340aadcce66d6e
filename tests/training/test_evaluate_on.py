"""``Optimizer.evaluate_on: slow | fast``: which weights of Lookahead / Ranger evaluation sees, what
``best_model`` / ``final_model`` hold, and that ``latest`` keeps the fast weights for an exact resume.

The slow weights are computed independently of the trainer: read as numpy from the optimizer state of a
checkpoint (``.pdopt``, Lookahead's ``slow_weights`` by parameter position) and evaluated by hand with
:func:`~paddle_optim.training.evaluate.evaluate` on a freshly built model.
"""
import json
import shutil

import numpy as np
import paddle
import pytest

from configs import TINY_RUN, write_config
from launching import assert_ranks_identical, launch
from paddle_optim.cli import main
from paddle_optim.optimizers.state import parameter_groups
from paddle_optim.sections import load_resolved_config
from paddle_optim.training.distributed import World
from paddle_optim.training.evaluate import evaluate
from paddle_optim.training.loop import Run
from paddle_optim.training.records import read_csv

# 8 steps per epoch; k = 3 synchronises at steps 3, 6, 9, 12, 15: after epoch 1 (step 8) and epoch 2 (step 16)
# the fast weights are 2 and 1 steps past a synchronisation, so fast and slow weights differ at every evaluation.
RANGER = {"Optimizer": {"name": "Ranger", "learning_rate": 0.02, "k": 3},
          "Checkpoint": {"save_interval": 1, "keep_last": 0}}


def ranger(evaluate_on=None, **changes):
    config = {k: dict(v) for k, v in RANGER.items()}
    if evaluate_on is not None:
        config["Optimizer"]["evaluate_on"] = evaluate_on
    config.update(changes)
    return config


def trained(tmp_path, name, config):
    path, out = write_config(tmp_path, name, TINY_RUN, config)
    assert main(["train", "-c", path]) == 0
    return path, out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same Ranger run evaluated on its slow and on its fast weights: ``{mode: (config path, output dir)}``."""
    tmp = tmp_path_factory.mktemp("evaluate_on")
    return {mode: trained(tmp, mode, ranger(mode)) for mode in ("slow", "fast")}


def arrays(path):
    return {k: np.asarray(v.numpy() if isinstance(v, paddle.Tensor) else v) for k, v in paddle.load(str(path)).items()}


def fresh_run(config_path):
    return Run(load_resolved_config(config_path, []), World(0, 1, "cpu"))


def slow_weights_of(config_path, prefix):
    """The slow weights in checkpoint ``prefix``'s optimizer state, by structured name (the fast ones elsewhere)."""
    run = fresh_run(config_path)
    slow = paddle.load(str(prefix) + ".pdopt")["extra"]["slow_weights"]
    params = [p for group in parameter_groups(run.optimizer) for p in group]
    names = {p.name: k for k, p in run.model.named_parameters()}
    weights = arrays(str(prefix) + ".pdparams")
    for position, value in slow.items():
        weights[names[params[position].name]] = np.asarray(value.numpy() if isinstance(value, paddle.Tensor) else value)
    return weights


def evaluated_by_hand(config_path, weights):
    run = fresh_run(config_path)
    run.model.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
    data = run.config["Data"]
    return evaluate(run.model, run.val_set, data["eval_batch_size"], run.loss_fn, run.metrics, run.amp, run.world)


def assert_same(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def differs(a, b):
    return any(not np.array_equal(a[k], b[k]) for k in a)


def test_slow_evaluation_is_the_evaluation_of_the_slow_weights(runs):
    cfg, out = runs["slow"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluated_weights"] == "slow"
    rows = read_csv(str(out / "eval_log.csv"))
    for epoch, prefix in ((1, "epoch_1"), (2, "latest")):
        slow = slow_weights_of(cfg, out / "checkpoints" / prefix)
        fast = arrays(out / "checkpoints" / f"{prefix}.pdparams")
        assert differs(slow, fast)  # the fast weights are past a synchronisation
        by_hand = evaluated_by_hand(cfg, slow)
        row = rows[epoch - 1]
        assert float(row["loss"]) == by_hand["loss"] and float(row["metric"]) == by_hand["top1"], (epoch, row, by_hand)
        assert by_hand["loss"] != evaluated_by_hand(cfg, fast)["loss"]
    assert metrics["final_metrics"] == by_hand
    assert metrics["best_metric"] == max(float(r["metric"]) for r in rows)


def test_best_model_and_final_model_hold_the_slow_weights_latest_the_fast(runs):
    cfg, out = runs["slow"]
    ckpt = out / "checkpoints"
    metrics = json.loads((out / "metrics.json").read_text())
    best = f"epoch_{metrics['best_epoch']}"
    assert_same(arrays(ckpt / "best_model.pdparams"), slow_weights_of(cfg, ckpt / best))
    assert_same(arrays(ckpt / "final_model.pdparams"), slow_weights_of(cfg, ckpt / "latest"))
    # latest and epoch_N: resume points, the fast weights; the exports carry those for an exact resume
    states = paddle.load(str(ckpt / "final_model.pdstates"))
    assert_same({k: np.asarray(v) for k, v in states["train_weights"].items()}, arrays(ckpt / "latest.pdparams"))
    assert paddle.load(str(ckpt / "latest.pdstates"))["train_weights"] is None


def test_evaluating_the_slow_weights_leaves_training_untouched_and_fast_is_as_before(runs):
    """Same training whatever is evaluated (bit for bit); with fast, the metric is that of the fast weights
    and best_model is latest's copy, as before the key existed."""
    cfg, out = runs["fast"]
    ckpt = out / "checkpoints"
    slow_latest = runs["slow"][1] / "checkpoints" / "latest"
    assert_same(arrays(ckpt / "latest.pdparams"), arrays(f"{slow_latest}.pdparams"))
    assert_optimizer_state_equal(ckpt / "latest.pdopt", f"{slow_latest}.pdopt")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluated_weights"] == "fast"
    assert metrics["final_metrics"] == evaluated_by_hand(cfg, arrays(ckpt / "latest.pdparams"))
    assert (ckpt / "best_model.pdparams").read_bytes() == (ckpt / f"epoch_{metrics['best_epoch']}.pdparams").read_bytes()
    assert not (ckpt / "final_model.pdparams").exists()
    resolved = load_resolved_config(write_config(out.parent, "default", TINY_RUN, ranger())[0], [])
    assert resolved["Optimizer"]["evaluate_on"] == "fast"  # the default


def test_resume_from_latest_or_from_the_slow_best_model_is_bit_identical(runs, tmp_path):
    _, full = runs["slow"]
    cfg, first = trained(tmp_path, "first", ranger("slow", Global={"epochs": 1}))
    for resume_from in ("latest", "best_model"):  # best_model: the slow weights, the fast ones in its .pdstates
        out = tmp_path / resume_from
        shutil.copytree(first, out)
        assert main(["train", "-c", cfg, "-o", "Global.epochs=2", "-o", f"Global.output_dir={out}", "--resume",
                     str(out / "checkpoints" / resume_from)]) == 0
        for name in ("latest", "final_model"):
            ours, theirs = out / "checkpoints" / name, full / "checkpoints" / name
            assert_same(arrays(f"{ours}.pdparams"), arrays(f"{theirs}.pdparams"))
            assert_optimizer_state_equal(f"{ours}.pdopt", f"{theirs}.pdopt")


def assert_optimizer_state_equal(a, b):
    def flat(tree, prefix=""):
        if isinstance(tree, dict):
            for k, v in tree.items():
                yield from flat(v, f"{prefix}.{k}")
        elif isinstance(tree, (list, tuple)):
            for i, v in enumerate(tree):
                yield from flat(v, f"{prefix}[{i}]")
        else:
            yield prefix, np.asarray(tree.numpy() if isinstance(tree, paddle.Tensor) else tree)
    left, right = dict(flat(paddle.load(str(a)))), dict(flat(paddle.load(str(b))))
    assert_same(left, right)


BAD = [  # (Optimizer section, key named, fragment)
    ({"name": "Momentum", "learning_rate": 0.1, "evaluate_on": "slow"}, "Optimizer.evaluate_on",
     "Momentum has no slow weights; allowed: fast"),
    ({"name": "AdamW", "learning_rate": 0.01, "evaluate_on": "slow"}, "Optimizer.evaluate_on",
     "AdamW has no slow weights; allowed: fast"),
    ({"name": "Ranger", "learning_rate": 0.01, "evaluate_on": "medium"}, "Optimizer.evaluate_on",
     "unknown value 'medium'; allowed: fast, slow"),
    ({"name": "Ranger", "learning_rate": 0.01, "evaluate_on": True}, "Optimizer.evaluate_on", "expected string"),
    ({"name": "Lookahead", "learning_rate": 0.1, "inner": {"name": "Momentum", "evaluate_on": "slow"}},
     "Optimizer.inner.evaluate_on", "unknown key"),
]


def test_bad_evaluate_on_is_one_error_line_and_leaves_the_run_untouched(runs, capsys, snapshot):
    cfg, out = runs["fast"]
    before = snapshot(out)
    cases = [(f"Optimizer={json.dumps(section)}", key, fragment) for section, key, fragment in BAD]
    cases.append(("EMA.enable=true", "Optimizer.evaluate_on", "slow cannot be combined with EMA.enable: true"))
    capsys.readouterr()
    for override, key, fragment in cases:
        extra = ["-o", "Optimizer={name: Ranger, learning_rate: 0.01, evaluate_on: slow}"] if override.startswith("EMA") else []
        code = main(["train", "-c", cfg] + extra + ["-o", override])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, override
        assert len(err) == 1 and err[0].startswith(f"error: {key}") and fragment in err[0], (override, err)
    assert snapshot(out) == before


def test_lookahead_around_any_optimizer_may_evaluate_its_slow_weights(tmp_path):
    path, _ = write_config(tmp_path, "la", TINY_RUN, {"Optimizer": {
        "name": "Lookahead", "learning_rate": 0.1, "evaluate_on": "slow", "inner": {"name": "Momentum"}}})
    assert load_resolved_config(path, [])["Optimizer"]["evaluate_on"] == "slow"


def test_early_stopping_reads_the_slow_metric_and_the_stopped_run_exports_its_slow_weights(tmp_path):
    """A monitor that training makes worse (top-1 with mode min, patience 1) stops the run early; the numbers it
    decided on are the slow weights', and final_model holds the slow weights the run ended with."""
    cfg, out = trained(tmp_path, "stopped", ranger("slow", Global={"epochs": 4, "early_stop_patience": 1},
                                                   Metric=[{"name": "Accuracy", "mode": "min"}]))
    metrics = json.loads((out / "metrics.json").read_text())
    rows = read_csv(str(out / "eval_log.csv"))
    assert metrics["early_stopped"] and metrics["epochs"] == len(rows) < 4
    slow = slow_weights_of(cfg, out / "checkpoints" / "latest")
    assert evaluated_by_hand(cfg, slow) == metrics["final_metrics"]
    assert_same(arrays(out / "checkpoints" / "final_model.pdparams"), slow)


@pytest.mark.slow
def test_two_ranks_evaluate_their_identical_slow_weights(tmp_path):
    """2 processes (gloo): each rank swaps in its slow weights for its shard; the summed top-1 is that of one
    process evaluating the slow weights, rank 0 alone writes the exports, and the ranks end identical."""
    cfg, out = write_config(tmp_path, "dist", TINY_RUN, ranger("slow", Data={"batch_size": 16}))
    dump = tmp_path / "dump"
    dump.mkdir()
    code, log = launch(tmp_path / "launch_log", ["train", dump, cfg], timeout=150)
    assert code == 0, log[-4000:]
    assert_ranks_identical(dump, must_have=("/model/", "/optimizer/"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["evaluated_weights"] == "slow"
    slow = slow_weights_of(cfg, out / "checkpoints" / "latest")
    assert metrics["final_metrics"]["top1"] == evaluated_by_hand(cfg, slow)["top1"]  # counts: exact
    assert_same(arrays(out / "checkpoints" / "final_model.pdparams"), slow)
