"""Drawing poses on images: small annotators you chain, each `annotate(image, frame) -> image`.

The default look is the seed system's: red joints and white bones on the original image,
line widths that scale with the image, a distinct colour per person when there are
several, and landmarks below a visibility threshold hidden (with their bones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from localpose.result import PoseFrame
from localpose.schema import LANDMARK_NAMES, SKELETON_EDGES

__all__ = [
    "PERSON_COLORS",
    "DrawStyle",
    "LabelAnnotator",
    "MaskAnnotator",
    "SkeletonAnnotator",
    "draw_poses",
    "person_color",
]

Color = tuple[int, int, int]

RED: Color = (255, 0, 0)
WHITE: Color = (255, 255, 255)

PERSON_COLORS: tuple[Color, ...] = (
    (0, 200, 255),
    (255, 200, 0),
    (80, 220, 80),
    (255, 80, 200),
    (160, 120, 255),
    (255, 140, 40),
    (40, 255, 200),
    (200, 255, 60),
    (255, 255, 140),
    (120, 200, 255),
)
"""RGB colours for people when a frame holds several (indexed by track id, else order)."""


def person_color(frame: PoseFrame, index: int) -> Color:
    """The colour of a person: by track id when tracked, else by position in the frame."""
    key = int(frame.track_id[index])
    return PERSON_COLORS[(key if key >= 0 else index) % len(PERSON_COLORS)]


@dataclass(frozen=True)
class DrawStyle:
    """How poses look. Colours are RGB; sizes of 0 scale with the image."""

    joint_color: Color = RED
    bone_color: Color = WHITE
    color_per_person: bool = True
    """With several people (or any tracked person), bones take the person's colour."""
    min_visibility: float = 0.5
    """Landmarks below this visibility are hidden, and so are their bones."""
    thickness: int = 0
    radius: int = 0

    def sizes(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(line thickness, joint radius) in pixels for an image of this size."""
        scale = max(image_size) / 640.0
        thickness = self.thickness or max(1, round(2 * scale))
        radius = self.radius or max(2, round(3 * scale))
        return thickness, radius


def _check_image(image: np.ndarray, frame: PoseFrame) -> None:
    height, width = image.shape[:2]
    if (width, height) != frame.image_size:
        raise ValueError(
            f"image is {width}x{height} but the poses were found in a "
            f"{frame.image_size[0]}x{frame.image_size[1]} image"
        )


class SkeletonAnnotator:
    """Bones as lines and joints as filled circles."""

    def __init__(self, style: DrawStyle | None = None) -> None:
        self.style = style or DrawStyle()

    def annotate(self, image: np.ndarray, frame: PoseFrame, in_place: bool = False) -> np.ndarray:
        """Draw on `image` (H, W, 3 uint8, same channel order as the colours), or on a copy."""
        _check_image(image, frame)
        out = image if in_place else image.copy()
        style = self.style
        thickness, radius = style.sizes(frame.image_size)
        many = len(frame) > 1 or bool((frame.track_id >= 0).any())
        for i in range(len(frame)):
            shown = frame.visibility[i] >= style.min_visibility
            points = np.round(frame.xy[i]).astype(np.int32)
            bone = person_color(frame, i) if style.color_per_person and many else style.bone_color
            for a, b in SKELETON_EDGES:
                if shown[a] and shown[b]:
                    cv2.line(out, tuple(points[a]), tuple(points[b]), bone, thickness, cv2.LINE_AA)
            for k in np.flatnonzero(shown):
                cv2.circle(out, tuple(points[k]), radius, style.joint_color, -1, cv2.LINE_AA)
        return out


class LabelAnnotator:
    """Text above each person: the track id (and score), or landmark names if asked."""

    def __init__(
        self,
        style: DrawStyle | None = None,
        show_score: bool = False,
        landmark_names: bool = False,
    ) -> None:
        self.style = style or DrawStyle()
        self.show_score = show_score
        self.landmark_names = landmark_names

    def annotate(self, image: np.ndarray, frame: PoseFrame, in_place: bool = False) -> np.ndarray:
        _check_image(image, frame)
        out = image if in_place else image.copy()
        thickness, _radius = self.style.sizes(frame.image_size)
        font_scale = 0.45 * thickness
        for i in range(len(frame)):
            color = person_color(frame, i)
            text = self._person_text(frame, i)
            if text:
                x1, y1, _x2, _y2 = frame.boxes[i]
                origin = (int(x1), max(int(y1) - 4 * thickness, 12 * thickness))
                _put_text(out, text, origin, font_scale, color, thickness)
            if self.landmark_names:
                shown = frame.visibility[i] >= self.style.min_visibility
                for k in np.flatnonzero(shown):
                    x, y = frame.xy[i, k]
                    _put_text(out, LANDMARK_NAMES[k], (int(x) + 4, int(y) - 4), font_scale / 2, color, 1)
        return out

    def _person_text(self, frame: PoseFrame, i: int) -> str:
        parts = []
        if frame.track_id[i] >= 0:
            parts.append(f"#{int(frame.track_id[i])}")
        if self.show_score:
            parts.append(f"{float(frame.score[i]):.2f}")
        return " ".join(parts)


def _put_text(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    scale: float,
    color: Color,
    thickness: int,
) -> None:
    """Text with a dark outline so it reads on any background."""
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)


class MaskAnnotator:
    """Tints each person's segmentation mask (needs estimation with segmentation on)."""

    def __init__(self, opacity: float = 0.4, threshold: float = 0.5) -> None:
        self.opacity = opacity
        self.threshold = threshold

    def annotate(self, image: np.ndarray, frame: PoseFrame, in_place: bool = False) -> np.ndarray:
        _check_image(image, frame)
        out = image.astype(np.float32)
        if frame.masks is not None:
            for i, mask in enumerate(frame.masks):
                tint = np.asarray(person_color(frame, i), dtype=np.float32)
                alpha = (mask >= self.threshold)[:, :, None] * self.opacity
                out = out * (1 - alpha) + tint * alpha
        return out.round().astype(np.uint8)


def draw_poses(
    image: np.ndarray,
    frame: PoseFrame,
    style: DrawStyle | None = None,
    labels: bool = True,
    annotators: Sequence[SkeletonAnnotator | LabelAnnotator | MaskAnnotator] | None = None,
    in_place: bool = False,
) -> np.ndarray:
    """The default overlay: skeletons, plus track-id labels when people are tracked.

    `in_place` draws on `image` itself (saves copying frames the caller owns, e.g. in video).
    """
    chain = annotators or [SkeletonAnnotator(style)] + ([LabelAnnotator(style)] if labels else [])
    for k, annotator in enumerate(chain):
        image = annotator.annotate(image, frame, in_place=in_place or k > 0)
    return image
