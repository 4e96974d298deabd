"""Rotated square regions of an image: where BlazePose's landmark network looks at a person."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from localpose.metrics import box_iou

__all__ = ["MIN_ROI_SIDE", "ROI_SCALE", "Roi"]

ROI_SCALE = 1.25
"""MediaPipe's RectTransformation for pose: the region is 1.25x the alignment points' span."""
MIN_ROI_SIDE = 4.0
"""Pixels: smaller regions hold no person the landmark network could see."""


@dataclass(frozen=True)
class Roi:
    """A rotated square region of the image, in pixels: centre, side and angle (radians)."""

    cx: float
    cy: float
    side: float
    rotation: float

    @classmethod
    def from_alignment_points(cls, centre: np.ndarray, scale_point: np.ndarray) -> Roi:
        """MediaPipe's AlignmentPointsRects + RectTransformation(1.25, square) for pose, in pixels."""
        dx, dy = float(scale_point[0] - centre[0]), float(scale_point[1] - centre[1])
        rotation = math.pi / 2 - math.atan2(-dy, dx)
        rotation -= 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
        side = 2.0 * math.hypot(dx, dy) * ROI_SCALE
        return cls(float(centre[0]), float(centre[1]), side, rotation)

    def to_image(self) -> np.ndarray:
        """2x3 affine map from unit ROI coordinates ([0, 1] across the square) to image pixels."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        a = np.array([[c, -s], [s, c]]) * self.side
        offset = np.array([self.cx, self.cy]) - a @ np.array([0.5, 0.5])
        return np.hstack([a, offset[:, None]])

    def crop_matrix(self, size: int) -> np.ndarray:
        """2x3 affine map from image pixels to the pixels of a `size` x `size` crop of this ROI."""
        to_image = self.to_image()
        to_image[:, :2] /= size
        return cv2.invertAffineTransform(to_image)

    def iou(self, other: Roi) -> float:
        """Overlap of the two ROIs' axis-aligned boxes (rotation ignored, as MediaPipe's association does)."""
        return float(box_iou(np.array([self._box()]), np.array([other._box()]))[0, 0])

    def same_place(self, other: Roi, min_iou: float) -> bool:
        """Whether both ROIs frame the same person: boxes overlap by `min_iou`, or same centre."""
        return self.same_centre(other) or self.iou(other) >= min_iou

    def same_centre(self, other: Roi) -> bool:
        """Whether the centres (the hips) are closer than a tenth of the larger side."""
        return math.hypot(self.cx - other.cx, self.cy - other.cy) < 0.1 * max(self.side, other.side)

    def _box(self) -> tuple[float, float, float, float]:
        half = self.side / 2
        return self.cx - half, self.cy - half, self.cx + half, self.cy + half
