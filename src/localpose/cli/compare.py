"""`localpose compare A B`: how alike two poses (images) or two motions (videos) are, 0-100."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from localpose.cli.analysis_input import add_input_arguments, is_image, load_poses

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compare",
        help="score a pose or motion against a reference (0-100)",
        description=(
            "Compare B against the reference A. Two images: pose similarity after aligning "
            "position, scale and rotation, with each joint's share of the lost points. Two "
            "videos (or localpose exports): motions aligned in time by dynamic time warping, "
            "with the worst joints of each phase. Formulas: `python -m pydoc localpose.analysis.similarity`."
        ),
    )
    parser.add_argument("reference", type=Path, metavar="A", help="reference image, video or export")
    parser.add_argument("other", type=Path, metavar="B", help="image, video or export to score")
    parser.add_argument(
        "--space",
        choices=("image", "world"),
        default="image",
        help="compare 2D image landmarks (rotation in the picture plane) or 3D world landmarks "
        "(any rotation, viewpoint-free); default image",
    )
    parser.add_argument("--allow-mirror", action="store_true", help="also accept the mirror-image pose")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.15,
        help="aligned distance (in body sizes) at which a joint keeps 61%% of its points (default 0.15)",
    )
    parser.add_argument("--phases", type=int, default=4, help="videos: phases to report (default 4)")
    parser.add_argument(
        "--person-a",
        type=int,
        metavar="ID",
        help="images: which person of A (default 0); videos: which track (default the longest)",
    )
    parser.add_argument(
        "--person-b",
        type=int,
        metavar="ID",
        help="images: which person of B (default 0); videos: which track (default the longest)",
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    add_input_arguments(parser, track=False)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from localpose.analysis.similarity import SimilarityOptions, compare_motions, compare_poses
    from localpose.errors import EXIT_OK, InvalidInputError

    options = SimilarityOptions(space=args.space, tolerance=args.tolerance, allow_mirror=args.allow_mirror)
    a, b = load_poses(args.reference, args), load_poses(args.other, args)
    if is_image(args.reference) != is_image(args.other):
        raise InvalidInputError("compare two images or two videos, not one of each")
    if is_image(args.reference) or (len(a) == 1 and len(b) == 1):
        report = compare_poses(a[0], b[0], options, args.person_a or 0, args.person_b or 0)
        if args.json:
            print(
                json.dumps({"reference": str(args.reference), "other": str(args.other), **report.to_dict()})
            )
        else:
            worst = ", ".join(f"{j.name} -{j.lost:.1f}" for j in report.worst(5) if j.lost >= 0.05)
            mirrored = " (mirror image)" if report.mirrored else ""
            print(f"pose similarity {report.score:.1f}/100{mirrored}; points lost: {worst or 'none'}")
        return EXIT_OK
    from localpose.analysis.series import PersonSeries

    motion = compare_motions(
        PersonSeries.from_frames(a, args.person_a),
        PersonSeries.from_frames(b, args.person_b),
        options,
        phases=args.phases,
    )
    if args.json:
        print(json.dumps({"reference": str(args.reference), "other": str(args.other), **motion.to_dict()}))
    else:
        print(
            f"motion similarity {motion.score:.1f}/100 over {motion.reference_frames} reference and "
            f"{motion.other_frames} compared frames (B takes {motion.tempo_ratio:.2f}x A's time)"
        )
        for phase in motion.phases:
            worst = ", ".join(f"{n} -{v:.1f}" for n, v in phase.worst_joints)
            first, last = phase.reference_frames
            print(f"  phase {phase.index + 1} (A frames {first}-{last}): {phase.score:.1f}; worst: {worst}")
    return EXIT_OK
