# zlib before paddle: see paddle_optim/__init__.py (the Paddle 2.6 wheel breaks a later-loaded zlib).
import zlib  # noqa: F401

import hashlib
import os
import sys

# tests/support (the launch helper and the one distributed worker) importable from every test.
SUPPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)

import pytest


@pytest.fixture(autouse=True)
def _cpu_and_seed():
    import paddle

    paddle.set_device("cpu")
    paddle.seed(2024)
    yield


def _snapshot(directory):
    """Every file under ``directory``: relative path -> (size, mtime_ns, sha1); equal snapshots mean
    nothing was written, replaced or touched. ``.lock`` aside: it names the last process that held the
    directory's lock (training.rundir), which a refused ``--resume`` may have been; it is no file of the run."""
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            if name == ".lock":
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                digest = hashlib.sha1(fh.read()).hexdigest()
            st = os.stat(path)
            files[os.path.relpath(path, directory)] = (st.st_size, st.st_mtime_ns, digest)
    return files


@pytest.fixture
def snapshot():
    """The :func:`_snapshot` function, for tests that prove a failing command left a run untouched."""
    return _snapshot
