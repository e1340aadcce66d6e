"""Script run by ``paddle.distributed.launch`` in every process: ``paddle-optim suite-train <args>``.

A plain file (the launcher runs scripts, not modules), with absolute imports; zlib before Paddle.
"""
import zlib  # noqa: F401  (must precede paddle)
import sys

del sys.path[0]  # this file's directory: its modules must not shadow the suites' packages

from paddle_optim.cli import main

if __name__ == "__main__":
    sys.exit(main(["suite-train"] + sys.argv[1:]))
