"""Atomic PaddleClas-style checkpoints: ``<prefix>.pdparams / .pdopt / .pdstates`` as one unit.

``<output_dir>/checkpoints/`` holds ``latest.*`` (refreshed at every epoch end, and every
``Checkpoint.interval_steps`` steps), ``best_model.*`` and ``epoch_N.*`` (keep-last-N).

* ``.pdparams``: ``model.state_dict()`` (structured names; loadable with plain ``paddle.load``);
* ``.pdopt``: the optimizer state, keyed by parameter position
  (:func:`paddle_optim.optimizers.state.portable_state_dict`: moments, Lookahead slow weights, ...);
* ``.pdstates``: everything else needed to continue bit-for-bit (epoch and position in it, global
  step, schedules, GradScaler, EMA, RNG states, best metric, the resolved config) plus the sizes and
  SHA-256 digests of the two other files (a flipped bit that keeps a file's size and pickle
  structure is caught too; hashing costs about a second per GB, at save and at load). The file
  ends with a one-line trailer holding the SHA-256 of the pickle before it (:data:`TRAILER`), so
  every file of the set is verified before anything of it is used; ``paddle.load`` stops at the
  pickle's end and still reads the file.

``best_model`` and ``epoch_N`` are independent copies of ``latest``'s files (not hard links: damage
to one file must not be damage to every checkpoint that shares it).

Writing is a small redo log, so that a process killed at ANY point leaves a complete checkpoint:

1. write ``P.pdparams.tmp`` and ``P.pdopt.tmp`` (flushed to disk);
2. write ``P.pdstates.part`` and rename it to ``P.pdstates.tmp``: **the commit point**;
3. rename the three ``.tmp`` files over ``P.*``.

Before reading (and before the next write) :func:`recover` finishes an interrupted step 3 when a
``.pdstates.tmp`` exists, and otherwise deletes the leftovers of an uncommitted write, so the
previous ``P.*`` stay intact.
"""
import filecmp
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
#: 2: ``.pdstates`` ends with :data:`TRAILER` + its digest; 1 (earlier versions, still loaded): no trailer.
FORMAT_VERSION = 2
#: ``.pdstates`` ends with ``TRAILER + <64 hex digits of the SHA-256 of every byte before TRAILER> + "\n"``.
TRAILER = b"\n#paddle-optim pdstates sha256 "
_TRAILER_RE = re.compile(re.escape(TRAILER) + rb"([0-9a-f]{64})\n\Z")


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


def _seal(path: str) -> None:
    """Append :data:`TRAILER` and the digest of the file so far (the ``.pdstates`` pickle)."""
    digest = _sha256(path)
    with open(path, "ab") as fh:
        fh.write(TRAILER + digest.encode("ascii") + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def load_states(prefix: str) -> Dict[str, Any]:
    """The verified ``prefix.pdstates`` (UserError naming the file if it is damaged, foreign or missing).

    The trailer's digest is checked before unpickling; a file whose trailer is gone or damaged is
    accepted only if what it holds says it is of a format without one (1).
    """
    path = prefix + ".pdstates"
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise UserError(f"checkpoint file {path} cannot be read: {err.strerror}") from None
    match = _TRAILER_RE.search(data[-(len(TRAILER) + 65):])
    body = data[:len(data) - len(match.group(0))] if match else data
    if match and hashlib.sha256(body).hexdigest() != match.group(1).decode("ascii"):
        raise UserError(f"checkpoint file {path} is corrupt: its SHA-256 differs from the one recorded when "
                        "it was saved")
    states = _load_file(path)  # paddle.load stops at the end of the pickle, before the trailer
    if not isinstance(states, dict) or states.get("format") not in (1, FORMAT_VERSION):
        raise UserError(f"{path} is not a paddle-optim checkpoint (format {FORMAT_VERSION})")
    if not match and states["format"] != 1:
        raise UserError(f"checkpoint file {path} is corrupt: its SHA-256 trailer is missing or damaged")
    return states


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
    _seal(prefix + ".pdstates.part")
    _commit(prefix)


def _commit(prefix: str) -> None:
    """Step 2 (the commit point), then step 3, which is what :func:`recover` does for a committed set."""
    os.replace(prefix + ".pdstates.part", prefix + ".pdstates.tmp")
    recover(prefix)


def _place_copy(src: str, dst: str) -> None:
    """``dst`` holds the bytes of ``src`` in a file of its own, flushed to disk. Not a hard link: a
    link shares the inode, so a truncation or a flipped bit in one name would be in every copy."""
    shutil.copyfile(src, dst)  # sendfile(2) on Linux: the bytes do not pass through Python
    _fsync_file(dst)


def copy(src_prefix: str, dst_prefix: str) -> None:
    """Make ``dst_prefix.*`` a complete, independent copy of ``src_prefix.*`` with the same redo-log
    protocol (repeating it after an interruption is harmless)."""
    recover(dst_prefix)
    if all(os.path.exists(dst_prefix + suffix) and filecmp.cmp(src_prefix + suffix, dst_prefix + suffix, shallow=False)
           for suffix in SUFFIXES):
        return  # already this copy (a resumed run redoing its epoch-end copies): leave the files as they are
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
    states = verify(prefix)
    model_state = _load_file(prefix + ".pdparams")
    optimizer_state = _load_file(prefix + ".pdopt")
    if not isinstance(model_state, dict) or not isinstance(optimizer_state, dict):
        raise UserError(f"checkpoint {prefix} does not hold state dicts")
    return model_state, optimizer_state, states


def verify(prefix: str) -> Dict[str, Any]:
    """Check every file of the (recovered) checkpoint ``prefix`` without unpickling the large ones:
    all three present, ``.pdstates`` by its trailer, ``.pdparams`` / ``.pdopt`` by the sizes and
    digests it records. Returns the states; UserError naming the first damaged file."""
    missing = [prefix + s for s in SUFFIXES if not os.path.isfile(prefix + s)]
    if missing:
        raise UserError(f"incomplete checkpoint {prefix}: missing {', '.join(missing)}")
    states = load_states(prefix)
    sizes, digests = states.get("sizes"), states.get("sha256", {})  # no digests before format 1's last version
    if not isinstance(sizes, dict) or not isinstance(digests, dict):
        raise UserError(f"{prefix}.pdstates is not a paddle-optim checkpoint (no sizes of its files)")
    for suffix, size in sizes.items():
        actual = os.path.getsize(prefix + suffix)
        if actual != size:
            raise UserError(f"checkpoint file {prefix}{suffix} is corrupt: {actual} bytes, expected {size}")
    for suffix, expected in digests.items():
        if _sha256(prefix + suffix) != expected:
            raise UserError(f"checkpoint file {prefix}{suffix} is corrupt: its SHA-256 differs from the one "
                            "recorded when it was saved")
    return states


def resolve_prefix(path: str) -> str:
    """Accept ``dir/checkpoints``, ``dir/checkpoints/latest`` or ``dir/checkpoints/latest.pdparams``."""
    for suffix in SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    if os.path.isdir(path):
        return os.path.join(path, "latest")
    return path


def intact_checkpoints(checkpoint_dir: str, belongs: Optional[Callable[[Dict[str, Any]], bool]] = None
                       ) -> List[Tuple[str, Optional[str]]]:
    """Every checkpoint in ``checkpoint_dir`` (``latest``, ``epoch_N``, ``best_model``: any with at least
    one of its files) as ``(prefix, problem)``: problem None for an intact one (:func:`verify`), else
    the error naming the damaged or missing file, or saying that ``belongs`` rejects its states (another
    run's). Intact ones come first, newest global step first (at an equal step: latest, then the higher
    epoch_N, then best_model); then the others.

    Interrupted saves are finished or rolled back first (:func:`recover`); nothing else is changed.
    """
    if not os.path.isdir(checkpoint_dir):
        return []
    found = []
    for name in _checkpoint_names(checkpoint_dir):
        prefix = os.path.join(checkpoint_dir, name)
        recover(prefix)
        if not any(os.path.exists(prefix + s) for s in SUFFIXES):
            continue  # only the leftovers of an uncommitted first save: there was no checkpoint
        try:
            states = verify(prefix)
        except UserError as err:
            found.append((prefix, str(err), None))
            continue
        if belongs is not None and not belongs(states):
            found.append((prefix, f"{prefix} is a checkpoint of another run (run_id {states.get('run_id', 'none')})",
                          None))
        else:
            found.append((prefix, None, states.get("global_step", -1)))
    intact = sorted((f for f in found if f[1] is None), key=lambda f: -f[2])  # stable: name order at a tie
    return [(prefix, problem) for prefix, problem, _ in intact + [f for f in found if f[1] is not None]]


def newest_complete(checkpoint_dir: str, belongs: Optional[Callable[[Dict[str, Any]], bool]] = None) -> Optional[str]:
    """Prefix of the intact checkpoint with the highest global step (:func:`intact_checkpoints`), or None."""
    return next((prefix for prefix, problem in intact_checkpoints(checkpoint_dir, belongs) if problem is None), None)


def _checkpoint_names(checkpoint_dir: str) -> List[str]:
    """``latest``, every ``epoch_N`` (newest first) and ``best_model``: the checkpoint names with any file
    (or interrupted-save leftover) in ``checkpoint_dir``."""
    pattern = re.compile(r"^(latest|best_model|epoch_(\d+))\.(pdparams|pdopt|pdstates)(\.tmp|\.part)?$")
    names = {m.group(1) for m in map(pattern.match, os.listdir(checkpoint_dir)) if m}
    epochs = sorted((n for n in names if n.startswith("epoch_")), key=lambda n: -int(n[len("epoch_"):]))
    return [n for n in ("latest",) if n in names] + epochs + [n for n in ("best_model",) if n in names]


def _epoch_numbers(checkpoint_dir: str) -> List[int]:
    """N of every ``epoch_N`` with any of its three files in ``checkpoint_dir`` (a pruning killed halfway
    leaves some), ascending."""
    return sorted(int(m.group(1)) for m in map(re.compile(r"^epoch_(\d+)\.(pdparams|pdopt|pdstates)$").match,
                                               os.listdir(checkpoint_dir)) if m)


def prune_epochs(checkpoint_dir: str, keep_last: int) -> List[str]:
    """Delete all but the newest ``keep_last`` ``epoch_N.*`` (0 keeps all); return the removed prefixes."""
    if keep_last <= 0:
        return []
    epochs = sorted(set(_epoch_numbers(checkpoint_dir)))
    removed = []
    for n in epochs[:-keep_last]:
        prefix = os.path.join(checkpoint_dir, f"epoch_{n}")
        # .pdstates first: a half-deleted snapshot then no longer looks complete.
        for suffix in (".pdstates",) + SUFFIXES[:2]:
            if os.path.exists(prefix + suffix):
                os.remove(prefix + suffix)
        removed.append(prefix)
    return removed
