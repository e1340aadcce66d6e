"""Disk-failure cases of ``test_rel_rundir.py``, run in ONE process (Paddle is imported once):

    [unshare -rm] python rel_disk_driver.py CASES.json RESULTS.json

Each case copies the finished run ``source`` into a fresh place, breaks the disk there and runs ``train`` through
``paddle_optim.cli.main`` (exit code and stderr recorded), then copies what is left to ``after`` for the test
to inspect:

* ``{"kind": "tmpfs", "free": N}``: a 2 MB tmpfs (needs a mount namespace) filled to ``N`` free bytes, ``--resume``;
  ``"fresh": true``: a new run into an empty directory there instead (unmounted lazily: a failed run in this
  process may still hold its files open);
* ``{"kind": "readonly"}``: a read-only bind mount of the copy (needs a mount namespace), ``--resume``;
* ``{"kind": "chmod"}``: the copy made read-only with ``chmod 0555`` (a non-root user), ``--resume``;
* ``{"kind": "fsize", "limit": N}``: RLIMIT_FSIZE of ``N`` bytes for this process (EFBIG; Python ignores
  SIGXFSZ), ``--resume``; restored afterwards, so it runs last.
"""
import zlib  # noqa: F401  (before paddle: the Paddle 2.6 wheel breaks a later-loaded zlib)
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys


def _fill(directory: str, free: int) -> None:
    stat = os.statvfs(directory)
    with open(os.path.join(directory, "filler"), "wb") as fh:
        fh.write(b"x" * max(stat.f_bavail * stat.f_frsize - free, 0))


def _chmod_tree(directory: str, mode: int) -> None:
    for root, dirs, _ in os.walk(directory):
        os.chmod(root, mode)


def _train(args):
    from paddle_optim.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", *args])
    return code, err.getvalue()


def run_case(case, config, source, work):
    place = os.path.join(work, "place")
    os.makedirs(place)
    run = os.path.join(place, "run")
    args = ["-c", config, "-o", f"Global.output_dir={run}", "-o", "Global.epochs=4"]
    kind, cleanup = case["kind"], []
    if kind == "tmpfs":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", place], check=True)
        cleanup.append(lambda: subprocess.run(["umount", "-l", place], check=True))
    if not case.get("fresh"):
        shutil.copytree(source, run, symlinks=True)
        args.append("--resume")
    if kind == "tmpfs":
        _fill(place, case["free"])
        cleanup.insert(0, lambda: os.remove(os.path.join(place, "filler")))
    elif kind == "readonly":
        subprocess.run(["mount", "--bind", run, run], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", run], check=True)
        cleanup.append(lambda: subprocess.run(["umount", "-l", run], check=True))
    elif kind == "chmod":
        _chmod_tree(run, 0o555)
        cleanup.append(lambda: _chmod_tree(run, 0o755))
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        if kind == "fsize":
            resource.setrlimit(resource.RLIMIT_FSIZE, (case["limit"], limit[1]))
        try:
            code, err = _train(args)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        after = os.path.join(work, "after")
        if os.path.exists(run):  # copied out before the file system goes away
            shutil.copytree(run, after, symlinks=True)
    finally:
        for undo in cleanup:
            undo()
    return {"code": code, "stderr": err, "after": after if os.path.exists(after) else None}


def main() -> int:
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    results = [run_case(case, spec["config"], spec["source"], os.path.join(spec["work"], str(i)))
               for i, case in enumerate(spec["cases"])]
    with open(sys.argv[2], "w") as fh:
        json.dump(results, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
