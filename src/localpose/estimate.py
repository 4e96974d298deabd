"""Pose estimators: the library's entry point from pixels to `PoseFrame`.

`PoseEstimator` handles independent images (image mode, multi-person search).
`VideoPoseEstimator` handles the frames of one video in order (video mode: the engine
tracks people between frames and skips the detector while tracking holds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from localpose.engine import PoseEngine, RunningMode, create_engine, resolve_runtime
from localpose.images import ImageSource, load_image, to_rgb
from localpose.models import ModelBundle, load_model
from localpose.options import EstimatorOptions, ImageLimits, ModelOptions, default_workers
from localpose.result import PoseFrame

__all__ = ["MAX_AUTO_THREADS", "PoseEstimator", "VideoPoseEstimator", "compose_engine"]

MAX_AUTO_THREADS = 4
"""With threads=None an estimator uses the cores this process may use, up to this many."""


def _threads(threads: int | None) -> int:
    if threads is None:
        return min(MAX_AUTO_THREADS, default_workers())
    return max(1, int(threads))


def compose_engine(
    model: ModelBundle, options: EstimatorOptions, mode: RunningMode, threads: int
) -> PoseEngine:
    """The engine for `model`, with the stage that finds several people around it when asked:

    - BlazePose on LiteRT: in video mode, MultiPose proposals show the tracker where new
      people are; in image mode `localpose.crowd.CrowdEngine` runs BlazePose on each proposal
      (`EstimatorOptions.image_stage`), or the engine's own detector-first search;
    - MediaPipe Tasks: its closed graph is searched by painting people out (`multiperson`).
    """
    several = options.num_poses > 1 and options.multi_person != "single-pass"
    if model.family == "blazepose" and resolve_runtime(options.runtime) == "litert":
        from localpose.crowd import CrowdEngine, ProposalRegions

        proposer = ProposalRegions(options.num_poses, threads) if mode == "video" and several else None
        engine = create_engine(model, options, mode, threads, proposer)
        if mode == "image" and options.image_stage == "proposals":
            return CrowdEngine(engine, options, threads)  # type: ignore[arg-type]
        return engine
    engine = create_engine(model, options, mode, threads)
    if model.family == "blazepose" and mode == "image" and options.image_stage != "single-pass":
        from localpose.multiperson import PaintingSearch

        return PaintingSearch(engine, options.num_poses, options.segmentation)
    return engine


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
        threads: int | None,
    ) -> _EngineOwner:
        options = options or EstimatorOptions()
        bundle = model if isinstance(model, ModelBundle) else load_model(model)
        return cls(options, bundle, compose_engine(bundle, options, mode, _threads(threads)))

    @property
    def threads(self) -> int:
        return self.engine.threads

    @threads.setter
    def threads(self, count: int) -> None:
        self.engine.threads = count


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
        threads: int | None = None,
    ) -> None:
        """`threads`: threads per network; None uses idle cores (up to 4). Give 1 when several
        estimators run side by side (worker processes), so they do not fight over cores."""
        self._owner = _EngineOwner.create(options, model, "image", threads)
        self.limits = limits or ImageLimits()

    @property
    def options(self) -> EstimatorOptions:
        return self._owner.options

    @property
    def model(self) -> ModelBundle:
        return self._owner.model

    @property
    def threads(self) -> int:
        """Threads per network; set it between images (e.g. 1 while other work fills the cores)."""
        return self._owner.threads

    @threads.setter
    def threads(self, count: int) -> None:
        self._owner.threads = count

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
        threads: int | None = 1,
    ) -> None:
        self._owner = _EngineOwner.create(options, model, "video", threads)
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
