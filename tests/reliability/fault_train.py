"""``paddle-optim train`` with deterministic fault injection: the process SIGKILLs itself at a chosen point.

Usage (a script, so ``paddle.distributed.launch`` can run it too)::

    RELIABILITY_FAULT=checkpoint_write:5 python tests/reliability/fault_train.py -c CONFIG [--resume]

``RELIABILITY_FAULT`` is ``point:n`` or ``point:n@rank`` (only that rank dies; default: every rank):

* ``checkpoint_write:n``: after the n-th checkpoint file of this process is written, before the
  checkpoint is complete (n = 1, 2: ``.pdparams.tmp`` / ``.pdopt.tmp`` of the first save; 3 = its
  ``.pdstates.part``, 4 = the second save's ``.pdparams.tmp``, ...);
* ``checkpoint_commit:n``: right after the n-th save's commit point (``.pdstates.tmp`` renamed),
  before its three files are moved into place;
* ``checkpoint_copy:n``: before the n-th ``epoch_N`` / ``best_model`` copy of this process, i.e.
  after the epoch-end ``latest`` was saved;
* ``eval_batch:n``: during an evaluation, at its n-th batch counted over the process's life;
* ``train_step:n``: during optimizer step ``n`` (0-based global step, as in the checkpoints), after its
  backward, before anything is updated.

Unset: plain ``paddle-optim train``. The hooks wrap the trainer's own functions in this process only;
nothing of Paddle is replaced. ``started`` is printed (flushed) when imports are done, so a parent that
kills at random delays can measure them from the start of real work.
"""
import zlib  # noqa: F401  (before paddle: the Paddle 2.6 wheel breaks a later-loaded zlib)
import os
import signal
import sys
import types


def _die(point: str) -> None:
    print(f"fault injection: SIGKILL at {point}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def install(spec: str) -> None:
    """Wrap the trainer function that ``spec`` (``point:n[@rank]``) names."""
    from paddle_optim.training import checkpoint, evaluate, loop

    point, _, rest = spec.partition(":")
    count, _, rank = rest.partition("@")
    n = int(count)
    if rank and int(os.environ.get("PADDLE_TRAINER_ID", "0")) != int(rank):
        return
    calls = {"n": 0}

    def nth() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    if point == "checkpoint_write":
        original_save = checkpoint._save

        def _save(obj, path):
            original_save(obj, path)
            if nth():
                _die(f"checkpoint file {os.path.basename(path)}")
        checkpoint._save = _save
    elif point == "checkpoint_commit":
        original_replace = os.replace

        def replace(src, dst):
            original_replace(src, dst)
            if str(src).endswith(".pdstates.part") and nth():
                _die(f"commit of {os.path.basename(str(dst))}")
        shim = types.ModuleType("os")  # the checkpoint module's view of os, with the hooked rename
        shim.__dict__.update(vars(os), replace=replace)
        checkpoint.os = shim
    elif point == "checkpoint_copy":
        original_copy = checkpoint.copy

        def copy(src_prefix, dst_prefix):
            if nth():
                _die(f"before the copy to {os.path.basename(dst_prefix)}")
            original_copy(src_prefix, dst_prefix)
        checkpoint.copy = copy
    elif point == "eval_batch":
        original_batches = evaluate.iterate_batches

        def iterate_batches(*args, **kwargs):
            for batch in original_batches(*args, **kwargs):
                if nth():
                    _die("evaluation batch")
                yield batch
        evaluate.iterate_batches = iterate_batches
    elif point == "train_step":
        original_gradient_norm = loop._gradient_norm

        def gradient_norm(run):
            if run.counters.global_step == n:
                _die(f"optimizer step {run.counters.global_step}")
            return original_gradient_norm(run)
        loop._gradient_norm = gradient_norm
    else:
        raise SystemExit(f"unknown RELIABILITY_FAULT point '{point}'")


if __name__ == "__main__":
    from paddle_optim.cli import main

    if os.environ.get("RELIABILITY_FAULT"):
        install(os.environ["RELIABILITY_FAULT"])
    print("started", flush=True)
    sys.exit(main(["train"] + sys.argv[1:]))
