"""`localpose reps`: count repetitions of an exercise in a video, with tempo, range and form flags."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from localpose.cli.analysis_input import add_input_arguments, load_poses

if TYPE_CHECKING:
    from localpose.analysis.reps import RepReport

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    from localpose.analysis.reps import EXERCISES

    parser = commands.add_parser(
        "reps",
        help="count exercise repetitions with form feedback",
        description=(
            "Count repetitions (full and partial) of one person in a video, with per-repetition "
            "tempo, range of motion and form flags. Signals, thresholds and checks: "
            "`python -m pydoc localpose.analysis.reps`."
        ),
    )
    parser.add_argument("input", type=Path, metavar="VIDEO", help="video or localpose .jsonl/.csv export")
    parser.add_argument(
        "-e", "--exercise", required=True, choices=sorted(EXERCISES), help="which exercise to count"
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="also plot the signal and repetitions")
    parser.add_argument(
        "--space",
        choices=("image", "world"),
        help="count on 2D or 3D angles instead of the exercise's default (thresholds were tuned for it)",
    )
    add_input_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from localpose.analysis.reps import RepOptions, count_reps
    from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK

    frames = load_poses(args.input, args)
    report = count_reps(frames, args.exercise, RepOptions(space=args.space), track_id=args.track)
    if args.plot:
        from localpose.analysis.plot import plot_reps

        plot_reps(report, args.plot, title=args.input.name)
    if args.json:
        print(json.dumps({"source": str(args.input), **report.to_dict()}, indent=1))
    else:
        print(_table(report))
    seen = int(sum(1 for v in report.raw if v == v))
    if seen == 0:
        print(f"localpose: {args.input}: the exercise's joints were never visible", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


def _table(report: RepReport) -> str:
    spec = report.exercise
    lines = [
        f"{spec.name}: {report.reps} reps, {report.partial} partial "
        f"(signal: {spec.description}; rest <= {spec.rest:g}, start >= {spec.start:g}, "
        f"full at >= {spec.peak:g} degrees)",
    ]
    if report.items:
        lines.append(
            f"{'#':>3} {'kind':<11} {'frames':>13} {'to peak':>7} {'return':>6} {'peak':>6} {'ROM':>6}  flags"
        )
    for rep in report.items:
        kind = "full" if rep.complete else rep.reason
        frames = f"{rep.start_frame}-{rep.end_frame}"
        flags = ", ".join(rep.flags) or "-"
        lines.append(
            f"{rep.index + 1:>3} {kind:<11} {frames:>13} {rep.to_peak_s:>7.2f} {rep.return_s:>6.2f} "
            f"{rep.peak_deg:>6.1f} {rep.rom_deg:>6.1f}  {flags}"
        )
    return "\n".join(lines)
