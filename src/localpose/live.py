"""Live poses: one camera or stream, frame by frame, tracked and smoothed causally.

`LiveSession` is what the `localpose live` command and the server's WebSocket use: MediaPipe
video mode, then tracking, plausibility flags and the One Euro filter, so each frame's
result is final as soon as it is returned (no look-ahead).
"""

from __future__ import annotations

import numpy as np

from localpose.estimate import VideoPoseEstimator
from localpose.models import ModelBundle
from localpose.options import EstimatorOptions, ModelOptions
from localpose.result import PoseFrame
from localpose.smooth import OneEuroOptions, OneEuroSmoother
from localpose.track import PoseTracker, TrackerOptions
from localpose.validate import PoseValidator, ValidationOptions

__all__ = ["LiveSession"]


class LiveSession:
    """Estimate, track, flag and smooth the frames of one live source, in arrival order."""

    def __init__(
        self,
        options: EstimatorOptions | None = None,
        model: ModelBundle | ModelOptions | None = None,
        tracking: TrackerOptions | None = None,
        smoothing: OneEuroOptions | None = None,
        validation: ValidationOptions | None = None,
    ) -> None:
        self._estimator = VideoPoseEstimator(options, model)
        self._tracker = PoseTracker(tracking or TrackerOptions())
        self._validator = PoseValidator(validation or ValidationOptions())
        self._smoother = OneEuroSmoother(smoothing or OneEuroOptions())
        self.frames = 0

    def process(self, rgb: np.ndarray, timestamp_ms: float) -> PoseFrame:
        """The tracked, flagged and smoothed poses of the next frame."""
        frame = self._estimator.estimate(rgb, timestamp_ms)
        frame = self._validator.update(self._tracker.update(frame))
        self.frames += 1
        return self._smoother.update(frame)

    def close(self) -> None:
        self._estimator.close()

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
