"""Distributed consistency on CPU (gloo) through ``paddle.distributed.launch``.

* 2 processes on one node: after training every rank holds identical weights, optimizer moments and
  Lookahead slow weights;
* rank 1 is SIGKILLed mid-run: the job exits non-zero within a bounded time, with a message naming the
  rank, and no hang; ``--resume`` then continues exactly (bit-identical to the uninterrupted 2-rank run);
* 2 nodes simulated on loopback (two launchers, ``--nnodes 2 --master 127.0.0.1:PORT``): identical ranks,
  and the same result as the one-node run.

Every launch has a hard timeout and its whole process group is killed on failure.
"""
import re
import socket
import subprocess
import time

import numpy as np
import pytest

from launching import WORKER, assert_ranks_identical, kill_group, launch, launcher, rank_arrays
from rel_helpers import assert_same_run, child_env, write_config

TIMEOUT = 120
DEATH_BOUND = 60  # seconds from launch to the job's exit when a rank dies
# Per rank: 192 samples / 2 ranks / batch 12 = 8 micro-batches, 2 per step: 4 steps/epoch, 12 steps in all.
CHANGES = {"Checkpoint": {"interval_steps": 2, "save_interval": 1, "keep_last": 1}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_worker(tmp_path, name, config, dump, fault=None, resume=False):
    """One-node, 2-process launch of the trainer; ``(exit code, launcher output + worker logs, seconds)``."""
    env = child_env(**({"RELIABILITY_FAULT": fault} if fault else {}))
    if not fault:
        env.pop("RELIABILITY_FAULT", None)
    start = time.time()
    code, log = launch(tmp_path / f"log_{name}", ["train", dump, config] + (["--resume"] if resume else []),
                       env=env, timeout=TIMEOUT)
    return code, log, time.time() - start


# Lookahead slow weights and the moments are among the arrays compared.
RUN_STATE = ("slow", "moment")


def fresh_run(tmp_path, name):
    """``(config, output dir, dump dir)`` of a new run of the reliability config."""
    config, out = write_config(tmp_path, name, CHANGES)
    dump = tmp_path / "dump"
    dump.mkdir()
    return config, out, dump


def assert_same_as_one_node(dump, one_node):
    """The ranks of ``dump`` agree with each other and with the uninterrupted one-node run."""
    arrays = assert_ranks_identical(dump, RUN_STATE)
    full = rank_arrays(one_node[1], ranks=(0,))[0]
    for key in full:
        np.testing.assert_array_equal(arrays[key], full[key], err_msg=key)


@pytest.fixture(scope="module")
def one_node(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist_full")
    config, out, dump = fresh_run(tmp, "full")
    code, log, _ = launch_worker(tmp, "full", config, dump)
    assert code == 0, log[-4000:]
    return out, dump


@pytest.mark.slow
def test_two_ranks_hold_identical_weights_moments_and_slow_weights(one_node):
    assert_ranks_identical(one_node[1], RUN_STATE)


@pytest.mark.slow
def test_a_dead_rank_stops_the_job_with_its_name_and_resume_continues_exactly(one_node, tmp_path):
    config, out, dump = fresh_run(tmp_path, "killed")
    code, log, seconds = launch_worker(tmp_path, "killed", config, dump, fault="train_step:7@1")
    assert code != 0 and "SIGKILL at optimizer step 7" in log, log[-4000:]
    assert seconds < DEATH_BOUND
    # Whoever notices first names rank 1: the survivor's error line, or the launcher (which then stops rank 0)
    assert ("error: rank 0 of 2 lost rank 1 during training" in log
            or re.search(r"Container rank 1 status failed .* code -9", log)), log[-4000:]
    assert not re.search(r"(?m)^Traceback", log), log[-4000:]  # no Python traceback (the survivor's is handled)
    code, log, _ = launch_worker(tmp_path, "resumed", config, dump, resume=True)
    assert code == 0 and "resumed from" in log, log[-4000:]
    assert_same_as_one_node(dump, one_node)
    assert_same_run(one_node[0], out)


@pytest.mark.slow
def test_two_nodes_on_loopback_agree_with_each_other_and_with_one_node(one_node, tmp_path):
    config, out, dump = fresh_run(tmp_path, "nodes")
    master = f"127.0.0.1:{free_port()}"
    env = child_env()
    env.pop("RELIABILITY_FAULT", None)
    procs = [subprocess.Popen(launcher(tmp_path / f"node{n}", "--nnodes", "2", "--master", master,
                                       "--nproc_per_node", "1") + [WORKER, "train", str(dump), config],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                              start_new_session=True) for n in (0, 1)]
    try:
        outputs = [p.communicate(timeout=TIMEOUT)[0] for p in procs]
    except subprocess.TimeoutExpired:
        pytest.fail("a node did not finish within the timeout (hang)")
    finally:
        for p in procs:
            kill_group(p)
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    assert_same_as_one_node(dump, one_node)
    assert_same_run(one_node[0], out)
