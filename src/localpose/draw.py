"""Drawing poses on images: small annotators you chain, each `annotate(image, frame) -> image`.

The default look is the seed system's: red joints and white bones on the original image,
line widths that scale with the image, a distinct colour per person when there are
several, and landmarks below a visibility threshold hidden (with their bones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from localpose.result import PoseFrame

__all__ = [
    "PERSON_COLORS",
    "DrawStyle",
    "LabelAnnotator",
    "MaskAnnotator",
    "SkeletonAnnotator",
    "draw_poses",
    "draw_poses_i420",
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
            for a, b in frame.layout.edges:
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
                    _put_text(out, frame.layout.names[k], (int(x) + 4, int(y) - 4), font_scale / 2, color, 1)
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


def _drawn_region(frame: PoseFrame, thickness: int, radius: int, labels: bool) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) with even corners, inside the image, holding everything `draw_poses` draws."""
    width, height = frame.image_size
    pad = radius + thickness + 2
    xy = frame.xy[np.isfinite(frame.xy).all(axis=-1)]
    x0, y0 = np.floor(xy.min(axis=0)) - pad
    x1, y1 = np.ceil(xy.max(axis=0)) + pad
    if labels:  # track ids are written above the box, left-aligned, a few characters wide
        y0 -= 24 * thickness
        x1 = max(x1, xy[:, 0].min() + 40 * thickness)
    x0, y0 = max(0, int(x0) // 2 * 2), max(0, int(y0) // 2 * 2)
    x1, y1 = min(width, int(x1) + int(x1) % 2), min(height, int(y1) + int(y1) % 2)
    return x0, y0, x1, y1


def draw_poses_i420(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    frame: PoseFrame,
    style: DrawStyle | None = None,
    labels: bool = True,
) -> None:
    """`draw_poses` straight onto the Y, U, V planes of a 4:2:0 video frame (even sides), in place.

    Only the rectangle the people cover goes through RGB and back (BT.601, as video encoders
    expect), so drawing on a decoded frame costs a fraction of converting the whole frame.
    """
    y_plane, u_plane, v_plane = planes
    if (y_plane.shape[1], y_plane.shape[0]) != frame.image_size:
        raise ValueError(f"planes are {y_plane.shape[1]}x{y_plane.shape[0]}, poses {frame.image_size}")
    if len(frame) == 0:
        return
    style = style or DrawStyle()
    thickness, radius = style.sizes(frame.image_size)
    x0, y0, x1, y1 = _drawn_region(frame, thickness, radius, labels)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    w, h = x1 - x0, y1 - y0
    region = (
        y_plane[y0:y1, x0:x1],
        u_plane[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
        v_plane[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
    )
    patch = np.empty((h * 3 // 2, w), dtype=np.uint8)
    for part, pixels in zip(_i420_planes(patch), region, strict=True):
        part[...] = pixels
    rgb = cv2.cvtColor(patch, cv2.COLOR_YUV2RGB_I420)
    shifted = frame.replace(image_size=(w, h), xy=frame.xy - np.array([x0, y0], dtype=np.float32))
    draw_poses(rgb, shifted, replace(style, thickness=thickness, radius=radius), labels, in_place=True)
    for pixels, part in zip(region, _i420_planes(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)), strict=True):
        pixels[...] = part


def _i420_planes(i420: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y, U, V) views of one (H * 3/2, W) I420 buffer, as OpenCV's I420 conversions lay it out."""
    width, height = i420.shape[1], i420.shape[0] * 2 // 3
    flat = i420.reshape(-1)
    luma, chroma = width * height, (width // 2) * (height // 2)
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma :].reshape(height // 2, width // 2),
    )
