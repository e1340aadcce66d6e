# zlib before paddle: see paddle_optim/__init__.py (the Paddle 2.6 wheel breaks a later-loaded zlib).
import zlib  # noqa: F401

import pytest


@pytest.fixture(autouse=True)
def _cpu_and_seed():
    import paddle

    paddle.set_device("cpu")
    paddle.seed(2024)
    yield
