"""BlazePose's landmark network: a region cropped to 256x256, 39 landmarks, heatmap refinement.

With the constants of MediaPipe's pose landmarks graph: the ROI cropped to 256x256 in [0, 1];
39 landmarks (33 + 2 ROI helpers + 4 unused) refined by the heatmap (7x7 window, confidence
>= 0.5) and projected back; world landmarks rotated by the ROI angle; the person kept when
the pose presence reaches the threshold. Without segmentation, the network runs without its
segmentation head (a third of its work).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import cv2
import numpy as np

from localpose.blazepose.detector import sigmoid
from localpose.blazepose.regions import MIN_ROI_SIDE, Roi
from localpose.errors import ModelUnavailableError
from localpose.runtime.litert import SurgeryUnavailableError, TFLiteNetwork, without_outputs
from localpose.schema import NUM_LANDMARKS

__all__ = [
    "NUM_MODEL_LANDMARKS",
    "LandmarkNetwork",
    "PersonEstimate",
    "landmark_roles",
    "refine_with_heatmap",
]

NUM_MODEL_LANDMARKS = 39
_HELPER_CENTRE, _HELPER_SCALE = 33, 34
_HEATMAP_KERNEL = 7
_HEATMAP_MIN_CONFIDENCE = 0.5


def landmark_roles(shapes: dict[str, tuple[int, ...]], size: int) -> dict[str, str]:
    """Output tensor name of each role, told apart by shape (names differ between lite, full
    and heavy bundles): landmarks (1, 195), presence (1, 1), mask (1, S, S, 1), heatmap
    (1, h, w, 39), world (1, 117)."""
    wanted = {
        "landmarks": lambda s: s == (1, NUM_MODEL_LANDMARKS * 5),
        "presence": lambda s: s == (1, 1),
        "mask": lambda s: len(s) == 4 and s[1:] == (size, size, 1),
        "heatmap": lambda s: len(s) == 4 and s[3] == NUM_MODEL_LANDMARKS,
        "world": lambda s: s == (1, NUM_MODEL_LANDMARKS * 3),
    }
    roles = {role: name for role, test in wanted.items() for name, shape in shapes.items() if test(shape)}
    missing = set(wanted) - set(roles)
    if missing:
        raise ModelUnavailableError(
            f"not a BlazePose landmark network: no {', '.join(sorted(missing))} output"
        )
    return roles


@dataclass(frozen=True)
class PersonEstimate:
    """One person's raw result: 39 projected landmarks and what goes with them."""

    landmarks: np.ndarray  # (39, 5) x px, y px, z (width-normalised), visibility, presence
    world: np.ndarray  # (33, 3)
    presence: float
    roi: Roi
    mask: np.ndarray | None  # (H, W) float, when segmentation is on

    def next_roi(self) -> Roi:
        """Where to look for this person in the next frame (from the two helper landmarks)."""
        return Roi.from_alignment_points(
            self.landmarks[_HELPER_CENTRE, :2], self.landmarks[_HELPER_SCALE, :2]
        )

    @property
    def framing(self) -> float:
        """How well the region fitted the person: IoU of the region used and the one the landmarks give."""
        return self.next_roi().iou(self.roi)

    @property
    def mean_presence(self) -> float:
        """Mean presence of the 33 landmarks (the person's score)."""
        return float(self.landmarks[:NUM_LANDMARKS, 4].mean())


class LandmarkNetwork:
    """The landmark network on one LiteRT interpreter, with or without its segmentation head."""

    def __init__(self, model: bytes, segmentation: bool, threads: int = 1) -> None:
        network = TFLiteNetwork(model, threads)
        self.size = network.input_size
        self.roles = landmark_roles(network.output_shapes, self.size)
        self.segmentation = segmentation
        if not segmentation:
            # Without surgery (logged once) the full network gives the same landmarks, slower.
            with contextlib.suppress(SurgeryUnavailableError):
                network = TFLiteNetwork(without_outputs(model, {self.roles["mask"]}), threads)
        self._network = network

    def estimate(self, rgb: np.ndarray, roi: Roi, min_presence: float) -> PersonEstimate | None:
        """The person in `roi`, or None when the model's presence score is below `min_presence`."""
        if not roi.side >= MIN_ROI_SIDE:  # also catches NaN from a degenerate detection
            return None
        size = self.size
        crop = cv2.warpAffine(
            rgb,
            roi.crop_matrix(size),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        tensor = crop.astype(np.float32) * np.float32(1.0 / 255.0)
        roles = ("landmarks", "presence", "heatmap", "world") + (("mask",) if self.segmentation else ())
        outputs = self._network.run(tensor[None], tuple(self.roles[role] for role in roles))
        raw, flag, heatmap, world = outputs[:4]
        presence = float(flag.ravel()[0])
        if presence < min_presence:
            return None
        points = raw.reshape(NUM_MODEL_LANDMARKS, 5).astype(np.float64)
        unit = refine_with_heatmap(points[:, :2] / size, heatmap[0])
        to_image = roi.to_image()
        landmarks = np.empty((NUM_MODEL_LANDMARKS, 5), dtype=np.float64)
        landmarks[:, :2] = unit @ to_image[:, :2].T + to_image[:, 2]
        landmarks[:, 2] = points[:, 2] / size * (roi.side / rgb.shape[1])
        landmarks[:, 3] = sigmoid(points[:, 3])
        landmarks[:, 4] = sigmoid(points[:, 4])
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        w = world.reshape(NUM_MODEL_LANDMARKS, 3)[:NUM_LANDMARKS].astype(np.float64)
        world_rotated = np.column_stack([c * w[:, 0] - s * w[:, 1], s * w[:, 0] + c * w[:, 1], w[:, 2]])
        mask = None
        if self.segmentation:
            mask = _project_mask(outputs[4][0, :, :, 0], roi, rgb.shape[1], rgb.shape[0])
        return PersonEstimate(landmarks, world_rotated, presence, roi, mask)


def refine_with_heatmap(unit: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmap: each landmark moves to the confidence-weighted
    centre of the 7x7 heatmap cells around it, when the most confident cell reaches 0.5."""
    rows_n, cols_n, channels = heatmap.shape
    half = (_HEATMAP_KERNEL - 1) // 2
    centre_col = (unit[:channels, 0] * cols_n).astype(np.int64)
    centre_row = (unit[:channels, 1] * rows_n).astype(np.int64)
    inside = (centre_col >= 0) & (centre_col < cols_n) & (centre_row >= 0) & (centre_row < rows_n)
    steps = np.arange(-half, half + 1)
    rows = centre_row[:, None] + steps  # (39, 7)
    cols = centre_col[:, None] + steps
    valid = ((rows >= 0) & (rows < rows_n))[:, :, None] & ((cols >= 0) & (cols < cols_n))[:, None, :]
    channel = np.arange(channels)[:, None, None]
    row_index, col_index = np.clip(rows, 0, rows_n - 1), np.clip(cols, 0, cols_n - 1)
    values = heatmap[row_index[:, :, None], col_index[:, None, :], channel]
    confidence = np.where(valid, sigmoid(values.astype(np.float64)), 0.0)
    total = confidence.sum(axis=(1, 2))
    refine = inside & (confidence.max(axis=(1, 2)) >= _HEATMAP_MIN_CONFIDENCE) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    col_mean = (confidence * cols[:, None, :]).sum(axis=(1, 2)) / safe
    row_mean = (confidence * rows[:, :, None]).sum(axis=(1, 2)) / safe
    out = unit.copy()
    out[:channels][refine, 0] = col_mean[refine] / cols_n
    out[:channels][refine, 1] = row_mean[refine] / rows_n
    return out


def _project_mask(logits: np.ndarray, roi: Roi, width: int, height: int) -> np.ndarray:
    """The ROI's segmentation (sigmoid of the logits) warped back onto the whole image."""
    size = logits.shape[0]
    to_image = roi.to_image()
    to_image[:, :2] /= size
    return cv2.warpAffine(
        sigmoid(logits).astype(np.float32),
        to_image,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
