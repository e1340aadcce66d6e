"""Command line: ``paddle-optim {train,check,lr-plot,lr-find,compare,suite-train}`` (also ``python -m paddle_optim``).

Each sub-command is a thin adapter over a library function; heavy imports (Paddle) happen inside
the handlers so that ``--help`` is instant. Every :class:`~paddle_optim.errors.UserError` becomes one
``error: ...`` line per problem on stderr and exit code 2, without a traceback.
"""
import argparse
import sys
from typing import List, Optional

from .errors import EXIT_USER_ERROR, UserError
from .suites import SUITES


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="YAML config file")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="Section.key=value",
                        help="override one config value (parsed as YAML); may repeat")


def _add_run_shape_args(parser: argparse.ArgumentParser) -> None:
    """What fixes the number of optimizer steps when nothing is trained (check, lr-plot)."""
    parser.add_argument("--steps-per-epoch", type=_positive_int, default=None, metavar="N",
                        help="optimizer steps per epoch, when the data set is not available")
    parser.add_argument("--nproc", type=_positive_int, default=1, metavar="N",
                        help="processes the run will use (they share each epoch); default 1")


def _train(args: argparse.Namespace) -> int:
    from .training.command import train_command
    return train_command(args)


def _check(args: argparse.Namespace) -> int:
    from .check import check_command
    return check_command(args)


def _lr_plot(args: argparse.Namespace) -> int:
    from .lr_plot import lr_plot_command
    return lr_plot_command(args)


def _lr_find(args: argparse.Namespace) -> int:
    from .lr_find import lr_find_command
    return lr_find_command(args)


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare_command
    return compare_command(args)


def _suite_train(args: argparse.Namespace) -> int:
    from .suites.runner import suite_train_command
    return suite_train_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paddle-optim",
        description="RAdam / Lookahead / Ranger for PaddlePaddle and YAML-driven training.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("train", help="train a model from a YAML config")
    _add_config_args(p)
    start = p.add_mutually_exclusive_group()
    start.add_argument("--resume", nargs="?", const="auto", default=None, metavar="PATH",
                       help="continue from a checkpoint; without PATH, the newest complete one of the run in "
                            "Global.output_dir")
    start.add_argument("--overwrite", action="store_true",
                       help="start a new run in a Global.output_dir that holds an earlier run's files: they are "
                            "moved into <output_dir>/previous/<time>-<run id>/, never deleted")
    p.add_argument("--nproc", type=_positive_int, default=None, metavar="N",
                   help="launch N processes with paddle.distributed.launch (one per GPU, or CPU/gloo)")
    p.set_defaults(handler=_train)

    p = sub.add_parser("check", help="validate a config and warn about common schedule mistakes")
    _add_config_args(p)
    _add_run_shape_args(p)
    p.set_defaults(handler=_check)

    p = sub.add_parser("lr-plot", help="preview the learning-rate and momentum schedule of a config")
    _add_config_args(p)
    p.add_argument("--out", default="lr.png", help="PNG to write; a CSV with the same stem is written beside it")
    _add_run_shape_args(p)
    p.set_defaults(handler=_lr_plot)

    p = sub.add_parser("lr-find", help="learning-rate range test: raise the lr every step, plot the loss, suggest")
    _add_config_args(p)
    p.add_argument("--start", type=float, default=1e-7, help="first learning rate (default 1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="last learning rate (default 10)")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps, one learning rate each (>= 10)")
    p.add_argument("--mode", choices=("exp", "linear"), default="exp", help="geometric (default) or linear spacing")
    p.add_argument("--stop-factor", type=float, default=4.0,
                   help="stop when the smoothed loss exceeds this multiple of its minimum (default 4)")
    p.add_argument("--smooth", type=int, default=None, metavar="STEPS",
                   help="odd smoothing window in steps (default: steps/20, >= 5, >= Lookahead's k)")
    p.add_argument("--nproc", type=_positive_int, default=None, metavar="N",
                   help="run the sweep in N processes with paddle.distributed.launch (as train --nproc)")
    p.add_argument("--out", default="lr_find.png", help="PNG to write; a CSV with the same stem is written beside it")
    p.set_defaults(handler=_lr_find)

    p = sub.add_parser("compare", help="sweep optimizers x learning rates x seeds and report")
    _add_config_args(p)
    p.add_argument("--optimizers", default="Momentum,AdamW,RAdam,Ranger", help="comma-separated names")
    p.add_argument("--lr", default=None, help="comma-separated learning rates (default: the config's)")
    p.add_argument("--seeds", type=_positive_int, default=1, help="number of seeds per cell")
    p.add_argument("--schedulers", default=None, help="comma-separated LRScheduler names (default: the config's)")
    p.add_argument("--epochs", type=_positive_int, default=None, help="override Global.epochs")
    p.add_argument("--out", default="compare_out", help="output directory for runs, report.md, CSV/JSON and plots")
    p.add_argument("--jobs", type=_positive_int, default=1, help="training runs in parallel")
    p.add_argument("--target", type=float, default=None,
                   help="metric value for 'steps to target' (default: 0.98 x the best metric of any run)")
    p.add_argument("--nproc", type=_positive_int, default=None, metavar="N",
                   help="run each cell with `train --nproc N` (N ranks via paddle.distributed.launch)")
    p.set_defaults(handler=_compare)

    p = sub.add_parser("suite-train", help="run a suite's tools/train.py (PaddleDetection, PaddleSeg, PaddleClas, "
                       "PaddleOCR) with RAdam, Ranger and Lookahead registered")
    p.add_argument("--nproc", type=_positive_int, default=None, metavar="N",
                   help="launch N processes with paddle.distributed.launch (one per GPU, or CPU/gloo)")
    p.add_argument("--suite", choices=SUITES, default=None,
                   help="register into this suite only (default: every importable one)")
    p.add_argument("--replace-native", action="store_true",
                   help="replace names the suite or Paddle already has (Paddle 3.x's paddle.optimizer.RAdam)")
    p.add_argument("--log-dir", default=None, help="launcher logs (workerlog.N) with --nproc; default ./log")
    p.add_argument("script", help="the suite's training script, e.g. tools/train.py")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the script (-c config.yml ...)")
    p.set_defaults(handler=_suite_train)
    return parser


def _tolerant_output() -> None:
    """Characters the terminal's encoding lacks (a non-ASCII path under ``PYTHONIOENCODING=ascii`` or a
    C locale) print as ``\\xfc`` escapes instead of failing every log line with a traceback."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # not a replaced stream (pytest's capture, StringIO)
            stream.reconfigure(errors="backslashreplace")


def main(argv: Optional[List[str]] = None) -> int:
    _tolerant_output()
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as err:
        for line in err.problems:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
