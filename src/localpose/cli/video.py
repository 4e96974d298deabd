"""`localpose video`: tracked, smoothed keypoints and an annotated MP4 for video files."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from localpose.cli.cluster import add_ray_argument, ray_options
from localpose.cli.common import (
    add_estimator_arguments,
    comma_list,
    estimator_options,
    model_options,
    positive,
)
from localpose.cli.progress import VideoProgressBar
from localpose.errors import InvalidInputError, WorkerLostError

if TYPE_CHECKING:
    from localpose.models import ModelBundle
    from localpose.video import VideoPool

__all__ = ["VIDEO_SUFFIXES", "register"]

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v"})


def add_smoothing_arguments(parser: argparse.ArgumentParser) -> None:
    from localpose.smooth import SmoothingOptions

    defaults = SmoothingOptions()
    group = parser.add_argument_group("tracking and smoothing")
    group.add_argument(
        "--smoothing",
        choices=("butterworth", "gaussian", "none"),
        default=defaults.method,
        help="offline zero-phase smoothing of each track (default %(default)s)",
    )
    group.add_argument(
        "--cutoff",
        type=positive(float),
        default=defaults.cutoff_hz,
        metavar="HZ",
        help="Butterworth cut-off frequency (default %(default)s Hz)",
    )
    group.add_argument(
        "--max-gap",
        type=float,
        default=defaults.max_gap_ms,
        metavar="MS",
        help="fill a track's dropouts up to this long by interpolation, flagged (default %(default)s ms)",
    )


def add_motion_arguments(parser: argparse.ArgumentParser) -> None:
    """--person-height and --fov: metres and root motion of TRC, C3D and BVH (docs/biomechanics.md)."""
    group = parser.add_argument_group("metres and root motion (trc, c3d, bvh)")
    group.add_argument(
        "--person-height",
        type=positive(float),
        metavar="M",
        help="the person's height in metres; scales every length (default: the world landmarks' own metres)",
    )
    group.add_argument(
        "--fov",
        type=positive(float),
        default=60.0,
        metavar="DEG",
        help="camera field of view across the longer image side, for the root's depth (default 60)",
    )


def motion_options(args: argparse.Namespace):
    from localpose.analysis.motion import MotionOptions

    return MotionOptions(person_height_m=args.person_height, fov_deg=args.fov)


def register(commands: argparse._SubParsersAction) -> None:
    from localpose.options import default_workers
    from localpose.video import MP4_PRESETS, OUTPUT_KINDS

    parser = commands.add_parser(
        "video",
        help="track and smooth poses in videos; annotated MP4, JSON Lines, CSV",
        description=(
            "Estimate, track, validate and smooth the poses in video files (mp4, mov, avi, webm, "
            "mkv) on every core, and write an annotated H.264 MP4 and keypoints for every frame."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="VIDEO", help="video files")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "-f",
        "--format",
        type=comma_list(OUTPUT_KINDS, "output"),
        default=("mp4", "jsonl", "csv"),
        help="comma-separated outputs: mp4 (annotated video), jsonl, csv, raw (JSON Lines before "
        "smoothing), openpose (BODY_25 JSON per frame), coco, angles (joint angles CSV), trc and "
        "c3d (OpenSim markers in metres with root motion; c3d needs ezc3d), mot (3D angles for "
        "OpenSim); default mp4,jsonl,csv",
    )
    parser.add_argument(
        "-w",
        "--workers",
        type=positive(int),
        default=default_workers(),
        help="worker processes, one pose engine each (default: the number of cores, %(default)s)",
    )
    parser.add_argument("--no-labels", action="store_true", help="do not draw track ids on the video")
    parser.add_argument(
        "--mp4-preset",
        choices=MP4_PRESETS,
        default="ultrafast",
        help="x264 speed/size trade-off of the annotated MP4 (default ultrafast: quickest, larger file)",
    )
    add_motion_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    add_ray_argument(parser)
    add_smoothing_arguments(parser)
    add_estimator_arguments(parser, modes=("video",))
    parser.set_defaults(handler=run)


def smoothing_options(args: argparse.Namespace):
    """`SmoothingOptions` from the flags of `add_smoothing_arguments`."""
    from localpose.smooth import SmoothingOptions

    return SmoothingOptions(method=args.smoothing, cutoff_hz=args.cutoff, max_gap_ms=args.max_gap)


def video_options(args: argparse.Namespace):
    from localpose.video import VideoOptions

    return VideoOptions(
        estimator=estimator_options(args),
        smoothing=smoothing_options(args),
        motion=motion_options(args),
        outputs=args.format,
        workers=args.workers,
        draw_labels=not args.no_labels,
        mp4_preset=args.mp4_preset,
    )


def run(args: argparse.Namespace) -> int:
    from localpose.models import load_model

    ray = ray_options(args)
    model = load_model(model_options(args))
    if ray is None:
        return _run_videos(args, model, None)
    from localpose.video import VideoPool

    with VideoPool(0, ray) as pool:
        return _run_videos(args, model, pool)


def _run_videos(args: argparse.Namespace, model: ModelBundle, pool: VideoPool | None) -> int:
    from dataclasses import replace

    from localpose.errors import EXIT_FAILED_INPUTS, EXIT_OK
    from localpose.manifest import Manifest, fingerprint
    from localpose.video import process_video
    from localpose.video.outputs import output_paths

    options = video_options(args)
    if pool is not None:  # a video is cut into one chunk per actor: the same as that many workers
        options = replace(options, workers=pool.workers)
    manifest = Manifest(args.out, fingerprint(options, model.sha256))
    failures = 0
    for path in args.paths:
        expected = [output_paths(path, args.out)[kind] for kind in options.outputs]
        if path.is_file() and manifest.finished(path, expected):
            if not args.quiet:
                print(f"localpose: {path.name}: done by an earlier run -> {args.out}", file=sys.stderr)
            continue
        bar = VideoProgressBar(path.name, args.quiet)
        started = time.perf_counter()
        try:
            report = process_video(path, args.out, options, model, on_progress=bar, pool=pool)
        except (InvalidInputError, WorkerLostError) as exc:  # the others still run
            bar.close()
            failures += 1
            where = "" if isinstance(exc, InvalidInputError) else f"{path}: "  # those name the file
            print(f"localpose: {where}{exc}", file=sys.stderr)
            continue
        bar.close()
        elapsed = time.perf_counter() - started
        for message in report.errors:
            print(f"localpose: {path}: {message}", file=sys.stderr)
        if report.errors:
            failures += 1
        elif not report.cancelled:
            manifest.add(path, list(report.outputs.values()))
        if not args.quiet:
            print(
                f"localpose: {path.name}: {report.frames} frame(s), {len(report.track_ids)} track(s), "
                f"{report.frames / elapsed:.1f} frames/s with {report.workers} worker(s) -> "
                + ", ".join(str(p) for p in report.outputs.values()),
                file=sys.stderr,
            )
    return EXIT_FAILED_INPUTS if failures else EXIT_OK
