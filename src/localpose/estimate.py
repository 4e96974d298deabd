"""Pose estimators: the library's entry point from pixels to `PoseFrame`.

`PoseEstimator` handles independent images (image mode, multi-person search).
`VideoPoseEstimator` handles the frames of one video in order (video mode: the engine
tracks people between frames and skips the detector while tracking holds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from localpose.engine import EngineSettings, PoseEngine, RunningMode, create_engine
from localpose.images import ImageSource, load_image, to_rgb
from localpose.models import ModelBundle, load_model
from localpose.options import EstimatorOptions, ImageLimits, ModelOptions
from localpose.result import PoseFrame

__all__ = ["PoseEstimator", "VideoPoseEstimator", "engine_settings", "uses_search"]


def uses_search(options: EstimatorOptions) -> bool:
    """Whether image mode searches for every person (docs/multiperson.md)."""
    return options.multi_person == "search" or (options.multi_person == "auto" and options.num_poses > 1)


def engine_settings(options: EstimatorOptions, mode: RunningMode = "image") -> EngineSettings:
    """The engine settings that carry out these estimator options."""
    return EngineSettings(
        num_poses=options.num_poses,
        min_detection_confidence=options.min_detection_confidence,
        min_presence_confidence=options.min_presence_confidence,
        min_tracking_confidence=options.min_tracking_confidence,
        segmentation=options.segmentation,
        search=mode == "image" and uses_search(options),
    )


@dataclass
class _EngineOwner:
    """Shared set-up of the two estimators: options, model and one engine."""

    options: EstimatorOptions
    model: ModelBundle
    engine: PoseEngine

    @classmethod
    def create(
        cls,
        options: EstimatorOptions | None,
        model: ModelBundle | ModelOptions | None,
        mode: RunningMode,
    ) -> _EngineOwner:
        options = options or EstimatorOptions()
        bundle = model if isinstance(model, ModelBundle) else load_model(model)
        engine = create_engine(bundle.data, engine_settings(options, mode), mode, options.runtime)
        return cls(options, bundle, engine)


class PoseEstimator:
    """Estimate poses in independent images (MediaPipe image mode).

    >>> with PoseEstimator(EstimatorOptions(num_poses=5)) as estimator:  # doctest: +SKIP
    ...     frame = estimator.estimate("group.jpg")
    """

    def __init__(
        self,
        options: EstimatorOptions | None = None,
        model: ModelBundle | ModelOptions | None = None,
        limits: ImageLimits | None = None,
    ) -> None:
        self._owner = _EngineOwner.create(options, model, "image")
        self.limits = limits or ImageLimits()

    @property
    def options(self) -> EstimatorOptions:
        return self._owner.options

    @property
    def model(self) -> ModelBundle:
        return self._owner.model

    def estimate(self, image: ImageSource) -> PoseFrame:
        """Poses in one image given as an RGB array, encoded bytes or a file path."""
        return self._owner.engine.process(load_image(image, self.limits))

    def close(self) -> None:
        self._owner.engine.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class VideoPoseEstimator:
    """Estimate poses in the frames of one video, in order (video mode: people are tracked)."""

    def __init__(
        self,
        options: EstimatorOptions | None = None,
        model: ModelBundle | ModelOptions | None = None,
    ) -> None:
        self._owner = _EngineOwner.create(options, model, "video")
        self._last_engine_ms: int | None = None

    @property
    def options(self) -> EstimatorOptions:
        return self._owner.options

    @property
    def model(self) -> ModelBundle:
        return self._owner.model

    def estimate(self, rgb: np.ndarray, timestamp_ms: float) -> PoseFrame:
        """Poses in the next frame; `timestamp_ms` is the frame's real presentation time."""
        rgb = to_rgb(rgb)
        # MediaPipe wants strictly increasing integer milliseconds; keep the real time in the result.
        engine_ms = round(timestamp_ms)
        if self._last_engine_ms is not None and engine_ms <= self._last_engine_ms:
            engine_ms = self._last_engine_ms + 1
        self._last_engine_ms = engine_ms
        frame = self._owner.engine.process(rgb, engine_ms)
        return frame.replace(timestamp_ms=float(timestamp_ms))

    def close(self) -> None:
        self._owner.engine.close()

    def __enter__(self) -> VideoPoseEstimator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
