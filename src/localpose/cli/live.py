"""`localpose live`: poses from a camera or a stream as they come, one JSON line per frame."""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from localpose.cli.common import add_estimator_arguments, estimator_options, model_options

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "live",
        help="poses from a camera or stream, live (JSON Lines)",
        description=(
            "Estimate poses live from SOURCE: a camera index (0 = /dev/video0), a stream URL "
            "(rtsp://, http://, https://, as FFmpeg reads them) or a file played as a stream. "
            "People are tracked and smoothed causally (One Euro filter with MediaPipe's "
            "parameters). Each frame's result is printed as one JSON line, or written to --out."
        ),
    )
    parser.add_argument("source", help="camera index, stream URL or file")
    parser.add_argument(
        "-o", "--out", type=Path, metavar="FILE", help="write JSON Lines here instead of stdout"
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    add_estimator_arguments(parser, modes=("video",))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK
    from localpose.export import frame_to_dict
    from localpose.live import LiveSession
    from localpose.video.io import DecodeReport, read_source

    report = DecodeReport()
    started = time.perf_counter()
    people = 0
    with ExitStack() as stack:
        out = stack.enter_context(args.out.open("w")) if args.out else sys.stdout
        session = stack.enter_context(LiveSession(estimator_options(args), model_options(args)))
        for index, (rgb, t_ms) in enumerate(read_source(args.source, report)):
            frame = session.process(rgb, t_ms)
            people += len(frame)
            record = frame_to_dict(frame, source=args.source, frame_index=index)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            out.flush()
            if args.max_frames and index + 1 >= args.max_frames:
                break
            if args.duration and time.perf_counter() - started >= args.duration:
                break
        frames = session.frames
    elapsed = time.perf_counter() - started
    for message in report.errors:
        print(f"localpose: {args.source}: {message}", file=sys.stderr)
    if not args.quiet:
        print(
            f"localpose: {frames} frame(s) from {args.source}, {people} person-frames, "
            f"{frames / max(elapsed, 1e-9):.1f} frames/s",
            file=sys.stderr,
        )
    return EXIT_FAILED_INPUTS if report.errors or frames == 0 else EXIT_OK
