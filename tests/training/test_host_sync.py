"""Device -> host synchronisations of the training step, counted.

On a GPU every read of a tensor's value on the host (``.item()``, ``.numpy()``, ``float()``, ``bool()``,
...) waits for the device queue to drain; the trainer allows itself one such read per optimizer step
(the global gradient norm, read together with the window's losses) and none per micro-batch. The
count here is real: Paddle's own methods run, wrapped by a counter for the duration of a test (the
outermost read counts once: ``float(t)`` that calls ``t.numpy()`` inside is one read). On CPU there
is no device queue, but the calls that would synchronise a GPU are the same Python calls.
"""
import contextlib
import json
import math
import textwrap
import traceback

import numpy as np
import paddle
import pytest

from configs import TINY_RUN, merge_config
from launching import assert_ranks_identical, child_env, launch
from paddle_optim.sections import resolve_config
from paddle_optim.training import loop
from paddle_optim.training.distributed import World
from paddle_optim.training.loss import LOSSES, build_loss
from paddle_optim.training.records import NoRecords

# Every Tensor method that hands a value to the host.
READS = ("item", "numpy", "tolist", "__float__", "__int__", "__index__", "__bool__", "__array__",
         "__format__", "__str__", "__repr__", "cpu")


class HostReads:
    """Counts the outermost host reads of tensors while installed; ``sites`` says where each came from."""

    def __init__(self):
        self.count, self.sites, self._depth = 0, [], 0

    @contextlib.contextmanager
    def installed(self):
        originals = {name: getattr(paddle.Tensor, name) for name in READS if hasattr(paddle.Tensor, name)}

        def counting(name, original):
            def read(tensor, *args, **kwargs):
                if self._depth == 0:
                    self.count += 1
                    self.sites.append(f"{name} in " + " <- ".join(
                        f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in traceback.extract_stack(limit=6)[-2::-1]))
                self._depth += 1
                try:
                    return original(tensor, *args, **kwargs)
                finally:
                    self._depth -= 1
            return read

        try:
            for name, original in originals.items():
                setattr(paddle.Tensor, name, counting(name, original))
            yield self
        finally:
            for name, original in originals.items():
                setattr(paddle.Tensor, name, original)


def reads_per_step(config, monkeypatch):
    """Train ``config`` (its step loop only is counted); the host reads of each optimizer step, its
    bookkeeping and log point included, as a list, and the run."""
    run = loop.Run(config, World(0, 1, "cpu"))
    counter, per_step = HostReads(), []
    step, bookkeeping = loop.optimizer_step, loop._bookkeeping

    def counted_step(*args, **kwargs):
        per_step.append(counter.count)
        return step(*args, **kwargs)

    def counted_bookkeeping(*args, **kwargs):
        bookkeeping(*args, **kwargs)
        per_step[-1] = counter.count - per_step[-1]

    epoch = loop._train_one_epoch

    def counted_epoch(*args, **kwargs):
        with counter.installed():
            epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "optimizer_step", counted_step)
    monkeypatch.setattr(loop, "_bookkeeping", counted_bookkeeping)
    monkeypatch.setattr(loop, "_train_one_epoch", counted_epoch)
    loop.train(run, NoRecords())
    return per_step, counter, run


TERMS_LOSS = """
import paddle

def mse_and_l1(outputs, targets):
    mse = paddle.nn.functional.mse_loss(outputs, targets)
    l1 = paddle.nn.functional.l1_loss(outputs, targets)
    return {"loss": mse + l1, "mse": mse, "l1": l1}
"""

REGRESSION = {"Data": {"dataset": {"name": "regression", "num_samples": 192, "num_val": 32}, "batch_size": 16},
              "Loss": {"name": "sync_terms:mse_and_l1"}, "Metric": [{"name": "MAE"}]}

# 256 samples / batch 32 = 8 micro-batches per epoch, accumulation 4: 2 optimizer steps per epoch.
CASES = {
    "momentum, global-norm clip": {"Optimizer": {"grad_clip": {"name": "ClipGradByGlobalNorm", "clip_norm": 1.0}}},
    "momentum, no clip": {},
    "ranger, ema": {"Optimizer": {"name": "Ranger", "learning_rate": 0.01, "k": 2}, "EMA": {"enable": True}},
    "adamw, clip by value, dict loss terms": dict(
        REGRESSION, Optimizer={"name": "AdamW", "learning_rate": 0.01, "weight_decay": 0.01,
                               "grad_clip": {"name": "ClipGradByValue", "max": 1.0}}),
}


@pytest.fixture
def terms_loss(tmp_path, monkeypatch):
    (tmp_path / "sync_terms.py").write_text(textwrap.dedent(TERMS_LOSS))
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize("log_interval", [1, 1000], ids=["log every step", "no log step"])
@pytest.mark.parametrize("case", list(CASES))
def test_one_host_read_per_optimizer_step_with_accumulation_4(case, log_interval, terms_loss, monkeypatch, tmp_path):
    changes = merge_config(CASES[case], {"Global": {"epochs": 2, "accumulate_steps": 4, "log_interval": log_interval,
                                                    "output_dir": str(tmp_path / "out")}})
    config = resolve_config(merge_config(TINY_RUN, changes))
    per_step, counter, run = reads_per_step(config, monkeypatch)
    steps = run.counters.global_step
    assert steps == len(per_step) == 2 * math.ceil(run.sampler.batches_per_epoch() / 4) and steps >= 4
    # Exactly one read per step, whether or not it writes a log point (its values were read by the step).
    assert per_step == [1] * steps, "\n".join(counter.sites)
    assert counter.count == steps, "\n".join(counter.sites)  # the epoch loop around the steps reads nothing else


def test_the_counter_sees_every_kind_of_read():
    """The instrument itself: each read counts once, a read inside a read does not count again."""
    t = paddle.to_tensor(2.5)
    with HostReads().installed() as counter:
        values = (t.item(), float(t), float(t.numpy()), t.tolist(), bool(t > 0), int(t), f"{float(t):.1f}")
    assert values[:6] == (2.5, 2.5, 2.5, 2.5, True, 2) and counter.count == 7, counter.sites


@pytest.mark.parametrize("kwargs, labels", [
    ({}, [0, 2, 1, 2, 0]),
    ({}, [[0], [2], [1], [2], [0]]),
    ({"ignore_index": 1}, [0, 1, 1, 2, 0]),
    ({"ignore_index": 1}, [1, 1, 1, 1, 1]),
    ({"label_smoothing": 0.1}, [0, 2, 1, 2, 0]),
    ({"weight": [1.0, 2.0, 0.5]}, [0, 2, 1, 2, 0]),
    ({"reduction": "sum"}, [0, 2, 1, 2, 0]),
], ids=["labels (N,)", "labels (N, 1)", "some ignored", "all ignored", "label smoothing", "class weights", "sum"])
def test_the_device_mean_cross_entropy_equals_paddles_without_a_host_read(kwargs, labels):
    from paddle_optim.training.cross_entropy import DeviceMeanCrossEntropyLoss

    args = dict(kwargs, weight=paddle.to_tensor(kwargs["weight"])) if "weight" in kwargs else kwargs
    logits = paddle.to_tensor([[1.0, -2.0, 0.5], [0.1, 0.2, 3.0], [2.0, 1.0, 0.0], [-1.0, 0.0, 1.0], [0.3, 0.3, 0.3]])
    target = paddle.to_tensor(labels, dtype="int64")
    ours = DeviceMeanCrossEntropyLoss(**args)
    with HostReads().installed() as counter:
        value = ours(logits, target)
    expected = paddle.nn.CrossEntropyLoss(**args)(logits, target)
    assert value.shape == expected.shape
    np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-6, atol=0)
    if "weight" not in kwargs:  # class weights keep Paddle's own reduction (2.6 reads the host there)
        assert counter.count == 0, counter.sites


def _loss_inputs(name):
    logits = paddle.to_tensor([[1.0, -2.0, 0.5], [0.1, 0.2, 3.0], [2.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    labels = paddle.to_tensor([0, 2, 1, 2], dtype="int64")
    values = paddle.nn.functional.sigmoid(logits * 0.7)
    log_probs = paddle.nn.functional.log_softmax(logits)
    return {"CrossEntropyLoss": (logits, labels), "NLLLoss": (log_probs, labels),
            "KLDivLoss": (log_probs, paddle.nn.functional.softmax(logits * 0.5)),
            "BCELoss": (paddle.nn.functional.sigmoid(logits), values)}.get(name, (logits, values))


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_named_loss_runs_without_a_host_read(name):
    loss = build_loss({"name": name})
    outputs, targets = _loss_inputs(name)
    with HostReads().installed() as counter:
        value = loss(outputs, targets)
    assert int(value.size) == 1 and counter.count == 0, counter.sites


ONE_RANK_NAN = """
import os
import paddle


class NaNOnRank1(paddle.nn.Layer):
    \"\"\"Linear; on rank 1 alone, training forward number ``bad`` (0-based) gives NaN outputs.\"\"\"

    def __init__(self, in_features=8, num_classes=3, bad=4):
        super().__init__()
        self.fc = paddle.nn.Linear(in_features, num_classes)
        self.bad, self.calls = bad, 0

    def forward(self, x):
        out = self.fc(x)
        if self.training:
            if self.calls == self.bad and os.environ.get("PADDLE_TRAINER_ID") == "1":
                out = out * float("nan")
            self.calls += 1
        return out
"""


@pytest.mark.slow
def test_a_non_finite_loss_on_one_rank_skips_the_step_on_both(make_config, tmp_path):
    """Rank 0's own losses are finite: only the count all-reduced on the device tells it to skip."""
    (tmp_path / "sync_rank_nan.py").write_text(textwrap.dedent(ONE_RANK_NAN))
    # 256 samples / 2 ranks / batch 16 = 8 micro-batches per rank, 2 per step: forward 4 is step 3's first.
    cfg, out = make_config({"Global": {"epochs": 1, "accumulate_steps": 2, "log_interval": 1},
                            "Data": {"batch_size": 16}, "Model": {"name": "sync_rank_nan:NaNOnRank1", "bad": 4}})
    dump = tmp_path / "dump"
    dump.mkdir()
    code, log = launch(tmp_path / "launch_log", ["train", dump, cfg], env=child_env(str(tmp_path)))
    assert code == 0, log[-4000:]
    rank0 = (out / "train.log").read_text()  # rank 0's log: its own losses were finite
    assert "non-finite loss at step 3 (epoch 1): step skipped" in rank0, rank0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["nonfinite_steps"] == 1 and metrics["global_step"] == 4 and metrics["status"] == "finished"
    assert_ranks_identical(dump, ("model",))
