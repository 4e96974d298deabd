"""`localpose bvh`: one person's 3D motion in a video as a BVH animation (Blender, MotionBuilder...)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localpose.cli.analysis_input import add_input_arguments, load_poses

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bvh",
        help="export a person's motion as a BVH animation",
        description=(
            "Write one person's world landmarks as a BVH file: a hip-rooted skeleton with one "
            "rotation per joint per frame, centimetres, Y up, frame time from the video. Import in "
            "Blender with File > Import > Motion Capture (.bvh). Details: docs/analysis.md."
        ),
    )
    parser.add_argument("input", type=Path, metavar="VIDEO", help="video or localpose .jsonl/.csv export")
    parser.add_argument(
        "-o", "--out", type=Path, metavar="BVH", help="output file (default: <input name>.bvh here)"
    )
    add_input_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from localpose.analysis.bvh import write_bvh
    from localpose.cli import EXIT_OK

    frames = load_poses(args.input, args)
    out = args.out or Path(f"{args.input.stem}.bvh")
    result = write_bvh(out, frames, track_id=args.track)
    filled = (
        f", {result.filled_frames} frames without the person filled from neighbours"
        if result.filled_frames
        else ""
    )
    print(
        f"localpose: {result.frames} frames at {result.frame_time_s * 1000:.1f} ms{filled} -> {out}",
        file=sys.stderr,
    )
    return EXIT_OK
