"""The MediaPipe Tasks runtime: `PoseLandmarker` behind the `PoseEngine` interface.

This is the only module that imports mediapipe (lazily, so `import localpose` stays
cheap). It knows how to turn the tflite files in the mediapipe wheel into a Tasks
``.task`` bundle, and how to run a landmarker and convert its output into `PoseFrame`.
"""

from __future__ import annotations

import gc
import io
import warnings
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from localpose.engine.settings import BUNDLE_ENTRIES, EngineSettings, RunningMode, VideoClock, check_rgb
from localpose.errors import ModelUnavailableError
from localpose.multiperson import search_people
from localpose.result import PoseFrame
from localpose.schema import NUM_LANDMARKS

__all__ = [
    "MediaPipeEngine",
    "SeedSolutionLoop",
    "WheelModelFiles",
    "build_task_bundle",
    "find_wheel_model_files",
    "mediapipe_version",
]

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


@dataclass(frozen=True)
class WheelModelFiles:
    """The raw tflite networks shipped inside the mediapipe wheel."""

    detector: Path
    landmarks: Path
    mediapipe_version: str


def find_wheel_model_files() -> WheelModelFiles:
    """Locate pose_detection.tflite and pose_landmark_full.tflite in the installed mediapipe."""
    version = mediapipe_version()
    if version is None:
        raise ModelUnavailableError(
            "mediapipe is not installed. Install it with: pip install 'mediapipe==0.10.21'"
        )
    spec_root = _mediapipe_root()
    detector = spec_root / "modules" / "pose_detection" / "pose_detection.tflite"
    landmarks = spec_root / "modules" / "pose_landmark" / "pose_landmark_full.tflite"
    missing = [p for p in (detector, landmarks) if not p.is_file()]
    if missing:
        raise ModelUnavailableError(
            f"mediapipe {version} does not ship the pose models "
            f"(missing {', '.join(str(p) for p in missing)}). Only mediapipe 0.10.21 carries them: "
            "run `pip install 'mediapipe==0.10.21'`, or pass an official PoseLandmarker .task file "
            "with --model PATH (pose_landmarker_lite/full/heavy.task, copied from a machine that can "
            "download it)."
        )
    return WheelModelFiles(detector=detector, landmarks=landmarks, mediapipe_version=version)


def _mediapipe_root() -> Path:
    from importlib.util import find_spec

    spec = find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError("mediapipe is installed but cannot be located on sys.path")
    return Path(next(iter(spec.submodule_search_locations)))


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


def build_task_bundle(detector: bytes, landmarks: bytes) -> bytes:
    """A PoseLandmarker ``.task`` bundle from raw tflite networks; byte-for-byte reproducible."""
    from mediapipe.tasks.python.metadata.metadata_writers.model_asset_bundle_utils import (
        AlignZipFile,
    )

    with warnings.catch_warnings():
        # mediapipe's metadata populator leaves temp files open; collect them here, quietly.
        warnings.simplefilter("ignore", ResourceWarning)
        entries = {
            BUNDLE_ENTRIES[0]: _with_image_metadata(detector, *_DETECTOR_NORM, "pose_detector"),
            BUNDLE_ENTRIES[1]: _with_image_metadata(landmarks, *_LANDMARKS_NORM, "pose_landmarks"),
        }
        gc.collect()
    out = io.BytesIO()
    with AlignZipFile(out, mode="w", alignment=_ZIP_ALIGNMENT) as bundle:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            bundle.writestr(info, data)
    return out.getvalue()


class MediaPipeEngine:
    """One MediaPipe Tasks PoseLandmarker (uses one CPU core; not thread-safe)."""

    def __init__(self, task_bundle: bytes, settings: EngineSettings, mode: RunningMode = "image"):
        from mediapipe.tasks.python import BaseOptions, vision

        running_mode = {"image": vision.RunningMode.IMAGE, "video": vision.RunningMode.VIDEO}[mode]
        # Images are searched for people by painting found ones out (localpose.multiperson): masks needed.
        self._searches_images = settings.search and mode == "image"
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=task_bundle),
            running_mode=running_mode,
            num_poses=settings.num_poses,
            min_pose_detection_confidence=settings.min_detection_confidence,
            min_pose_presence_confidence=settings.min_presence_confidence,
            min_tracking_confidence=settings.min_tracking_confidence,
            output_segmentation_masks=settings.segmentation or self._searches_images,
        )
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelUnavailableError(f"MediaPipe could not load the pose model: {exc}") from exc
        self.mode: RunningMode = mode
        self.settings = settings
        self._clock = VideoClock()

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        """Run the landmarker on one RGB uint8 image (searched for people when settings say so)."""
        check_rgb(rgb)
        if self._searches_images:
            return search_people(self._landmark, rgb, self.settings.num_poses, self.settings.segmentation)
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
