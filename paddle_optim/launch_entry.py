"""Script run by ``paddle.distributed.launch`` in every process: ``paddle-optim <command> <args>``
(``train``, ``lr-find`` or ``suite-train``).

A plain file (the launcher runs scripts, not modules), with absolute imports; zlib before Paddle
(see ``paddle_optim/__init__.py``).
"""
import zlib  # noqa: F401  (must precede paddle)
import sys

del sys.path[0]  # this file's directory (paddle_optim/): its modules must not shadow a user's or a suite's

from paddle_optim.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
