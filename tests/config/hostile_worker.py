"""Not a test: runs hostile configs through ``paddle_optim.cli.main`` in ONE process whose address space
is capped (``RLIMIT_AS``), so that an input that expands in memory fails here instead of swapping the
machine. Usage: ``hostile_worker.py LIMIT_BYTES CASES.json``; prints one JSON result per case.

Each case is ``{"name", "argv"}``; the result adds the exit code, stderr and stdout as printed, and the
exception (type and first line) when ``main`` raised instead of returning.
"""
import contextlib
import io
import json
import resource
import sys
import time

import zlib  # noqa: F401  (before paddle)


def main(limit: int, cases_path: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from paddle_optim.cli import main as cli_main

    with open(cases_path, encoding="utf-8") as fh:
        cases = json.load(fh)
    results = []
    for case in cases:
        out, err = io.StringIO(), io.StringIO()
        result, started = {"name": case["name"]}, time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result["code"] = cli_main(case["argv"])
            except SystemExit as stop:  # argparse
                result["code"] = stop.code
            except BaseException as exc:  # noqa: BLE001  (the test reports what escaped)
                result["code"] = None
                result["raised"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        result["stdout"], result["stderr"] = out.getvalue()[-20000:], err.getvalue()[-20000:]
        result["stderr_chars"] = len(err.getvalue())
        result["seconds"] = round(time.perf_counter() - started, 3)
        results.append(result)
    print(json.dumps(results))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
