"""`localpose angles`: joint and segment angles of a video (PNG plot, CSV) or an image (JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from localpose.cli.analysis_input import add_input_arguments, is_image, load_poses

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "angles",
        help="joint and segment angles over time (PNG plot, CSV)",
        description=(
            "Joint angles (ankle, knee, hip, shoulder, elbow, wrist) and segment angles (trunk, "
            "pelvis, shoulders, thigh, shank, foot, arm, forearm) in degrees; conventions in "
            "`python -m pydoc localpose.analysis.angles`. For a video (or a localpose .jsonl/.csv "
            "export) plots one person's "
            "angles over time to a PNG; for an image prints every person's angles as JSON."
        ),
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="video, image, or localpose export")
    parser.add_argument(
        "-o", "--out", type=Path, metavar="PNG", help="plot file (default: <input name>.angles.png here)"
    )
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write every person's angles as CSV")
    parser.add_argument(
        "--space",
        choices=("image", "world"),
        default="image",
        help="plot 2D angles from image landmarks or 3D angles from world landmarks (default image)",
    )
    parser.add_argument(
        "--min-visibility",
        type=float,
        default=0.5,
        metavar="P",
        help="landmarks less visible than this leave their angles empty (default 0.5)",
    )
    add_input_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from localpose.analysis.angles import person_angles, write_angles_csv
    from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK

    frames = load_poses(args.input, args)
    if args.csv:
        with args.csv.open("w", newline="") as stream:
            rows = write_angles_csv(
                stream, frames, source=str(args.input), min_visibility=args.min_visibility
            )
        print(f"localpose: {rows} angle rows -> {args.csv}", file=sys.stderr)
    if is_image(args.input) or len(frames) == 1:
        people = [
            person_angles(frames[0], i, min_visibility=args.min_visibility) for i in range(len(frames[0]))
        ]
        print(json.dumps({"source": str(args.input), "people": people}, indent=1))
        return EXIT_OK if people else EXIT_FAILED_INPUTS
    from localpose.analysis.plot import plot_angles
    from localpose.analysis.series import PersonSeries

    series = PersonSeries.from_frames(frames, args.track)
    if not series.present.any():
        print(f"localpose: {args.input}: nobody found in {len(frames)} frames", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    out = args.out or Path(f"{args.input.stem}.angles.png")
    plot_angles(series, out, args.space, title=args.input.name, min_visibility=args.min_visibility)
    who = "untracked person" if series.track_id is None else f"track {series.track_id}"
    print(
        f"localpose: {args.space} angles of {who} in "
        f"{int(series.present.sum())}/{len(series)} frames -> {out}",
        file=sys.stderr,
    )
    return EXIT_OK
