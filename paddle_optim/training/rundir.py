"""A run directory belongs to one run: its identity (``run.json``), its lock (``.lock``), moving an
earlier run aside (``--overwrite``), and the one-line error for a full or read-only disk.

* **Identity.** A new run gets ``run_id`` (uuid4), its start time, host and PID, written to
  ``<output_dir>/run.json``; every checkpoint carries the same ``run_id`` in its ``.pdstates``. A resumed run
  keeps the identity (``run.json`` lists its resumes) and only continues checkpoints with its ``run_id``, so
  an ``epoch_N`` of another run that ended up in ``checkpoints/`` is never picked. A directory without
  ``run.json`` (written before identities existed) resumes as before, from any intact checkpoint.
* **One run per directory.** A new run (no ``--resume``, or ``--resume`` of a checkpoint outside the
  directory) into a directory holding another run's files is refused with one error line naming what is
  there; ``--overwrite`` moves those files (only the trainer's own, :data:`RUN_ENTRIES`) into
  ``previous/<time>-<old run_id>/`` in the same directory: a rename, never a deletion or a copy.
* **Lock.** ``fcntl.flock`` on ``<output_dir>/.lock`` for the run's lifetime, with the holder's PID, host
  and start time written in it; a second ``train`` on the directory gets one error line naming them. The
  kernel drops the lock when its process dies (also on SIGKILL), so there is no stale lock to clean up.
  Under ``train --nproc N`` the launching process holds it for the whole job and hands the identity to
  the ranks in :data:`RUN_ID_ENV`; the ranks do not lock (their parent holds it).
* **Disk errors.** :func:`disk_errors` turns a full disk (ENOSPC, EDQUOT), a file-size limit (EFBIG), a
  read-only file system (EROFS) or missing permissions (EACCES, EPERM) while writing a file of the run
  into ``error: Global.output_dir: <what> while writing <file>``.
"""
import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import socket
import uuid
from typing import Any, Dict, Iterator, List, Mapping, Optional

from ..errors import ConfigError

log = logging.getLogger("paddle_optim.train")

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
PREVIOUS_DIR = "previous"
#: Set by ``train --nproc N`` for its ranks: the job's run_id; the launching process holds the lock.
RUN_ID_ENV = "PADDLE_OPTIM_RUN_ID"
#: What a run produced: a new run is refused over any of these (a run that ended before its first
#: record left only its run.json / train.log / config.yaml / launch_log, which a new run replaces).
RESULT_ENTRIES = ("checkpoints", "train_log.csv", "eval_log.csv", "metrics.json", "vdl")
#: Everything the trainer (and its launcher) writes into a run directory: what ``--overwrite`` moves aside.
#: Nothing else in the directory is touched (it may be a directory of the user's, like ``.``).
RUN_ENTRIES = RESULT_ENTRIES + (RUN_FILE, "train.log", "config.yaml", "curves.png", "launch_log")

#: errno of a write that failed because of the disk, not the program -> what the error line says.
DISK_ERRORS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
               errno.EFBIG: "file too large (file-size limit)", errno.EROFS: "read-only file system",
               errno.EACCES: "permission denied", errno.EPERM: "operation not permitted"}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _holder() -> Dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}


# --- disk errors ---------------------------------------------------------------------------------
def with_path(err: OSError, path: str) -> OSError:
    """``err`` naming ``path`` (a failed ``write()``/``flush()`` has no file name, an ``open()`` has)."""
    return err if err.filename else OSError(err.errno, err.strerror, path)


def remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def write_durably(path: str, data: bytes) -> None:
    """``path`` holds ``data``, flushed to disk; on a failed write the partial file is removed and the
    error names ``path``."""
    try:
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:
        remove_quietly(path)
        raise with_path(err, path) from None


def write_atomic(path: str, text: str) -> None:
    """``path`` holds ``text`` entirely or keeps what it held: a flushed ``.tmp``, renamed over it. On a
    failed write the ``.tmp`` is removed and the error names ``path``."""
    write_durably(path + ".tmp", text.encode("utf-8"))
    os.replace(path + ".tmp", path)


@contextlib.contextmanager
def disk_errors(output_dir: str) -> Iterator[None]:
    """A disk error while writing a file under ``output_dir`` -> one ConfigError line naming the file.
    Other OSErrors (a data file that cannot be read, ...) pass unchanged."""
    try:
        yield
    except OSError as err:
        problem = disk_error(err, output_dir)
        if problem is None:
            raise
        raise problem from None


def disk_error(err: OSError, output_dir: str) -> Optional[ConfigError]:
    """The ConfigError for ``err``, if it is a disk error on a file inside ``output_dir``; else None."""
    what = DISK_ERRORS.get(err.errno)
    root = os.path.abspath(output_dir)
    name = os.path.abspath(os.fsdecode(err.filename)) if err.filename else None
    if what is None or name is None or os.path.commonpath([root, name]) != root:
        return None
    return ConfigError("Global.output_dir", f"{what} while writing {name}; the last complete checkpoint is kept: "
                       "make room (or choose another Global.output_dir) and continue with --resume")


# --- identity ------------------------------------------------------------------------------------
def read_identity(output_dir: str) -> Optional[Dict[str, Any]]:
    """``run.json`` of ``output_dir``, or None when there is none (or it is damaged: a warning)."""
    path = os.path.join(output_dir, RUN_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            identity = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        log.warning(f"warning: {path} cannot be read ({err}); the directory's run is unknown")
        return None
    if not isinstance(identity, dict) or not isinstance(identity.get("run_id"), str):
        log.warning(f"warning: {path} holds no run_id; the directory's run is unknown")
        return None
    return identity


def run_files(output_dir: str, names=RUN_ENTRIES) -> List[str]:
    """The entries of ``names`` present in ``output_dir`` (directories when not empty, with a ``/``)."""
    found = []
    for name in names:
        path = os.path.join(output_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            if os.listdir(path):
                found.append(name + "/")
        elif os.path.lexists(path):
            found.append(name)
    return found


def inside(path: str, directory: str) -> bool:
    """Whether ``path`` lies in ``directory`` (both may not exist)."""
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([path, directory]) == directory


class OwnCheckpoints:
    """``belongs(states)``: whether a checkpoint's ``.pdstates`` is of the run ``identity`` describes (its
    ``run_id``; also a checkpoint without one when that run began before identities existed)."""

    def __init__(self, identity: Mapping[str, Any]):
        self.run_id, self.legacy = identity["run_id"], bool(identity.get("legacy"))

    def __call__(self, states: Mapping[str, Any]) -> bool:
        return states.get("run_id") == self.run_id or (self.legacy and "run_id" not in states)


def continues(resume: Optional[str], output_dir: str) -> bool:
    """Whether ``--resume`` continues ``output_dir``'s own run: no path, or a checkpoint inside it. A
    checkpoint elsewhere is the user's explicit choice, and starts a new run in ``output_dir``."""
    return resume is not None and (resume == "auto" or inside(resume, output_dir))


def own_checkpoints(output_dir: str, resume: Optional[str]) -> Optional[OwnCheckpoints]:
    """The checkpoints ``--resume`` may continue in ``output_dir``: those of its ``run.json`` (None: any,
    for a run elsewhere or a directory without an identity)."""
    identity = read_identity(output_dir) if continues(resume, output_dir) else None
    return OwnCheckpoints(identity) if identity else None


class RunLock:
    """``fcntl.flock`` on ``<output_dir>/.lock``; :meth:`acquire` raises a ConfigError naming the holder."""

    def __init__(self, output_dir: str):
        self.path = os.path.join(output_dir, LOCK_FILE)
        self._fd: Optional[int] = None

    def probe(self) -> None:
        """Raise the error :meth:`acquire` would if another process holds the lock; write nothing."""
        if self._fd is not None:
            return
        try:
            os.close(self._locked(os.O_RDONLY))  # flock needs no write access
        except FileNotFoundError:
            pass

    def acquire(self) -> None:
        """Take the lock (creating ``.lock``) and write this process into it as the holder."""
        if self._fd is not None:
            return
        fd = self._locked(os.O_RDWR | os.O_CREAT)
        try:  # the holder, for the error of the next one (.lock is no file of the run)
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(_holder()) + "\n").encode(), 0)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def _locked(self, flags: int) -> int:
        fd = os.open(self.path, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ConfigError("Global.output_dir", f"{os.path.dirname(self.path)} is in use by another train "
                              f"(pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, since "
                              f"{holder.get('started', '?')}); wait for it to end, stop it, or choose another "
                              "Global.output_dir") from None
        return fd

    def release(self) -> None:
        # The file stays: removing a lock file races with a process that has just opened it.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> Dict[str, Any]:
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


class RunDir:
    """Claims ``output_dir`` for one run, in two steps around the validation of everything else.

    The constructor fails if another train holds the lock, and locks an existing directory the run
    continues (so that no second train changes it while this one validates). :meth:`start` (after the
    config, data and checkpoint were validated; rank 0 or the launching process) creates the directory,
    locks it, refuses a new run over another run's results, moves them aside under ``overwrite`` and
    writes ``run.json``; a refused run writes nothing. ``continues``: the run resumes this directory's own run
    (``--resume`` without a path, or a checkpoint inside the directory).
    """

    def __init__(self, output_dir: str, resume: Optional[str], overwrite: bool = False):
        self.output_dir, self.overwrite = output_dir, overwrite
        self.continues = continues(resume, output_dir)
        self.lock = RunLock(output_dir)
        self.run_id: Optional[str] = None
        if not os.path.isdir(output_dir):
            return
        try:
            self.lock.probe()  # a running train is named before anything else is checked
            if self.continues:  # held while this run validates: resume may finish an interrupted save
                self.lock.acquire()
        except OSError as err:  # an unreadable or read-only directory
            self.lock.release()
            raise disk_error(with_path(err, self.lock.path), output_dir) or err from None

    def _check_ownership(self) -> None:
        if self.continues or self.overwrite:
            return
        found = run_files(self.output_dir, RESULT_ENTRIES)
        if not found:
            return
        identity = read_identity(self.output_dir)
        whose = f"run {identity['run_id']} (started {identity.get('started', '?')})" if identity else "an earlier run"
        raise ConfigError("Global.output_dir", f"{self.output_dir} holds the files of {whose}: {', '.join(found)}; "
                          "continue it with --resume, or pass --overwrite to move them aside into "
                          f"{os.path.join(self.output_dir, PREVIOUS_DIR)}/ and start a new run, or choose "
                          "another Global.output_dir")

    def start(self, resumed_from: Optional[str] = None) -> str:
        """Create, lock, (move aside), write ``run.json``; the run's ``run_id``."""
        try:
            os.makedirs(self.output_dir, exist_ok=True)
        except OSError as err:  # a path through a file, a read-only or missing mount, ...
            raise ConfigError("Global.output_dir", f"cannot create directory {self.output_dir}: {err.strerror} "
                              f"({err.filename}); allowed: a writable directory path") from None
        with disk_errors(self.output_dir):
            try:
                self.lock.probe()  # a train that started meanwhile is named as such
                self._check_ownership()  # before creating .lock: a refused run writes nothing
                self.lock.acquire()
            except OSError as err:
                raise with_path(err, self.lock.path) from None
            self._check_ownership()  # again, under the lock: another train may have written meanwhile
            identity = read_identity(self.output_dir) if self.continues else None
            if not self.continues and self.overwrite:
                self._move_aside()
            if identity is None:
                identity = dict(run_id=uuid.uuid4().hex, **_holder())
                if self.continues:  # a directory of a run from before identities: its checkpoints have none
                    identity["legacy"] = True
            if self.continues:
                resumes = identity.setdefault("resumes", [])
                resumes.append(dict(_holder(), checkpoint=resumed_from))
            write_atomic(os.path.join(self.output_dir, RUN_FILE), json.dumps(identity, indent=1) + "\n")
        self.run_id = identity["run_id"]
        return self.run_id

    def _move_aside(self) -> None:
        found = [name.rstrip("/") for name in run_files(self.output_dir)]
        if not found:
            return
        identity = read_identity(self.output_dir)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{identity['run_id'][:8]}" if identity else stamp
        aside = os.path.join(self.output_dir, PREVIOUS_DIR, name)
        suffix = 1
        while os.path.exists(aside):
            aside = os.path.join(self.output_dir, PREVIOUS_DIR, f"{name}.{suffix}")
            suffix += 1
        os.makedirs(aside)
        for entry in found:  # renames in one file system: nothing copied, nothing deleted
            os.rename(os.path.join(self.output_dir, entry), os.path.join(aside, entry))
        log.info(f"--overwrite: moved the earlier run's {', '.join(found)} into {aside}")

    def adopt(self, run_id: str) -> None:
        """A rank of ``train --nproc N``: the launching process claimed the directory and holds the lock."""
        self.run_id = run_id

    def release(self) -> None:
        self.lock.release()
