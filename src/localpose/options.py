"""Typed options objects passed explicitly into the library (no globals, no env reads)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from localpose.errors import InvalidOptionError

__all__ = [
    "RUNTIME_CHOICES",
    "EstimatorOptions",
    "ImageLimits",
    "ModelOptions",
    "MultiPersonMode",
    "RuntimeChoice",
    "check_runtime",
    "default_cache_dir",
    "default_workers",
]

MultiPersonMode = Literal["auto", "search", "single-pass"]
RuntimeChoice = Literal["auto", "litert", "mediapipe"]
RUNTIME_CHOICES: tuple[RuntimeChoice, ...] = ("auto", "litert", "mediapipe")
"""Which runtime runs the networks (see `localpose.engine`): ``litert`` (fast, the default
when ai-edge-litert is installed), ``mediapipe`` (MediaPipe Tasks' own PoseLandmarker)."""
"""How to find several people in one image.

``single-pass``: one MediaPipe pass over the whole image (raw MediaPipe behaviour).
``search``: look for everyone, small and half-hidden people too, at about 3x the time
(docs/multiperson.md). ``auto``: ``search`` when num_poses > 1 in image mode.
"""


def check_runtime(value: str) -> None:
    """Refuse a runtime name that is not one of `RUNTIME_CHOICES`."""
    if value not in RUNTIME_CHOICES:
        raise InvalidOptionError(f"runtime must be 'auto', 'litert' or 'mediapipe', got {value!r}")


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise InvalidOptionError(f"{name} must be between 0 and 1, got {value}")


@dataclass(frozen=True)
class EstimatorOptions:
    """What the estimator looks for and how hard it tries."""

    num_poses: int = 1
    """Most people to return per frame (1 to 10)."""
    min_detection_confidence: float = 0.5
    """Pose detector score needed to start a person."""
    min_presence_confidence: float = 0.5
    """Landmark model presence score needed to keep a person."""
    min_tracking_confidence: float = 0.5
    """Video mode: below this the detector runs again instead of tracking."""
    segmentation: bool = False
    """Also return a per-person segmentation mask (costs memory, little time)."""
    multi_person: MultiPersonMode = "auto"
    runtime: RuntimeChoice = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.num_poses, int) or not 1 <= self.num_poses <= 10:
            raise InvalidOptionError(f"num_poses must be an integer from 1 to 10, got {self.num_poses}")
        for name in (
            "min_detection_confidence",
            "min_presence_confidence",
            "min_tracking_confidence",
        ):
            _check_unit(name, getattr(self, name))
        if self.multi_person not in ("auto", "search", "single-pass"):
            raise InvalidOptionError(
                f"multi_person must be 'auto', 'search' or 'single-pass', got {self.multi_person!r}"
            )
        check_runtime(self.runtime)


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on decoded input, against decompression bombs and memory blow-ups."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0:
            raise InvalidOptionError("image limits must be positive")


def default_workers() -> int:
    """Worker processes by default: the cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Model cache folder: $LOCALPOSE_CACHE_DIR, else $XDG_CACHE_HOME/localpose, else ~/.cache/localpose."""
    env = os.environ if environ is None else environ
    if env.get("LOCALPOSE_CACHE_DIR"):
        return Path(env["LOCALPOSE_CACHE_DIR"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "localpose"
    return Path.home() / ".cache" / "localpose"


@dataclass(frozen=True)
class ModelOptions:
    """Which pose model to load.

    By default localpose builds the "full" model bundle from the weights inside the
    installed mediapipe wheel into `cache_dir`. `task_file` selects an official
    PoseLandmarker ``.task`` file instead (lite, full or heavy).
    """

    task_file: Path | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)

    def __post_init__(self) -> None:
        if self.task_file is not None:
            object.__setattr__(self, "task_file", Path(self.task_file).expanduser())
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser())
