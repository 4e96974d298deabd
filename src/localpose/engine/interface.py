"""What every inference runtime shares: the `PoseEngine` interface, video clock and input check."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from localpose.errors import InvalidInputError
from localpose.result import PoseFrame

__all__ = [
    "PoseEngine",
    "RunningMode",
    "Runtime",
    "VideoClock",
    "check_rgb",
]

RunningMode = Literal["image", "video"]
Runtime = Literal["litert", "mediapipe"]


class PoseEngine(Protocol):
    """What the rest of localpose needs from an inference runtime."""

    mode: RunningMode
    threads: int
    """Threads each network runs on; engines that can change it take a new value between frames."""

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """Poses in one RGB uint8 (H, W, 3) image; video mode needs increasing timestamps."""
        ...

    def close(self) -> None: ...


def check_rgb(rgb: np.ndarray) -> None:
    """Engines take RGB uint8 (H, W, 3) arrays; anything else is the caller's mistake."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InvalidInputError(f"engine input must be RGB uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")


class VideoClock:
    """Video-mode timestamps (integer ms) must strictly increase: MediaPipe's rule, kept by every runtime."""

    def __init__(self) -> None:
        self.last_ms: int | None = None

    def advance(self, timestamp_ms: float) -> int:
        """The frame's time as integer ms, after checking it comes after the previous frame's."""
        now = int(timestamp_ms)
        if self.last_ms is not None and now <= self.last_ms:
            raise InvalidInputError(f"video timestamps must increase: {now} ms after {self.last_ms} ms")
        self.last_ms = now
        return now
