"""This directory on ``sys.path``: its user-code modules (models that inject NaN or kill a rank) are
loaded by import path (``rel_faulty:NaNAtStepMLP``) exactly as a user's own module would be, and the
tests share :mod:`rel_helpers`. Subprocesses get it through ``PYTHONPATH`` (``rel_helpers.child_env``)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
