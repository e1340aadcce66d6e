"""``paddle-optim compare``: optimizer x learning-rate (x scheduler) x seed sweeps with a report.

Modules, one concept each:

* :mod:`.grid` -- the cells of a sweep and the ``-o`` overrides that make each one a ``train`` run;
* :mod:`.runner` -- running cells as subprocesses, ``--jobs`` at a time, resumable;
* :mod:`.runs` -- reading a run's ``metrics.json``, ``train_log.csv`` and ``eval_log.csv``;
* :mod:`.aggregate` -- mean ± std per setting, steps to target, best setting, lr sensitivity;
* :mod:`.report` -- ``report.md``, ``results.csv``, ``results.json``;
* :mod:`.plots` -- ``sensitivity.png``, ``loss_curves.png``, ``schedules.png``;
* :mod:`.command` -- :func:`compare_command`, what the CLI calls.
"""
from .command import compare_command

__all__ = ["compare_command"]
