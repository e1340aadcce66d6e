"""``paddle-optim train``: validate everything, then train here or under ``paddle.distributed.launch``.

Order matters for users: the config (with ``-o`` overrides) is resolved and linted, the data set
measured and the resume checkpoint located BEFORE anything in ``Global.output_dir`` is created or
changed, so a mistake never damages an earlier run's outputs.
"""
import contextlib
import logging
import os
import sys
from typing import Any, Mapping, Optional

from ..errors import UserError
from ..schedulers.lint import lint_config
from ..sections import load_resolved_config
from . import checkpoint, distributed, rundir
from .distributed import all_reduce_sum, launch_command, resolve_device, run_launcher
from .loop import Run, train
from .records import EVAL_LOG, TRAIN_LOG, NoRecords, RunRecords, rows_up_to, setup_logging

log = logging.getLogger("paddle_optim.train")


def find_resume(resume: Optional[str], output_dir: str, belongs=None) -> Optional[str]:
    """Checkpoint prefix for ``--resume``, or None.

    ``auto`` (no path): the newest intact checkpoint of ``output_dir`` among ``latest``, every
    ``epoch_N`` and ``best_model`` (:func:`checkpoint.intact_checkpoints`; with ``belongs``, a test of a
    checkpoint's states, only those it accepts); each other one is logged, naming its damaged file.
    None (with a warning) only when the run has no checkpoint at all yet: a run killed before its first
    checkpoint starts over. When none is intact: a UserError naming them, so that a restart never
    silently replaces them. A path may be a run's output directory (its newest intact checkpoint), a
    ``checkpoints`` directory (its ``latest``), a prefix (``.../epoch_20``) or one of the three files.
    ``belongs`` is :class:`~paddle_optim.training.rundir.OwnCheckpoints` (only the directory's own run's).
    """
    if resume is None:
        return None
    if resume == "auto":
        checkpoint_dir = os.path.join(output_dir, "checkpoints")
        found = checkpoint.intact_checkpoints(checkpoint_dir, belongs)
        damaged = [(prefix, problem) for prefix, problem in found if problem is not None]
        for prefix, problem in damaged:
            log.warning(f"--resume: skipping {prefix}: {problem}")
        intact = [prefix for prefix, problem in found if problem is None]
        if intact:
            if damaged:
                log.warning(f"--resume: continuing from {intact[0]}, the newest intact checkpoint")
            return intact[0]
        if damaged:
            raise UserError(
                f"--resume: no intact checkpoint in {checkpoint_dir}: "
                + "; ".join(problem.replace(checkpoint_dir + os.sep, "") for _, problem in damaged)  # short: one line
                + ". Nothing was changed; resume from a copy of a good checkpoint (--resume PATH), or start "
                  "again with --overwrite (the old files are moved aside)")
        # Killed before its first checkpoint: there is nothing to continue, so start over.
        log.warning(f"--resume: no checkpoint in {checkpoint_dir} yet; starting from the beginning")
        return None
    if os.path.isdir(os.path.join(resume, "checkpoints")):  # a run's output directory
        return find_resume("auto", resume, belongs)
    prefix = checkpoint.resolve_prefix(resume)
    if not os.path.exists(prefix + ".pdstates") and not os.path.exists(prefix + ".pdstates.tmp"):
        raise UserError(f"--resume: no checkpoint at {resume} (expected {prefix}.pdparams/.pdopt/.pdstates)")
    return prefix


def run_training(config: Mapping[str, Any], resume: Optional[str], overwrite: bool = False):
    """Train a resolved config in this process (one rank of a launch, or alone).

    ``overwrite``: a new run may move an earlier run's files aside (:mod:`~paddle_optim.training.rundir`).
    Returns ``(run, metrics)``: the :class:`~paddle_optim.training.loop.Run` (model, optimizer, ...)
    and the metrics written to ``metrics.json``.
    """
    g = config["Global"]
    world = distributed.setup(g["device"])
    setup_logging(None, keep_early=world.is_main)
    launched_id = os.environ.get(rundir.RUN_ID_ENV)  # under `train --nproc N`: the parent claimed the directory
    claim = None
    try:
        # Rank 0 first: claiming checks the directory is this run's (and locks it), and locating the
        # checkpoint may finish an interrupted save (renames), which two processes must not do at once;
        # the others then find the completed files.
        prefix, problem = None, None
        if world.is_main:
            try:
                claim = None if launched_id else rundir.RunDir(g["output_dir"], resume, overwrite)
                prefix = find_resume(resume, g["output_dir"], rundir.own_checkpoints(g["output_dir"], resume))
            except UserError as err:  # raised after the barrier, so that no process waits for rank 0 forever
                problem = err
        distributed.barrier(world)
        if problem is not None:
            raise problem
        if not world.is_main:
            prefix = find_resume(resume, g["output_dir"], rundir.own_checkpoints(g["output_dir"], resume))
        run = Run(config, world)
        if world.is_main:
            for warning in lint_config(config, run.steps_per_epoch, run.schedule):
                log.warning(f"warning: {warning}")
        if prefix is not None:
            run.restore(prefix)  # a corrupt checkpoint fails here, before output_dir is written
            _check_tables(world, g["output_dir"], run.counters.global_step)  # and so does a damaged table
        records = NoRecords()  # ranks other than 0 write nothing
        with rundir.disk_errors(g["output_dir"]):
            if world.is_main:
                run.run_id = launched_id or claim.start(prefix)
                setup_logging(g["output_dir"])
                records = RunRecords(g["output_dir"], config, run.counters.global_step if prefix is not None else None,
                                     run.monitor, [n for m in run.metrics for n in m.names], run.extra_terms)
            log.info(f"training {config['Model']['name']} with {config['Optimizer']['name']} on "
                     f"{len(run.train_set)} samples: {run.steps_per_epoch} steps/epoch x {g['epochs']} epochs, "
                     f"{world.size} process(es) on {world.device}; output in {g['output_dir']} (run {run.run_id})")
            with distributed.peer_failures_reported(world, "training"):
                metrics = train(run, records)
            if metrics["best_metric"] is not None:
                log.info(f"done: best {metrics['metric_name']} {metrics['best_metric']:.4f} at epoch "
                         f"{metrics['best_epoch']}, {metrics['train_seconds']:.1f} s of training, "
                         f"{metrics['samples_per_second'] or 0:.0f} samples/s")
    finally:
        if claim is not None:
            claim.release()
    return run, metrics


def _check_tables(world, output_dir: str, step: int) -> None:
    """Rank 0 reads the tables a resume to ``step`` cuts (:func:`rows_up_to`: a damaged one is a UserError
    before anything is changed); every process learns the outcome, so that none waits for a stopped rank 0."""
    problem = None
    if world.is_main:
        try:
            for table in (TRAIN_LOG, EVAL_LOG):
                rows_up_to(os.path.join(output_dir, table), step)
        except UserError as err:
            problem = err
    if all_reduce_sum([0.0 if problem is None else 1.0], world)[0]:
        raise problem or UserError(f"rank 0 found a damaged table in {output_dir} (its error line names it)")


def train_command(args) -> int:
    """CLI adapter: ``args.config``, ``args.override``, ``args.resume`` (None/"auto"/path), ``args.nproc``,
    ``args.overwrite``."""
    config = load_resolved_config(args.config, args.override)
    overwrite = getattr(args, "overwrite", False)
    if args.nproc and args.nproc > 1 and "PADDLE_TRAINER_ID" not in os.environ:
        # The launching process claims the run directory (checks, lock, --overwrite, run.json) for the
        # whole job, before the launcher writes launch_log into it; its ranks adopt the identity.
        claim = rundir.RunDir(config["Global"]["output_dir"], args.resume, overwrite)
        try:
            # What a rank would refuse before writing (a --resume path without a checkpoint, a damaged one) is
            # checked here, once: the launcher would otherwise refresh launch_log in the earlier run's
            # directory and every rank print the error among its environment dump.
            output_dir = config["Global"]["output_dir"]
            prefix = find_resume(args.resume, output_dir, rundir.own_checkpoints(output_dir, args.resume))
            if prefix is not None:
                checkpoint.load(prefix)  # sizes, digests, every file unpickles
            run_id = claim.start()
            with _environ(rundir.RUN_ID_ENV, run_id):
                return _launch(args, config)
        finally:
            claim.release()
    run_training(config, args.resume, overwrite)
    return 0


@contextlib.contextmanager
def _environ(name: str, value: str):
    """``os.environ[name] = value`` inside the block (the launcher's children inherit it), restored after."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _launch(args, config: Mapping[str, Any]) -> int:
    """Re-run this command in ``--nproc`` processes through ``paddle.distributed.launch`` (the checks a
    rank would make before writing were made by :func:`train_command`). A stop (SIGTERM, Ctrl-C) ends the
    whole job: :func:`~paddle_optim.training.distributed.run_launcher`."""
    device = config["Global"]["device"]
    device = resolve_device(device) if device == "auto" else device  # gpu without CUDA: each rank reports it
    train_args = ["-c", args.config] + [a for o in args.override for a in ("-o", o)]
    if args.resume is not None:
        train_args += ["--resume", args.resume]
    env = dict(os.environ)
    if device == "cpu":
        env.setdefault("PADDLE_DISTRI_BACKEND", "gloo")
    log_dir = os.path.join(config["Global"]["output_dir"], "launch_log")
    cmd = launch_command(args.nproc, ["train"] + train_args, device, log_dir)
    print("launching: " + " ".join(cmd), file=sys.stderr)
    return run_launcher(cmd, env)
