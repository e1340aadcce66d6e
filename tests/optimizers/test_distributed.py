"""Two CPU processes (gloo) under paddle.distributed.launch: Ranger identical on both ranks."""
import numpy as np
import pytest

from launching import assert_ranks_identical, launch


@pytest.mark.slow
def test_ranger_weights_and_slow_weights_identical_on_two_ranks(tmp_path):
    code, log = launch(tmp_path / "log", ["ranger", tmp_path])
    assert code == 0, log[-4000:]
    rank0 = assert_ranks_identical(tmp_path, must_have=("weights", "slow"))
    # The ranks saw different data and training moved the weights: equality is the all-reduce.
    assert any(not np.array_equal(rank0[k], rank0[k.replace("/weights", "/initial")])
               for k in rank0 if k.startswith("/weights"))
