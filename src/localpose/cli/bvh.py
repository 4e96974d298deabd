"""`localpose bvh`: one person's 3D motion in a video as a BVH animation (Blender, MotionBuilder...)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from localpose.cli.analysis_input import add_input_arguments, load_poses
from localpose.cli.video import add_motion_arguments, motion_options

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bvh",
        help="export a person's motion as a BVH animation",
        description=(
            "Write one person's world landmarks as a BVH file: a hip-rooted skeleton with one "
            "rotation per joint per frame, centimetres, Y up, frame time from the video; the root "
            "travels with the person (--in-place keeps it at the origin). Import in Blender with "
            "File > Import > Motion Capture (.bvh). Details: `python -m pydoc localpose.analysis.bvh`."
        ),
    )
    parser.add_argument("input", type=Path, metavar="VIDEO", help="video or localpose .jsonl/.csv export")
    parser.add_argument(
        "-o", "--out", type=Path, metavar="BVH", help="output file (default: <input name>.bvh here)"
    )
    parser.add_argument(
        "--in-place", action="store_true", help="keep the root at the origin (no travel through space)"
    )
    add_motion_arguments(parser)
    add_input_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from localpose.analysis.bvh import write_bvh
    from localpose.errors import EXIT_OK

    frames = load_poses(args.input, args)
    out = args.out or Path(f"{args.input.stem}.bvh")
    motion = dataclasses.replace(motion_options(args), root_motion=not args.in_place)
    result = write_bvh(out, frames, track_id=args.track, motion=motion)
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
