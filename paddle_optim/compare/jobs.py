"""Running the grid: one ``train`` subprocess per cell, up to ``jobs`` at once, resumable.

Layout of the output directory::

    OUT/runs/<cell>/        the cell's Global.output_dir (metrics.json, train_log.csv, ...)
    OUT/cells/<cell>.json   what the cell runs (its exact train arguments, a hash of the base config)
    OUT/cells/<cell>.log    the train process's stdout and stderr

Resuming: a cell whose ``metrics.json`` says ``finished`` or ``diverged`` is skipped when the same
command is run again. A cell without one (crashed, killed, interrupted) is deleted and rerun from
scratch, so a result never mixes two processes. A complete cell that was run with different
arguments (another ``-o``, ``--epochs``, an edited base config) is not silently reused nor
overwritten: planning stops with an error naming it.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from ..errors import UserError
from .grid import Cell, output_dir_override
from .runs import ENDED, FAILED, RunOutcome, read_run, run_status

RUNS_DIR, CELLS_DIR = "runs", "cells"
POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 20  # a terminated trainer still running after this is killed


@dataclass(frozen=True)
class CellJob:
    """A cell with where it runs and the exact ``train`` arguments that run it."""

    cell: Cell
    out_dir: str
    train_args: List[str]  # everything after `python -m paddle_optim`

    @property
    def run_dir(self) -> str:
        return _run_dir(self.out_dir, self.cell)

    @property
    def log_path(self) -> str:
        return os.path.join(self.out_dir, CELLS_DIR, self.cell.name + ".log")

    @property
    def spec_path(self) -> str:
        return os.path.join(self.out_dir, CELLS_DIR, self.cell.name + ".json")


def _run_dir(out_dir: str, cell: Cell) -> str:
    return os.path.join(out_dir, RUNS_DIR, cell.name)


def make_job(cell: Cell, out_dir: str, config_path: str, overrides: Sequence[str],
             nproc: Optional[int] = None) -> CellJob:
    """``train -c CONFIG -o ... -o Global.output_dir=OUT/runs/<cell> [--nproc N]`` for ``cell``.

    ``overrides``: the user's ``-o`` first, then the cell's, so the cell's values win.
    """
    out_dir = os.path.abspath(out_dir)
    args = ["train", "-c", config_path]
    for override in list(overrides) + [output_dir_override(_run_dir(out_dir, cell))]:
        args += ["-o", override]
    if nproc is not None:
        args += ["--nproc", str(nproc)]
    return CellJob(cell, out_dir, args)


def job_spec(job: CellJob, config_path: str) -> Dict[str, object]:
    """What identifies a cell's result: its arguments and the base config's content."""
    with open(config_path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return {"cell": job.cell.as_dict(), "train_args": job.train_args, "config_sha256": digest}


def plan(jobs: Sequence[CellJob], config_path: str) -> List[CellJob]:
    """The jobs still to run; raises if a complete cell was produced by different arguments."""
    todo, stale = [], []
    for job in jobs:
        if run_status(job.run_dir) not in ENDED:
            todo.append(job)
            continue
        try:
            with open(job.spec_path, encoding="utf-8") as fh:
                recorded = json.load(fh)
        except (OSError, ValueError):
            recorded = None
        if recorded != job_spec(job, config_path):
            stale.append(job.cell.name)
    if stale:
        raise UserError(
            f"{len(stale)} finished run(s) in {os.path.join(jobs[0].out_dir, RUNS_DIR)} were made with other "
            f"settings (base config, -o, --epochs or --nproc), first: {stale[0]}; use another --out, or "
            "delete those run directories to recompute them")
    return todo


def run_jobs(jobs: Sequence[CellJob], config_path: str, parallel: int,
             echo: Callable[[str], None] = print, ranks_per_job: int = 1) -> Dict[Cell, RunOutcome]:
    """Run every job not complete yet, ``parallel`` at a time; return every job's
    ``{cell: RunOutcome}`` in the order of ``jobs`` (each run read once).

    ``ranks_per_job``: processes each job starts (``--nproc``), to share the cores between them.

    One progress line per cell as it is skipped or ends. A cell that crashes is recorded as
    ``failed`` and the others go on. On Ctrl-C or SIGTERM the running train processes are
    terminated (their cells stay incomplete and are rerun next time). Call from the main thread.
    """
    todo = plan(jobs, config_path)
    total, done = len(jobs), 0
    records: Dict[Cell, RunOutcome] = {}
    todo_names = {job.cell.name for job in todo}
    for job in jobs:
        if job.cell.name not in todo_names:
            done += 1
            records[job.cell] = read_run(job.run_dir)
            echo(f"[{done}/{total}] {job.cell.name}: {records[job.cell].status} earlier, skipped")
    env = _child_env(parallel * ranks_per_job)
    pending = list(todo)
    running: Dict[subprocess.Popen, tuple] = {}  # process -> (job, start time, its log file)
    # `kill PID` (SIGTERM) of compare must not orphan its train processes: treat it like Ctrl-C.
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    # A launcher (some CI runners, init shims) can start us with SIGTERM blocked; the mask is
    # inherited through exec, and our trainers would inherit it from us. Unblock after the handler
    # is in place so a signal already pending is delivered to it.
    previous_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        while pending or running:
            while pending and len(running) < parallel:
                job = pending.pop(0)
                proc, log = _start(job, config_path, env)
                running[proc] = (job, time.monotonic(), log)
            time.sleep(POLL_SECONDS)
            for proc in [p for p in running if p.poll() is not None]:
                job, started, log = running.pop(proc)
                log.close()
                done += 1
                records[job.cell] = read_run(job.run_dir)
                echo(f"[{done}/{total}] {job.cell.name}: {_describe(job, records[job.cell], proc.returncode)} "
                     f"({time.monotonic() - started:.1f} s)")
    finally:
        for proc in running:  # only reached with processes left on an interrupt or error
            proc.terminate()
        for proc, (_, _, log) in running.items():
            _wait_or_kill(proc)
            log.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGTERM, previous_handler)
    return {job.cell: records[job.cell] for job in jobs}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _wait_or_kill(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:  # it ignores or blocks SIGTERM: never leave it running
        proc.kill()
        proc.wait()


def _start(job: CellJob, config_path: str, env: Dict[str, str]):
    # A half-written run is removed first: the cell restarts from scratch, never from a mix.
    shutil.rmtree(job.run_dir, ignore_errors=True)
    os.makedirs(os.path.dirname(job.spec_path), exist_ok=True)
    with open(job.spec_path, "w", encoding="utf-8") as fh:
        json.dump(job_spec(job, config_path), fh, indent=1)
    log = open(job.log_path, "w", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "paddle_optim"] + job.train_args,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    return proc, log


def _child_env(processes: int) -> Dict[str, str]:
    env = dict(os.environ)
    # J trainers (x N ranks) each spawning one OpenMP thread per core oversubscribe the CPU; split
    # the cores between them unless the user chose a thread count.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _describe(job: CellJob, record: RunOutcome, returncode: int) -> str:
    if record.status == FAILED:
        return f"failed (exit code {returncode}, see {job.log_path})"
    text = f"{record.status}, final {record.metrics.get('metric_name', 'metric')} {record.number('final_metric'):.4f}"
    if record.number("nonfinite_steps") > 0:
        text += f", {record.number('nonfinite_steps'):.0f} non-finite steps"
    return text
