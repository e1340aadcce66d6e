"""Script run by ``paddle.distributed.launch`` in every process: ``paddle-optim <command> <args>``
(``train``, ``lr-find`` or ``suite-train``).

A plain file (the launcher runs scripts, not modules), with absolute imports; zlib before Paddle
(see ``paddle_optim/__init__.py``).
"""
import zlib  # noqa: F401  (must precede paddle)
import sys

del sys.path[0]  # this file's directory (paddle_optim/): its modules must not shadow a user's or a suite's

from paddle_optim.cli import main
from paddle_optim.training.distributed import die_with_parent

if __name__ == "__main__":
    die_with_parent()  # a launcher killed with SIGKILL must not leave this rank training on, re-parented
    sys.exit(main(sys.argv[1:]))
