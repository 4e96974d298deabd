"""The MediaPipe Tasks runtime: `PoseLandmarker` behind the `PoseEngine` interface.

This is the only module that imports mediapipe (lazily, so `import localpose` stays cheap),
which comes with the ``localpose[mediapipe]`` extra. It turns a model's networks into a Tasks
``.task`` bundle (Tasks wants image-input metadata on each network), runs a landmarker, and
converts its output into `PoseFrame`.
"""

from __future__ import annotations

import gc
import io
import warnings
import zipfile
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np

from localpose.engine.interface import RunningMode, VideoClock, check_rgb
from localpose.errors import ModelUnavailableError
from localpose.models import BUNDLE_ENTRIES, ModelBundle
from localpose.options import EstimatorOptions
from localpose.result import PoseFrame
from localpose.schema import NUM_LANDMARKS

__all__ = [
    "MEDIAPIPE_MISSING",
    "MediaPipeEngine",
    "SeedSolutionLoop",
    "build_task_bundle",
    "mediapipe_version",
    "task_bundle_for",
]

MEDIAPIPE_MISSING = (
    "the mediapipe runtime needs MediaPipe: pip install 'localpose[mediapipe]' "
    "(CPython 3.10-3.12, numpy < 2), or use the default LiteRT runtime"
)
# Input normalisation the two networks were trained with (see the project's model notes):
# the detector wants [-1, 1], the landmark model [0, 1].
_DETECTOR_NORM = (127.5, 127.5)
_LANDMARKS_NORM = (0.0, 255.0)
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_ALIGNMENT = 4


def mediapipe_version() -> str | None:
    """Installed mediapipe version, or None when it is not installed."""
    try:
        return metadata.version("mediapipe")
    except metadata.PackageNotFoundError:
        return None


def require_mediapipe() -> None:
    """ModelUnavailableError with the one-line fix when mediapipe is not installed."""
    if mediapipe_version() is None:
        raise ModelUnavailableError(MEDIAPIPE_MISSING)


def _with_image_metadata(model: bytes, mean: float, std: float, name: str) -> bytes:
    """Attach Tasks metadata: one normalised image input, one plain output per tensor."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    buffer = bytearray(model)
    writer = metadata_writer.MetadataWriter.create(buffer).add_general_info(name)
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in writer_utils.get_output_tensor_types(buffer):
        writer.add_feature_output()
    try:
        tflite, _json = writer.populate()
    finally:
        # The writer keeps a TemporaryDirectory that it only removes when garbage collected,
        # which warns (ResourceWarning); remove it deterministically instead.
        writer._temp_folder.cleanup()
    return bytes(tflite)


@lru_cache(maxsize=4)
def build_task_bundle(detector: bytes, landmarks: bytes) -> bytes:
    """A PoseLandmarker ``.task`` bundle from raw tflite networks; byte-for-byte reproducible."""
    require_mediapipe()
    from mediapipe.tasks.python.metadata.metadata_writers.model_asset_bundle_utils import (
        AlignZipFile,
    )

    with warnings.catch_warnings():
        # mediapipe's metadata populator leaves temp files open; collect them here, quietly.
        warnings.simplefilter("ignore", ResourceWarning)
        entries = {
            BUNDLE_ENTRIES["detector"]: _with_image_metadata(detector, *_DETECTOR_NORM, "pose_detector"),
            BUNDLE_ENTRIES["landmarks"]: _with_image_metadata(landmarks, *_LANDMARKS_NORM, "pose_landmarks"),
        }
        gc.collect()
    out = io.BytesIO()
    with AlignZipFile(out, mode="w", alignment=_ZIP_ALIGNMENT) as bundle:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            bundle.writestr(info, data)
    return out.getvalue()


def task_bundle_for(model: ModelBundle) -> bytes:
    """The .task bundle MediaPipe Tasks runs for `model` (the user's own, or built from its networks)."""
    if model.task_bundle is not None:
        return model.task_bundle
    return build_task_bundle(model.networks["detector"], model.networks["landmarks"])


class MediaPipeEngine:
    """One MediaPipe Tasks PoseLandmarker (uses one CPU core; not thread-safe)."""

    def __init__(self, model: ModelBundle, options: EstimatorOptions, mode: RunningMode = "image"):
        require_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        running_mode = {"image": vision.RunningMode.IMAGE, "video": vision.RunningMode.VIDEO}[mode]
        # Images are searched for people by painting found ones out (localpose.multiperson, composed
        # by localpose.estimate): that needs masks. Tasks' closed graph takes no regions, so it
        # searches where LiteRT uses proposals.
        self._searches_images = options.image_stage != "single-pass" and mode == "image"
        landmarker_options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=task_bundle_for(model)),
            running_mode=running_mode,
            num_poses=options.num_poses,
            min_pose_detection_confidence=options.min_detection_confidence,
            min_pose_presence_confidence=options.min_presence_confidence,
            min_tracking_confidence=options.min_tracking_confidence,
            output_segmentation_masks=options.segmentation or self._searches_images,
        )
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(landmarker_options)
        except (RuntimeError, ValueError) as exc:
            raise ModelUnavailableError(f"MediaPipe could not load the pose model: {exc}") from exc
        self.mode: RunningMode = mode
        self.options = options
        self._clock = VideoClock()

    @property
    def threads(self) -> int:
        """MediaPipe Tasks runs its graph on one core; setting another count changes nothing."""
        return 1

    @threads.setter
    def threads(self, count: int) -> None:
        del count

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """Run the landmarker once on one RGB uint8 image."""
        check_rgb(rgb)
        return self._landmark(rgb, timestamp_ms)

    def _landmark(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """One run of the landmarker."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.mode == "video":
            timestamp_ms = self._clock.advance(timestamp_ms)
            result = self._landmarker.detect_for_video(image, timestamp_ms)
        else:
            result = self._landmarker.detect(image)
        height, width = rgb.shape[:2]
        return _to_pose_frame(result, (width, height), float(timestamp_ms))

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> MediaPipeEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _to_pose_frame(result: Any, image_size: tuple[int, int], timestamp_ms: float) -> PoseFrame:
    """Convert a PoseLandmarkerResult into a PoseFrame (the one MediaPipe-to-localpose edge)."""
    people = result.pose_landmarks
    n = len(people)
    if n == 0:
        return PoseFrame.empty(image_size, timestamp_ms)
    image = np.array(
        [[(lm.x, lm.y, lm.z, lm.visibility or 0.0, lm.presence or 0.0) for lm in p] for p in people],
        dtype=np.float32,
    ).reshape(n, NUM_LANDMARKS, 5)
    world = np.array(
        [[(lm.x, lm.y, lm.z) for lm in p] for p in result.pose_world_landmarks], dtype=np.float32
    ).reshape(n, NUM_LANDMARKS, 3)
    masks = None
    if result.segmentation_masks:
        masks = np.stack([_mask_array(m) for m in result.segmentation_masks])
    presence = image[:, :, 4]
    return PoseFrame(
        image_size=image_size,
        xy=image[:, :, :2] * np.asarray(image_size, dtype=np.float32),
        z=image[:, :, 2],
        visibility=image[:, :, 3],
        presence=presence,
        world=world,
        score=presence.mean(axis=1),
        timestamp_ms=timestamp_ms,
        masks=masks,
    )


def _mask_array(mask: Any) -> np.ndarray:
    view = np.asarray(mask.numpy_view(), dtype=np.float32)
    return view.reshape(view.shape[0], view.shape[1]).copy()


class SeedSolutionLoop:
    """The seed system's per-frame step, for side-by-side benchmarks only.

    Legacy ``mp.solutions.pose.Pose(static_image_mode=False)`` on a BGR frame, then
    MediaPipe's own ``drawing_utils`` skeleton drawn onto the frame, as the seed did.
    """

    def __init__(self) -> None:
        require_mediapipe()
        import mediapipe as mp

        self._mp = mp
        self._pose = mp.solutions.pose.Pose(static_image_mode=False)

    def step(self, bgr: np.ndarray) -> int:
        """Estimate and draw on one frame in place; returns the number of people found (0 or 1)."""
        import cv2

        results = self._pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if results.pose_landmarks is None:
            return 0
        self._mp.solutions.drawing_utils.draw_landmarks(
            bgr, results.pose_landmarks, self._mp.solutions.pose.POSE_CONNECTIONS
        )
        return 1

    def close(self) -> None:
        self._pose.close()
