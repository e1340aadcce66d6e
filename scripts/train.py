#!/usr/bin/env python
"""Training entry for ``paddle.distributed.launch`` (which runs a script, not a module)::

    python -m paddle.distributed.launch --nproc_per_node 2 scripts/train.py -c configs/quickstart.yaml

Same arguments as ``paddle-optim train``; on CPU the gloo backend is used.
"""
import zlib  # noqa: F401  (before paddle: the Paddle 2.6 wheel breaks a later-loaded zlib)
import sys

from paddle_optim.cli import main

if __name__ == "__main__":
    sys.exit(main(["train"] + sys.argv[1:]))
