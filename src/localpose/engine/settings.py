"""What every inference runtime shares: its settings and the `PoseEngine` interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from localpose.result import PoseFrame

__all__ = ["BUNDLE_ENTRIES", "EngineSettings", "PoseEngine", "RunningMode", "Runtime"]

RunningMode = Literal["image", "video"]
Runtime = Literal["litert", "mediapipe"]

BUNDLE_ENTRIES = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
"""File names a PoseLandmarker ``.task`` bundle must contain."""


@dataclass(frozen=True)
class EngineSettings:
    """Settings of one engine (they are fixed when the engine is created)."""

    num_poses: int = 1
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    segmentation: bool = False


class PoseEngine(Protocol):
    """What the rest of localpose needs from an inference runtime."""

    mode: RunningMode

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """Poses in one RGB uint8 (H, W, 3) image; video mode needs increasing timestamps."""
        ...

    def close(self) -> None: ...
