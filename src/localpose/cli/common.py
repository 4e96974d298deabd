"""Options shared by several subcommands, declared once and turned into typed options."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from localpose.options import RUNTIME_CHOICES, EstimatorOptions, ModelOptions, default_cache_dir

__all__ = [
    "add_estimator_arguments",
    "add_model_arguments",
    "comma_list",
    "estimator_options",
    "model_options",
    "positive",
]


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def comma_list(choices: tuple[str, ...], what: str):
    """An argparse type: a comma-separated, non-empty subset of `choices` (order kept)."""

    def parse(text: str) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
        unknown = [f for f in chosen if f not in choices]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {','.join(unknown) or text}; choose from {','.join(choices)}"
            )
        return chosen

    return parse


def positive(kind: type[int] | type[float]):
    """An argparse type: a positive int or float."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def _num_poses(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be from 1 to 10, got {text}")
    return value


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        type=Path,
        metavar="TASK_FILE",
        help="an official PoseLandmarker .task file (lite/full/heavy) instead of the bundled full model",
    )
    group.add_argument(
        "--model-cache",
        type=Path,
        metavar="DIR",
        help="where the bundled model is built (default: $LOCALPOSE_CACHE_DIR or ~/.cache/localpose)",
    )


def add_estimator_arguments(parser: argparse.ArgumentParser, default_num_poses: int = 1) -> None:
    defaults = EstimatorOptions()
    group = parser.add_argument_group("estimation")
    group.add_argument(
        "-n",
        "--num-poses",
        type=_num_poses,
        default=default_num_poses,
        help=f"most people per image, 1-10 (default {default_num_poses})",
    )
    group.add_argument(
        "--min-detection-confidence",
        type=_unit,
        default=defaults.min_detection_confidence,
        metavar="P",
        help=f"detector score to accept a person (default {defaults.min_detection_confidence})",
    )
    group.add_argument(
        "--min-presence-confidence",
        type=_unit,
        default=defaults.min_presence_confidence,
        metavar="P",
        help=f"landmark presence score to keep a person (default {defaults.min_presence_confidence})",
    )
    group.add_argument(
        "--min-tracking-confidence",
        type=_unit,
        default=defaults.min_tracking_confidence,
        metavar="P",
        help="video: below this, detect again instead of tracking (default %(default)s)",
    )
    group.add_argument(
        "--multi-person",
        choices=("auto", "search", "single-pass"),
        default=defaults.multi_person,
        help="how to look for several people: auto = search when --num-poses > 1 (default auto)",
    )
    group.add_argument("--segmentation", action="store_true", help="also compute person segmentation masks")
    add_runtime_argument(group)
    add_model_arguments(parser)


def add_runtime_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--runtime",
        choices=RUNTIME_CHOICES,
        default="auto",
        help="what runs the networks: litert (faster) or MediaPipe Tasks; auto = litert when "
        "installed (default auto)",
    )


def estimator_options(args: argparse.Namespace) -> EstimatorOptions:
    return EstimatorOptions(
        num_poses=args.num_poses,
        min_detection_confidence=args.min_detection_confidence,
        min_presence_confidence=args.min_presence_confidence,
        min_tracking_confidence=args.min_tracking_confidence,
        segmentation=args.segmentation,
        multi_person=args.multi_person,
        runtime=args.runtime,
    )


def model_options(args: argparse.Namespace) -> ModelOptions:
    return ModelOptions(
        task_file=args.model,
        cache_dir=args.model_cache or default_cache_dir(os.environ),
    )
