"""The `localpose` command: a thin face over the library.

Each subcommand lives in its own module with a `register(subparsers)` function; this
module only wires them up, configures logging, and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from localpose import __version__
from localpose.cli import (
    angles,
    bench,
    bvh,
    classify,
    compare,
    doctor,
    image,
    kinematics,
    live,
    models,
    reps,
    serve,
    video,
)
from localpose.cli.nativelog import filter_native_stderr
from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK, EXIT_USAGE, LocalposeError

__all__ = ["EXIT_FAILED_INPUTS", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


SUBCOMMANDS = (
    serve, image, video, live, models, doctor, bench, angles, reps, compare, bvh, kinematics, classify,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localpose",
        description="Offline human pose estimation: 33 body landmarks per person, on your own CPU.",
    )
    parser.add_argument("--version", action="version", version=f"localpose {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug and native logs)"
    )
    parser.add_argument(
        "--native-logs", action="store_true", help="do not hide MediaPipe's routine native log lines"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose < 2 and not args.native_logs:
        filter_native_stderr()
    try:
        return int(args.handler(args))
    except LocalposeError as exc:
        print(f"localpose: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("localpose: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`localpose image dir/ | head`): stop quietly, as cat does.
        _silence_stdout()
        return EXIT_OK


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
