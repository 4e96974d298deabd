"""Where the analysis commands get poses from: images, videos, or localpose exports.

Images go through `PoseEstimator`; videos through the same pipeline as `localpose video`
(`localpose.video.process_video` with no outputs: worker processes, tracking, validation,
gap filling and zero-phase smoothing, with `--workers` and `--smoothing`); files written by
localpose (``.json``, ``.jsonl``, keypoints ``.csv``) are read back without running the
model, so an analysis can be repeated on saved poses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localpose.cli.common import add_estimator_arguments, estimator_options, model_options
from localpose.errors import InvalidInputError
from localpose.images import IMAGE_SUFFIXES
from localpose.result import PoseFrame

__all__ = [
    "EXPORT_SUFFIXES",
    "PoseLoader",
    "add_input_arguments",
    "is_image",
    "load_poses",
    "video_options",
]

EXPORT_SUFFIXES = frozenset({".json", ".jsonl", ".csv"})


def add_input_arguments(parser: argparse.ArgumentParser, track: bool = True) -> None:
    """The person to analyse, and how a video is estimated (the flags of `localpose video`)."""
    from localpose.cli.common import positive
    from localpose.cli.video import add_smoothing_arguments
    from localpose.options import default_workers

    parser.add_argument(
        "-w",
        "--workers",
        type=positive(int),
        default=default_workers(),
        help="videos: worker processes, one pose engine each (default: the number of cores, %(default)s)",
    )
    add_smoothing_arguments(parser)
    if track:
        parser.add_argument(
            "--person",
            "--track",
            dest="track",
            type=int,
            metavar="ID",
            help="the track id of the person to analyse (default: the one seen in most frames)",
        )
    add_estimator_arguments(parser, segmentation=False)


def video_options(args: argparse.Namespace):
    """`VideoOptions` of the video pipeline without outputs: the poses only."""
    from localpose.cli.video import smoothing_options
    from localpose.video import VideoOptions

    return VideoOptions(
        estimator=estimator_options(args),
        smoothing=smoothing_options(args),
        outputs=(),
        workers=args.workers,
    )


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def load_poses(path: Path, args: argparse.Namespace) -> list[PoseFrame]:
    """Frames of an image (one), a video (all, tracked) or a localpose export file."""
    with PoseLoader(args) as loader:
        return loader.load(path)


class PoseLoader:
    """Loads many inputs with one image estimator (opened on first use) for all the images."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._estimator = None

    def load(self, path: Path) -> list[PoseFrame]:
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such file")
        suffix = path.suffix.lower()
        if suffix in EXPORT_SUFFIXES:
            return _read_export(path)
        if suffix in IMAGE_SUFFIXES:
            if self._estimator is None:
                from localpose.estimate import PoseEstimator

                self._estimator = PoseEstimator(estimator_options(self.args), model_options(self.args))
            return [self._estimator.estimate(path)]
        from localpose.cli.progress import VideoProgressBar
        from localpose.video import process_video

        # The one place that knows the video pipeline's call: final poses, in frame order.
        bar = VideoProgressBar(path.name)
        try:
            report = process_video(
                path, None, video_options(self.args), model_options(self.args), on_progress=bar
            )
        finally:
            bar.close()
        for message in report.errors:
            print(f"localpose: {path}: {message}", file=sys.stderr)
        return report.poses

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None

    def __enter__(self) -> PoseLoader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_export(path: Path) -> list[PoseFrame]:
    from localpose.export import read_csv, read_json, read_jsonl

    try:
        if path.suffix.lower() == ".jsonl":
            return list(read_jsonl(path))
        if path.suffix.lower() == ".json":
            return [read_json(path)]
        return [frame for _, _, frame in read_csv(path)]
    except (ValueError, KeyError) as exc:
        raise InvalidInputError(f"{path}: not a localpose export ({exc})") from exc
