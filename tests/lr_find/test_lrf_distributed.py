"""lr-find under paddle.distributed.launch, 2 CPU processes (gloo): the ranks agree on every learning
rate, the curve and the stop; one rank's non-finite loss stops both, without a hang."""
import os
import sys

import pytest
import yaml

from launching import assert_ranks_identical, child_env, launch, run_process

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 180
BASE = {
    "Global": {"epochs": 1, "seed": 5, "device": "cpu"},
    "Data": {"dataset": {"name": "synthetic", "num_samples": 256, "num_val": 32, "num_features": 8,
                         "num_classes": 3, "seed": 1}, "batch_size": 16},
    "Model": {"name": "mlp", "hidden_sizes": [16]},
    "Optimizer": {"name": "Momentum", "learning_rate": 0.1, "momentum": 0.9},
}


def config_file(tmp_path, **sections):
    config = dict(BASE, **sections)
    config["Global"] = dict(config["Global"], output_dir=str(tmp_path / "run"))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.slow
def test_two_ranks_apply_the_same_learning_rates_and_share_one_curve_and_stop(tmp_path):
    dump = tmp_path / "dump"
    dump.mkdir()
    code, out = launch(tmp_path / "log", ["lr-find", dump, config_file(tmp_path)], env=child_env(HERE),
                       timeout=TIMEOUT, cwd=tmp_path)
    assert code == 0, out[-4000:]
    first = assert_ranks_identical(dump, must_have=("applied", "losses", "stop"))
    assert str(first["stop"]).startswith("the smoothed loss exceeded 4x")  # Momentum 0.9 diverges before lr 10
    assert len(first["losses"]) < 30


@pytest.mark.slow
def test_one_rank_diverging_stops_both_at_the_same_step_through_the_command(tmp_path):
    config = config_file(tmp_path, Model={"name": "lrf_models:NaNOnOneRank", "rank": 1, "at_forward": 12})
    out_png = tmp_path / "find" / "lf.png"
    code, out = run_process([sys.executable, "-m", "paddle_optim", "lr-find", "-c", config, "--nproc", "2",
                             "--start", "1e-5", "--end", "1e-2", "--steps", "30", "--out", str(out_png)],
                            TIMEOUT, env=child_env(HERE), cwd=tmp_path)
    assert code == 0, out[-4000:]
    assert "stopped early: non-finite loss at step 12" in out, out[-4000:]
    with open(tmp_path / "find" / "lf.csv") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 1 + 12 and lines[-1].split(",")[2] == "nan"
    assert out_png.is_file() and not (tmp_path / "run").exists()
