"""Atomic PaddleClas-style checkpoints: ``<prefix>.pdparams / .pdopt / .pdstates`` as one unit.

``<output_dir>/checkpoints/`` holds ``latest.*`` (refreshed at every epoch end, and every
``Checkpoint.interval_steps`` steps), ``best_model.*`` and ``epoch_N.*`` (keep-last-N).

* ``.pdparams``: ``model.state_dict()`` (structured names; loadable with plain ``paddle.load``);
* ``.pdopt``: the optimizer state, keyed by parameter position
  (:func:`paddle_optim.optimizers.state.portable_state_dict`: moments, Lookahead slow weights, ...);
* ``.pdstates``: everything else needed to continue bit-for-bit (epoch and position in it, global
  step, schedules, GradScaler, EMA, RNG states, best metric, the resolved config) plus the sizes and
  SHA-256 digests of the two other files (a flipped bit that keeps a file's size and pickle
  structure is caught too; hashing costs about a second per GB, at save and at load).

Writing is a small redo log, so that a process killed at ANY point leaves a complete checkpoint:

1. write ``P.pdparams.tmp`` and ``P.pdopt.tmp`` (flushed to disk);
2. write ``P.pdstates.part`` and rename it to ``P.pdstates.tmp``: **the commit point**;
3. rename the three ``.tmp`` files over ``P.*``.

Before reading (and before the next write) :func:`recover` finishes an interrupted step 3 when a
``.pdstates.tmp`` exists, and otherwise deletes the leftovers of an uncommitted write, so the
previous ``P.*`` stay intact.
"""
import hashlib
import logging
import os
import pickle
import re
import shutil
from typing import Any, Callable, Dict, List, Optional, Tuple

import paddle

from ..config.ranges import NON_NEGATIVE
from ..config.schema import Field
from ..errors import UserError

log = logging.getLogger("paddle_optim.train")

SUFFIXES = (".pdparams", ".pdopt", ".pdstates")
FORMAT_VERSION = 1


#: The ``Checkpoint`` config section.
CHECKPOINT_FIELDS = {
    "save_interval": Field((int,), 1, NON_NEGATIVE, help="keep epoch_N.* every N epochs (0 = never)"),
    "keep_last": Field((int,), 3, NON_NEGATIVE, help="epoch_N.* snapshots kept (0 = all)"),
    "save_best": Field((bool,), True, help="best_model.* at the best validation metric"),
    "interval_steps": Field((int,), 0, NON_NEGATIVE, help="also refresh latest.* every N optimizer steps (0 = per epoch)"),
}


def _fsync_file(path: str) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _save(obj: Any, path: str) -> None:
    paddle.save(obj, path)
    _fsync_file(path)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recover(prefix: str) -> None:
    """Bring ``prefix.*`` to a complete state after an interrupted :func:`save`."""
    if os.path.exists(prefix + ".pdstates.tmp"):  # committed: finish moving into place
        for suffix in SUFFIXES:
            if os.path.exists(prefix + suffix + ".tmp"):
                os.replace(prefix + suffix + ".tmp", prefix + suffix)
        return
    for leftover in [prefix + s + ".tmp" for s in SUFFIXES[:2]] + [prefix + ".pdstates.part"]:
        if os.path.exists(leftover):
            os.remove(leftover)


def save(prefix: str, model_state: Dict[str, Any], optimizer_state: Dict[str, Any], states: Dict[str, Any]) -> None:
    """Write ``prefix.pdparams/.pdopt/.pdstates`` atomically as one unit (see the module docstring)."""
    recover(prefix)
    _save(model_state, prefix + ".pdparams.tmp")
    _save(optimizer_state, prefix + ".pdopt.tmp")
    states = dict(states, format=FORMAT_VERSION,
                  sizes={s: os.path.getsize(prefix + s + ".tmp") for s in SUFFIXES[:2]},
                  sha256={s: _sha256(prefix + s + ".tmp") for s in SUFFIXES[:2]})
    _save(states, prefix + ".pdstates.part")
    _commit(prefix)


def _commit(prefix: str) -> None:
    """Step 2 (the commit point), then step 3, which is what :func:`recover` does for a committed set."""
    os.replace(prefix + ".pdstates.part", prefix + ".pdstates.tmp")
    recover(prefix)


def _place_copy(src: str, dst: str) -> None:
    """``dst`` holds the bytes of ``src``: a hard link (instant; later saves replace ``src`` by a new
    file, so the link keeps the old bytes), or a flushed copy where the file system has no links."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
        _fsync_file(dst)


def copy(src_prefix: str, dst_prefix: str) -> None:
    """Make ``dst_prefix.*`` a complete copy of ``src_prefix.*`` with the same redo-log protocol."""
    recover(dst_prefix)
    if all(os.path.exists(dst_prefix + s) and os.path.samefile(src_prefix + s, dst_prefix + s) for s in SUFFIXES):
        return  # already the same files (renaming a link over itself would leave the .tmp names behind)
    for suffix in SUFFIXES[:2]:
        _place_copy(src_prefix + suffix, dst_prefix + suffix + ".tmp")
    _place_copy(src_prefix + ".pdstates", dst_prefix + ".pdstates.part")
    _commit(dst_prefix)


def _load_file(path: str) -> Any:
    try:
        return paddle.load(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, OSError, RuntimeError, AttributeError,
            ModuleNotFoundError) as err:
        raise UserError(f"checkpoint file {path} is corrupt or not a paddle-optim checkpoint "
                        f"({type(err).__name__}: {err})") from None


def load(prefix: str) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
    """``(model_state, optimizer_state, states)`` of a complete checkpoint; UserError if it is not one."""
    recover(prefix)
    missing = [prefix + s for s in SUFFIXES if not os.path.isfile(prefix + s)]
    if missing:
        raise UserError(f"incomplete checkpoint {prefix}: missing {', '.join(missing)}")
    states = _load_file(prefix + ".pdstates")
    if not isinstance(states, dict) or states.get("format") != FORMAT_VERSION:
        raise UserError(f"{prefix}.pdstates is not a paddle-optim checkpoint (format {FORMAT_VERSION})")
    for suffix, size in states["sizes"].items():
        actual = os.path.getsize(prefix + suffix)
        if actual != size:
            raise UserError(f"checkpoint file {prefix}{suffix} is corrupt: {actual} bytes, expected {size}")
    for suffix, expected in states.get("sha256", {}).items():  # absent in checkpoints of earlier versions
        if _sha256(prefix + suffix) != expected:
            raise UserError(f"checkpoint file {prefix}{suffix} is corrupt: its SHA-256 differs from the one "
                            "recorded when it was saved")
    model_state = _load_file(prefix + ".pdparams")
    optimizer_state = _load_file(prefix + ".pdopt")
    if not isinstance(model_state, dict) or not isinstance(optimizer_state, dict):
        raise UserError(f"checkpoint {prefix} does not hold state dicts")
    return model_state, optimizer_state, states


def resolve_prefix(path: str) -> str:
    """Accept ``dir/checkpoints``, ``dir/checkpoints/latest`` or ``dir/checkpoints/latest.pdparams``."""
    for suffix in SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    if os.path.isdir(path):
        return os.path.join(path, "latest")
    return path


def newest_complete(checkpoint_dir: str, belongs: Optional[Callable[[Dict[str, Any]], bool]] = None) -> Optional[str]:
    """Prefix of the valid checkpoint with the highest global step among ``latest`` and ``epoch_N``, or None.

    A damaged candidate (truncated, corrupt, foreign: anything :func:`load` rejects) is skipped with a
    warning, so ``--resume`` without a path falls back to the newest checkpoint that still loads. So is
    one whose ``.pdstates`` ``belongs`` rejects (another run's: ``training.rundir.OwnCheckpoints``).
    """
    if not os.path.isdir(checkpoint_dir):
        return None
    candidates = ["latest"] + [f"epoch_{n}" for n in _epoch_numbers(checkpoint_dir)]
    steps = {}
    for name in candidates:
        prefix = os.path.join(checkpoint_dir, name)
        recover(prefix)
        if not all(os.path.isfile(prefix + s) for s in SUFFIXES):
            continue
        try:
            states = _load_file(prefix + ".pdstates")
        except UserError as err:
            log.warning(f"--resume: skipping {prefix}: {err}")
            continue
        if belongs is not None and isinstance(states, dict) and not belongs(states):
            log.warning(f"--resume: skipping {prefix}: a checkpoint of another run (run_id "
                        f"{states.get('run_id', 'none')}, not this directory's run.json)")
            continue
        steps[prefix] = states.get("global_step", -1) if isinstance(states, dict) else -1
    for prefix in sorted(steps, key=steps.get, reverse=True):  # newest first; latest before an equal epoch_N
        try:
            load(prefix)  # fully checked (sizes, every file unpickles) before it is chosen
            return prefix
        except UserError as err:
            log.warning(f"--resume: skipping {prefix}: {err}")
    return None


def _epoch_numbers(checkpoint_dir: str) -> List[int]:
    """N of every ``epoch_N.pdstates`` in ``checkpoint_dir``, ascending."""
    return sorted(int(m.group(1)) for m in map(re.compile(r"^epoch_(\d+)\.pdstates$").match,
                                               os.listdir(checkpoint_dir)) if m)


def prune_epochs(checkpoint_dir: str, keep_last: int) -> List[str]:
    """Delete all but the newest ``keep_last`` ``epoch_N.*`` (0 keeps all); return the removed prefixes."""
    if keep_last <= 0:
        return []
    epochs = _epoch_numbers(checkpoint_dir)
    removed = []
    for n in epochs[:-keep_last]:
        prefix = os.path.join(checkpoint_dir, f"epoch_{n}")
        # .pdstates first: a half-deleted snapshot then no longer looks complete.
        for suffix in (".pdstates",) + SUFFIXES[:2]:
            if os.path.exists(prefix + suffix):
                os.remove(prefix + suffix)
        removed.append(prefix)
    return removed
