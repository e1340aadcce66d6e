"""A terminal whose encoding lacks a character of a path (``PYTHONIOENCODING=ascii``, a C locale) gets
escapes (``\\xfc``), never a ``--- Logging error ---`` traceback per log line."""
import io
import sys

from paddle_optim.cli import main
from paddle_optim.training.records import setup_logging
from configs import TINY_RUN
from rel_helpers import write_config


def _ascii_terminal(monkeypatch):
    """stdout and stderr as strict-ASCII text streams, as Python opens them under PYTHONIOENCODING=ascii
    (stdout strict; stderr is made strict too, so a library that replaces it is covered)."""
    streams = {name: io.BytesIO() for name in ("stdout", "stderr")}
    for name, raw in streams.items():
        monkeypatch.setattr(sys, name, io.TextIOWrapper(raw, encoding="ascii", errors="strict"))
    return streams


def _text(streams, name):
    getattr(sys, name).flush()
    return streams[name].getvalue().decode("ascii")


def test_train_and_an_error_with_a_non_ascii_path_on_an_ascii_terminal(tmp_path, monkeypatch):
    config, out = write_config(tmp_path, "r\u00fcn", base=TINY_RUN)
    streams = _ascii_terminal(monkeypatch)
    try:
        assert main(["train", "-c", config]) == 0
        assert main(["train", "-c", config, "--resume", str(tmp_path / "n\u00efcht")]) == 2
    finally:
        setup_logging(None, keep_early=False)  # close train.log
    stdout, stderr = _text(streams, "stdout"), _text(streams, "stderr")
    assert "Logging error" not in stderr and "Traceback" not in stderr, stderr[-2000:]
    assert f"output in {tmp_path}/r\\xfcn" in stdout
    assert stderr.splitlines()[-1] == f"error: --resume: no checkpoint at {tmp_path}/n\\xefcht " \
                                      f"(expected {tmp_path}/n\\xefcht.pdparams/.pdopt/.pdstates)"
    assert (out / "metrics.json").exists()
