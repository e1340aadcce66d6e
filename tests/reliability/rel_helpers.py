"""Helpers of the reliability tests: small configs, subprocess runs that always end, checkpoint comparison."""
import json
import os
import sys

import numpy as np
import paddle

import configs
import launching
from launching import run_process

HERE = os.path.dirname(os.path.abspath(__file__))
FAULT_TRAIN = os.path.join(HERE, "fault_train.py")

# A run with every stateful part the exact-resume promise covers: Ranger (RAdam moments + Lookahead slow
# weights), warmup + cosine, EMA, dropout, gradient accumulation, and latest.* every 3 steps.
RESUME_CONFIG = {
    "Global": {"epochs": 3, "seed": 11, "device": "cpu", "log_interval": 2, "accumulate_steps": 2},
    "Data": {"dataset": {"name": "synthetic", "num_samples": 192, "num_val": 48, "num_features": 8,
                         "num_classes": 3, "seed": 2},
             "batch_size": 12},
    "Model": {"name": "mlp", "hidden_sizes": [16], "dropout": 0.2},
    "Optimizer": {"name": "Ranger", "learning_rate": 0.01, "k": 3, "weight_decay": 0.001},
    "LRScheduler": {"name": "CosineAnnealingDecay", "eta_min": 0.0005, "warmup": {"steps": 4, "start_lr": 0.001}},
    "EMA": {"enable": True, "decay": 0.9},
    "Checkpoint": {"interval_steps": 3, "save_interval": 1, "keep_last": 2},
}

# Fields of metrics.json / Counters that measure time, not the run.
TIMING = {"train_seconds", "train_cpu_seconds", "samples_per_second"}


def write_config(tmp_path, name, changes=None, base=RESUME_CONFIG):
    """``(config path, output dir)`` of ``base`` with ``changes`` (:func:`configs.merge_config`)."""
    return configs.write_config(tmp_path, name, base, changes)


def child_env(**extra):
    """A trainer subprocess's environment: this directory importable (fault_train, rel_faulty)."""
    return launching.child_env(HERE, **extra)


def fault_train(config, fault=None, resume=False, timeout=120):
    """``tests/reliability/fault_train.py -c config [--resume]`` with ``RELIABILITY_FAULT=fault``."""
    env = child_env(**({"RELIABILITY_FAULT": fault} if fault else {}))
    env.pop("RELIABILITY_FAULT", None) if not fault else None
    cmd = [sys.executable, FAULT_TRAIN, "-c", config] + (["--resume"] if resume else [])
    return run_process(cmd, timeout, env=env)


def load_checkpoint(prefix):
    """``(model, optimizer, states)`` of a checkpoint with every tensor as a numpy array."""
    from paddle_optim.training import checkpoint

    return tuple(to_numpy(part) for part in checkpoint.load(str(prefix)))


def to_numpy(obj):
    if isinstance(obj, paddle.Tensor):
        return obj.numpy()
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_numpy(v) for v in obj)
    return obj


def assert_same_tree(a, b, where="", skip=frozenset()):
    """Equal bit for bit: arrays by ``assert_array_equal`` (NaN == NaN), everything else by ``==``."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert sorted(k for k in a if k not in skip) == sorted(k for k in b if k not in skip), where
        for k in a:
            if k not in skip:
                assert_same_tree(a[k], b[k], f"{where}.{k}", skip)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tree(x, y, f"{where}[{i}]", skip)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)
        assert np.asarray(a).dtype == np.asarray(b).dtype, where
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} != {b!r}"


def assert_same_run(out_a, out_b):
    """Two finished runs are the same: every checkpoint (``latest``, ``best_model``, ``epoch_N``: weights,
    optimizer state incl. moments and slow weights, schedule, EMA, RNG, counters, best metric), CSV tables
    and metrics.json (timings aside). Returns the number of checkpoint/table bytes compared."""
    names_a, names_b = (sorted(n[:-len(".pdstates")] for n in os.listdir(o / "checkpoints") if n.endswith(".pdstates"))
                        for o in (out_a, out_b))
    assert names_a == names_b, (names_a, names_b)
    compared = 0
    for name in names_a:
        prefix_a, prefix_b = out_a / "checkpoints" / name, out_b / "checkpoints" / name
        model_a, opt_a, states_a = load_checkpoint(prefix_a)
        model_b, opt_b, states_b = load_checkpoint(prefix_b)
        assert_same_tree(model_a, model_b, f"{name}.pdparams")
        assert_same_tree(opt_a, opt_b, f"{name}.pdopt")
        # sizes, digests: pickles of identical values may differ in bytes (Paddle's generated tensor names)
        assert_same_tree(states_a, states_b, f"{name}.pdstates", skip=TIMING | {"config", "sizes", "sha256", "run_id"})
        compared += sum(os.path.getsize(str(prefix_a) + s) for s in (".pdparams", ".pdopt", ".pdstates"))
    for name in ("train_log.csv", "eval_log.csv"):
        text_a, text_b = (out_a / name).read_text(), (out_b / name).read_text()
        assert text_a == text_b, name
        compared += len(text_a)
    metrics_a, metrics_b = (json.loads((o / "metrics.json").read_text()) for o in (out_a, out_b))
    assert {k: v for k, v in metrics_a.items() if k not in TIMING} == \
           {k: v for k, v in metrics_b.items() if k not in TIMING}
    return compared
