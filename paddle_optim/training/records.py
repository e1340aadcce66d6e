"""What a run leaves in ``output_dir`` (rank 0 only): logs, CSV tables, VisualDL, metrics, curves.

==================  ===============================================================================
``train.log``       every log line of the run (appended across resumes)
``train_log.csv``   ``step,epoch,loss,lr,momentum`` (then each extra term of a loss that returns a dict)
                    every ``Global.log_interval`` optimizer steps
``eval_log.csv``    ``epoch,step,loss,metric`` (metric: the monitor, named in metrics.json), then every
                    other metric by name, after every evaluation
``vdl/``            VisualDL: ``train/lr``, ``train/momentum``, ``train/loss``, ``train/<term>``,
                    ``train/grad_norm``, ``train/samples_per_sec``, ``eval/loss``, ``eval/<metric>``
                    (default ``eval/top1``) and the hyperparameters
``metrics.json``    the summary ``compare`` reads (see :func:`write_metrics`)
``curves.png``      loss, metric and learning rate against the step
``config.yaml``     the resolved config
``run.json``        the run's identity, ``.lock`` its lock, ``previous/`` runs moved aside (:mod:`.rundir`)
==================  ===============================================================================

On resume the CSV files and the VisualDL records keep only what is up to the checkpoint's step, so
a run that was killed and resumed leaves the same tables and curves as one that never stopped.
"""
import contextlib
import csv
import glob
import io
import json
import logging
import logging.handlers
import os
import sys
import time
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence

import yaml

from ..errors import UserError
from . import checkpoint
from .rundir import remove_quietly, with_path, write_atomic, write_durably

#: The files of a run directory (``Global.output_dir``), declared once; ``compare`` reads them back.
LOG_FILE = "train.log"
CONFIG_FILE = "config.yaml"
TRAIN_LOG = "train_log.csv"
EVAL_LOG = "eval_log.csv"
METRICS_FILE = "metrics.json"
CURVES_FILE = "curves.png"
VISUALDL_DIR = "vdl"
#: ``metrics.json`` ``status`` of a run that ended: all steps done, or stopped by non-finite losses.
FINISHED, DIVERGED = "finished", "diverged"

TRAIN_COLUMNS = ("step", "epoch", "loss", "lr", "momentum")
EVAL_COLUMNS = ("epoch", "step", "loss", "metric")

log = logging.getLogger("paddle_optim.train")


def setup_logging(output_dir: Optional[str], keep_early: bool = True) -> None:
    """Log lines to stdout; with ``output_dir`` (rank 0, once validation passed) also to ``train.log``.

    Called first without ``output_dir``: with ``keep_early`` (rank 0), lines logged before the run
    directory may be touched (lint warnings, "AMP is inactive") are kept in memory and written to
    ``train.log`` when it is opened.
    """
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    early = [h for h in log.handlers if isinstance(h, logging.handlers.MemoryHandler)]
    for handler in list(log.handlers):
        log.removeHandler(handler)
        if handler not in early:
            handler.close()
    log.setLevel(logging.INFO)
    log.propagate = False
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(fmt)
    log.addHandler(stream)
    if output_dir is None:
        if keep_early:
            log.addHandler(logging.handlers.MemoryHandler(capacity=100000, flushLevel=logging.CRITICAL + 1))
        return
    file_handler = _RunLogFile(os.path.join(output_dir, LOG_FILE), encoding="utf-8")
    file_handler.setFormatter(fmt)
    for memory in early:
        memory.setTarget(file_handler)
        memory.close()  # flushes the early lines into train.log
    log.addHandler(file_handler)


class _RunLogFile(logging.FileHandler):
    """``train.log``. A failed write (a full disk) is an error of the run, raised from the log call: not
    logging's ``--- Logging error ---`` traceback after which the run goes on without its log."""

    def handleError(self, record: logging.LogRecord) -> None:
        err = sys.exc_info()[1]
        if not isinstance(err, OSError):
            super().handleError(record)
            return
        log.removeHandler(self)
        with contextlib.suppress(OSError):
            self.close()
        raise with_path(err, self.baseFilename)


class CsvLog:
    """An append-only CSV table, truncated to ``step <= resume_step`` when a run resumes.

    Two steps, so that a failing write (a full disk) never loses rows of the earlier run: the constructor
    writes the kept rows to ``<path>.tmp`` (flushed to disk), :meth:`commit` renames it over ``path`` and
    opens it for appending; :meth:`abort` removes the ``.tmp``. ``commit=True`` does both at once.
    """

    def __init__(self, path: str, columns: Sequence[str], resume_step: Optional[int], commit: bool = True):
        self.path, self.columns = path, tuple(columns)
        kept = rows_up_to(path, resume_step) if resume_step is not None else []
        self._fh: Optional[IO[str]] = None
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=self.columns)
        writer.writeheader()
        writer.writerows(kept)
        write_durably(path + ".tmp", table.getvalue().encode("utf-8"))
        if commit:
            self.commit()

    def commit(self) -> None:
        os.replace(self.path + ".tmp", self.path)
        self._fh = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.columns)

    def abort(self) -> None:
        remove_quietly(self.path + ".tmp")

    def write(self, row: Mapping[str, Any]) -> None:
        """One row: the table's columns from ``row`` (other keys are not columns of this table)."""
        try:
            self._writer.writerow({k: _fmt(row.get(k)) for k in self.columns})
        except OSError as err:
            raise with_path(err, self.path) from None

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as err:
            raise with_path(err, self.path) from None

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError as err:
            raise with_path(err, self.path) from None


def rows_up_to(path: str, step: int) -> List[Dict[str, str]]:
    """The rows of the table at ``path`` (none if it does not exist) with ``step <= step``, for a resume.

    A row cut off by a killed process (no newline) is dropped; any other damage (bytes that are not
    UTF-8, NUL bytes, a missing ``step`` column, a row with another number of fields, a value that is
    not a number, a step that is not a whole number) is a UserError naming the file and line, raised before a resume changes
    anything (``run_training`` reads both tables first).
    """
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            lines = fh.read().splitlines(keepends=True)
    except UnicodeDecodeError as err:
        raise _damaged(path, "", err) from None
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # a row cut off by a killed process
    reader = csv.reader(lines)
    try:
        header = next(reader, [])
        if "step" not in header:
            raise ValueError(f"no 'step' column in its header {header[:6]}")
        rows = []
        for fields in reader:
            if len(fields) != len(header):
                raise ValueError(f"{len(fields)} fields, the header has {len(header)}")
            for value in fields:
                if value:
                    float(value)  # every column is a number or empty (the curves parse them)
            row = dict(zip(header, fields))
            if int(row["step"]) <= step:
                rows.append(row)
        return rows
    except (csv.Error, ValueError) as err:
        raise _damaged(path, f" line {reader.line_num}", err) from None


def _damaged(path: str, where: str, err: Exception) -> UserError:
    return UserError(f"{path}{where} is damaged ({err}); nothing was changed. Repair or delete it (the resumed "
                     "run then writes the table from its checkpoint on), or start again with --overwrite")


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def read_csv(path: str) -> List[Dict[str, str]]:
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class VisualDL:
    """VisualDL records under ``<output_dir>/vdl``, written synchronously by this process; rank 0 only.

    The records are VisualDL's own (``visualdl.writer.record_writer.RecordWriter`` framing of
    ``visualdl.component.base_component`` records: what ``LogWriter`` writes, ``visualdl --logdir``
    reads), but written here instead of by ``LogWriter``'s thread, which prints and drops a failed write
    (a full disk) so that the run would go on losing its curves. Scalars are encoded in batches, at most
    every ``WRITE_SECONDS`` and at every :meth:`flush` (before each checkpoint).

    On resume the earlier files' points up to the checkpoint move into this run's file, so that VisualDL
    shows every step once: the constructor writes them to a ``.tmp`` file (flushed to disk), :meth:`commit`
    renames it into place and only then removes the earlier files; a failure before leaves them intact.
    ``commit=True`` does both at once.
    """

    WRITE_SECONDS = 10.0

    def __init__(self, logdir: str, resume_step: Optional[int] = None, commit: bool = True):
        from visualdl.component.base_component import meta_data

        os.makedirs(logdir, exist_ok=True)
        # A name of our own, one file per process: VisualDL's default names could collide.
        self.path = os.path.join(logdir, f"vdlrecords.{time.time_ns()}.log")
        # Without "vdlrecords" in its name: VisualDL's reader never sees a half-written file.
        self._tmp = os.path.join(logdir, f".resume.{time.time_ns()}.tmp")
        for stale in glob.glob(os.path.join(logdir, ".resume.*.tmp")):  # left by a process killed here
            remove_quietly(stale)
        self._earlier = sorted(glob.glob(os.path.join(logdir, "vdlrecords.*"))) if resume_step is not None else []
        self._pending: List[tuple] = _unique(point for path in self._earlier for point in _scalars_up_to(path, resume_step))
        self._fh: Optional[IO[bytes]] = None
        self._buffer = io.BytesIO()
        self._record(meta_data(walltime=round(time.time() * 1000)))
        self._encode()
        write_durably(self._tmp, self._take())
        self._written = time.monotonic()
        if commit:
            self.commit()

    def commit(self) -> None:
        os.replace(self._tmp, self.path)
        for path in self._earlier:  # their points are in this run's file now
            os.remove(path)
        self._fh = open(self.path, "ab", buffering=0)  # every write reaches the file: see _write
        self._size = os.path.getsize(self.path)

    def abort(self) -> None:
        remove_quietly(self._tmp)

    def _record(self, record) -> None:
        from visualdl.writer.record_writer import RecordWriter

        RecordWriter(self._buffer).write(record.SerializeToString())

    def _take(self) -> bytes:
        data = self._buffer.getvalue()
        self._buffer = io.BytesIO()
        return data

    def _encode(self) -> None:
        from visualdl.component.base_component import scalar

        for tag, value, step, walltime in self._pending:
            self._record(scalar(tag=tag, value=value, step=step, walltime=walltime))
        self._pending = []

    def scalars(self, values: Mapping[str, Optional[float]], step: int) -> None:
        walltime = round(time.time() * 1000)  # VisualDL's unit; taken now, not when the batch is written
        self._pending.extend((tag, float(value), step, walltime) for tag, value in values.items() if value is not None)
        if time.monotonic() - self._written >= self.WRITE_SECONDS:
            self._write()

    def _write(self) -> None:
        self._encode()
        data = memoryview(self._take())
        try:
            while data:
                data = data[self._fh.write(data):]
        except OSError as err:
            # A cut-off record makes VisualDL's reader reject the whole file (and a resume then drop it):
            # back to the last complete record.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fh.fileno(), self._size)
            raise with_path(err, self.path) from None
        self._size = os.path.getsize(self.path)
        self._written = time.monotonic()

    def flush(self) -> None:
        self._write()

    def hyperparameters(self, config: Mapping[str, Any], metrics: Sequence[str]) -> None:
        """The flattened config (numbers; everything else as text) as VisualDL hparams."""
        from visualdl.component.base_component import hparam
        from visualdl.utils.md5_util import md5

        # VisualDL's protobuf rejects booleans as numbers.
        hparams = {k: str(v) if isinstance(v, bool) else v for k, v in flatten_config(config).items()}
        self._record(hparam(name=md5(self.path), hparam_dict=hparams, metric_list=list(metrics),
                            walltime=round(time.time() * 1000)))

    def close(self) -> None:
        self.flush()
        self._fh.close()


def _unique(points) -> List[tuple]:
    """Points with one ``(tag, step)`` once (a resume killed between its rename and the removal of the
    earlier files leaves the same points in two files)."""
    seen, kept = set(), []
    for point in points:
        if point[::2] not in seen:
            seen.add(point[::2])
            kept.append(point)
    return kept


def _scalars_up_to(path: str, last_step: int) -> List[tuple]:
    """``(tag, value, step, walltime)`` of the scalars in a VisualDL file with ``step <= last_step``."""
    from visualdl import LogReader

    try:
        reader = LogReader(file_path=path)
        return [(tag, r.value, r.id, r.timestamp) for tag in reader.get_tags().get("scalar", [])
                for r in reader.get_data("scalar", tag) if r.id <= last_step]
    except Exception as err:  # VisualDL's reader raises many types; a damaged log must not stop a resume
        log.warning(f"VisualDL records in {path} could not be read ({err}); they are dropped")
        return []


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    """``{"Optimizer.name": "Momentum", ...}``: numbers/bools/strings kept, other values as text."""
    flat: Dict[str, Any] = {}
    for key, value in (config or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, name + "."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        elif value is not None:
            flat[name] = str(value)
    return flat


def write_metrics(path: str, metrics: Mapping[str, Any]) -> None:
    """``metrics.json``: metric_name, best_metric, final_metric, epochs, global_step, train_seconds,
    samples_per_second, status ("finished" | "diverged"), nonfinite_steps, and more."""
    write_atomic(path, json.dumps(dict(metrics), indent=2, sort_keys=True))


def plot_curves(output_dir: str, monitor: str = "metric") -> str:
    """``curves.png`` (train/eval loss, the monitor metric, learning rate vs step) from the run's CSV files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = read_csv(os.path.join(output_dir, TRAIN_LOG))
    evals = read_csv(os.path.join(output_dir, EVAL_LOG))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    steps = [int(r["step"]) for r in train]
    axes[0].plot(steps, [float(r["loss"]) for r in train], label="train")
    axes[0].plot([int(r["step"]) for r in evals], [float(r["loss"]) for r in evals], "o-", label="eval")
    axes[0].set_title("loss")
    axes[0].legend()
    axes[1].plot([int(r["step"]) for r in evals], [float(r["metric"]) for r in evals], "o-")
    axes[1].set_title(f"eval {monitor}")
    axes[2].plot(steps, [float(r["lr"]) for r in train])
    axes[2].set_title("learning rate")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = os.path.join(output_dir, CURVES_FILE)
    try:  # a new curves.png or the earlier one, never a truncated one
        fig.savefig(path + ".tmp", dpi=90, format="png")
        os.replace(path + ".tmp", path)
    except OSError as err:
        remove_quietly(path + ".tmp")
        raise with_path(err, path) from None
    finally:
        plt.close(fig)
    return path


class RunRecords:
    """Rank 0's writer of everything above; created only after the whole config was validated."""

    def __init__(self, output_dir: str, config: Mapping[str, Any], resume_step: Optional[int],
                 monitor: str, metric_names: Sequence[str], loss_terms: Sequence[str] = ()):
        """``monitor``: the metric written to eval_log's ``metric`` column; ``metric_names``: every metric
        the evaluation reports (the others get a column each); ``loss_terms``: a dict loss's terms besides
        ``loss`` (a column each in train_log)."""
        self.output_dir = output_dir
        self.checkpoint_dir = os.path.join(output_dir, "checkpoints")
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        self.monitor = monitor
        # Everything new is written (and flushed to disk) before anything of an earlier run is replaced
        # or removed: a failure on the way (a full disk) leaves the earlier tables and curves as they were.
        prepared: List[Any] = []
        try:
            prepared.append(CsvLog(os.path.join(output_dir, TRAIN_LOG), TRAIN_COLUMNS + tuple(loss_terms), resume_step,
                                   commit=False))
            prepared.append(CsvLog(os.path.join(output_dir, EVAL_LOG),
                                   EVAL_COLUMNS + tuple(n for n in metric_names if n != monitor), resume_step,
                                   commit=False))
            prepared.append(VisualDL(os.path.join(output_dir, VISUALDL_DIR), resume_step, commit=False))
            write_atomic(os.path.join(output_dir, CONFIG_FILE), yaml.safe_dump(dict(config), sort_keys=False))
        except BaseException:
            for part in prepared:
                part.abort()
            raise
        self.train_csv, self.eval_csv, self.vdl = prepared
        # A metrics.json from an earlier (shorter or diverged) run would claim this one has ended.
        remove_quietly(os.path.join(output_dir, METRICS_FILE))
        for part in prepared:
            part.commit()
        self.vdl.hyperparameters(config, [f"eval/{monitor}", "eval/loss"])

    def training(self, step: int, epoch: int, values: Mapping[str, Optional[float]]) -> None:
        """One ``log_interval`` point: loss, lr, momentum, grad_norm, samples_per_sec, the loss's terms."""
        self.train_csv.write(dict(values, step=step, epoch=epoch))
        self.vdl.scalars({f"train/{k}": v for k, v in values.items()}, step)

    def evaluation(self, epoch: int, step: int, metrics: Mapping[str, float]) -> None:
        self.eval_csv.write(dict(metrics, epoch=epoch, step=step, metric=metrics[self.monitor]))
        self.vdl.scalars({f"eval/{k}": v for k, v in metrics.items()}, step)

    def flush(self) -> None:
        """Make the tables complete up to now (before every checkpoint; rows after it are cut on resume)."""
        self.train_csv.flush()
        self.eval_csv.flush()
        self.vdl.flush()

    def checkpoint(self, name: str, save: Callable[[str], None]) -> str:
        """Make the tables complete, then write ``checkpoints/<name>.*`` with ``save(prefix)``; the prefix."""
        self.flush()
        prefix = os.path.join(self.checkpoint_dir, name)
        with _checkpoint_written(prefix):
            save(prefix)
        return prefix

    def copy_checkpoint(self, source_prefix: str, name: str) -> None:
        """``checkpoints/<name>.*`` as a copy of the checkpoint at ``source_prefix``."""
        prefix = os.path.join(self.checkpoint_dir, name)
        with _checkpoint_written(prefix):
            checkpoint.copy(source_prefix, prefix)

    def prune_epochs(self, keep_last: int) -> None:
        """Keep the newest ``keep_last`` ``epoch_N`` checkpoints (0 = all)."""
        checkpoint.prune_epochs(self.checkpoint_dir, keep_last)

    def finish(self, metrics: Mapping[str, Any]) -> None:
        """Close everything; ``metrics.json`` comes last, so its presence means the run ended."""
        self.train_csv.close()
        self.eval_csv.close()
        self.vdl.close()
        plot_curves(self.output_dir, self.monitor)
        write_metrics(os.path.join(self.output_dir, METRICS_FILE), metrics)


@contextlib.contextmanager
def _checkpoint_written(prefix: str):
    """A failed checkpoint write (a full disk) leaves no temporary files and the previous ``prefix.*``
    intact (:func:`checkpoint.recover` drops an uncommitted write); the error names the file."""
    try:
        yield
    except OSError as err:
        # The last temporary file that exists is the one that was being written.
        names = [prefix + s for s in (".pdstates.part", ".pdopt.tmp", ".pdparams.tmp")]
        failed = next((n for n in names if os.path.exists(n)), prefix + checkpoint.SUFFIXES[0])
        with contextlib.suppress(OSError):
            checkpoint.recover(prefix)
        raise with_path(err, failed) from None


class NoRecords:
    """What ranks other than 0 write: nothing. It takes every call :class:`RunRecords` takes, so the
    loop reads the same on every rank."""

    def training(self, step: int, epoch: int, values: Mapping[str, Optional[float]]) -> None:
        pass

    def evaluation(self, epoch: int, step: int, metrics: Mapping[str, float]) -> None:
        pass

    def flush(self) -> None:
        pass

    def checkpoint(self, name: str, save: Callable[[str], None]) -> None:
        pass

    def copy_checkpoint(self, source_prefix: str, name: str) -> None:
        pass

    def prune_epochs(self, keep_last: int) -> None:
        pass

    def finish(self, metrics: Mapping[str, Any]) -> None:
        pass
