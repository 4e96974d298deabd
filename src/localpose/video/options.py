"""What `process_video` is asked to do (`VideoOptions`) and how it reports progress.

Kept apart from the pipeline so the output writers (`localpose.video.outputs`) and the
pipeline both import it, and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from localpose.errors import InvalidOptionError
from localpose.options import EstimatorOptions
from localpose.smooth import SmoothingOptions
from localpose.track import TrackerOptions
from localpose.validate import ValidationOptions

if TYPE_CHECKING:
    from localpose.analysis.motion import MotionOptions

__all__ = ["MP4_PRESETS", "OUTPUT_KINDS", "ProgressCallback", "VideoOptions", "VideoProgress"]

OUTPUT_KINDS = ("mp4", "jsonl", "csv", "raw", "openpose", "coco", "angles", "trc", "mot", "c3d")
"""mp4: annotated video; jsonl/csv: final keypoints; raw: JSON Lines before smoothing;
openpose: a folder of BODY_25 JSON per frame; coco: COCO results JSON; angles: joint angles
CSV (and each person's angles added to the JSON Lines); trc, c3d: the longest track's markers
in metres with root motion (OpenSim, Pose2Sim marker names); mot: its 3D angles over time."""


MP4_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower")
"""x264 presets accepted for the annotated MP4, fastest first."""


def _motion_options() -> MotionOptions:
    from localpose.analysis.motion import MotionOptions  # the analysis package loads on demand only

    return MotionOptions()


@dataclass(frozen=True)
class VideoOptions:
    """Everything `process_video` does, explicitly."""

    estimator: EstimatorOptions = field(default_factory=EstimatorOptions)
    tracking: TrackerOptions = field(default_factory=TrackerOptions)
    validation: ValidationOptions = field(default_factory=ValidationOptions)
    smoothing: SmoothingOptions = field(default_factory=SmoothingOptions)
    motion: MotionOptions = field(default_factory=lambda: _motion_options())
    """Metres and root motion of the trc and c3d outputs."""
    outputs: tuple[str, ...] = ("mp4", "jsonl", "csv")
    workers: int = 1
    overlap_ms: float = 300.0
    """How early each chunk after the first starts, to warm up the landmarker's tracking."""
    inference_max_side: int | None = None
    """Shrink frames to this longer side before inference (faster; poses are mapped back)."""
    draw_labels: bool = True
    mp4_preset: str = "ultrafast"
    """x264 preset of the annotated MP4: ultrafast is the quickest (files ~1.5x larger than
    superfast at the same quality setting); veryfast, medium, slow make smaller files, slower."""

    def __post_init__(self) -> None:
        unknown = set(self.outputs) - set(OUTPUT_KINDS)
        if unknown:
            raise InvalidOptionError(
                f"unknown video output(s) {sorted(unknown)}; choose from {', '.join(OUTPUT_KINDS)}"
            )
        if not isinstance(self.workers, int) or self.workers < 1:
            raise InvalidOptionError(f"workers must be a positive integer, got {self.workers}")
        if self.overlap_ms < 0:
            raise InvalidOptionError("overlap_ms must be >= 0")
        if self.mp4_preset not in MP4_PRESETS:
            presets = ", ".join(MP4_PRESETS)
            raise InvalidOptionError(f"mp4_preset must be one of {presets}, got {self.mp4_preset!r}")
        if self.inference_max_side is not None and self.inference_max_side < 64:
            raise InvalidOptionError("inference_max_side must be at least 64 pixels")


@dataclass(frozen=True)
class VideoProgress:
    """Progress of one video: frames done of the total, speed and time left."""

    stage: str
    frames_done: int
    frames_total: int | None
    fps: float
    eta_s: float | None


ProgressCallback = Callable[[VideoProgress], None]
