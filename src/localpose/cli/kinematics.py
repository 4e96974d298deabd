"""`localpose kinematics`: a video to OpenSim joint angles (TRC markers, scaled model, inverse kinematics)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localpose.cli.analysis_input import add_input_arguments, load_poses
from localpose.cli.common import positive
from localpose.cli.nativelog import native_stdout_to_stderr
from localpose.cli.video import add_motion_arguments, motion_options

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "kinematics",
        help="OpenSim joint angles of a person in a video (needs localpose[opensim])",
        description=(
            "Run the video pipeline, write the person's markers as TRC (metres, root motion, "
            "Pose2Sim's BlazePose names) and localpose's 3D angles as MOT, then scale Pose2Sim's "
            "BlazePose model in OpenSim and run inverse kinematics: NAME.ik.mot holds the model's "
            "joint angles. Needs pip install 'localpose[opensim]'. Details: "
            "`python -m pydoc localpose.analysis.kinematics`."
        ),
    )
    parser.add_argument("input", type=Path, metavar="VIDEO", help="video or localpose .jsonl export")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--mass", type=positive(float), default=70.0, metavar="KG", help="the model's mass (default 70 kg)"
    )
    add_motion_arguments(parser)
    add_input_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from localpose.analysis.kinematics import KinematicsOptions, check_available, run_kinematics
    from localpose.analysis.motion import angle_table, body_motion, marker_trajectories
    from localpose.analysis.series import PersonSeries
    from localpose.errors import EXIT_OK
    from localpose.export.mot import write_mot
    from localpose.export.trc import write_trc

    options = KinematicsOptions(mass_kg=args.mass)
    check_available()  # fail before estimating when the extra is missing
    series = PersonSeries.from_frames(load_poses(args.input, args), args.track)
    motion = body_motion(series, motion_options(args))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.input.name.split(".")[0]
    trc, mot = args.out / f"{stem}.trc", args.out / f"{stem}.mot"
    write_trc(trc, marker_trajectories(motion))
    names, values = angle_table(series)
    write_mot(mot, names, series.timestamps_ms / 1000.0, values)
    with native_stdout_to_stderr():  # OpenSim prints a model summary on stdout
        result = run_kinematics(trc, args.out, options)
    print(
        f"localpose: {len(series)} frames, height {motion.estimated_height_m * motion.scale:.2f} m; "
        f"OpenSim IK marker error RMS median {1000 * float(np.median(result.marker_rms_m)):.0f} mm, "
        f"max {1000 * float(np.max(result.marker_max_m)):.0f} mm -> {trc}, {mot}, {result.model}, "
        f"{result.motion}",
        file=sys.stderr,
    )
    return EXIT_OK
