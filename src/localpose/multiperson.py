"""Finding several people in one image with a landmarker that prefers one, from outside it.

MediaPipe's pose detector sees the whole image at 224x224 and the landmarker follows its
most confident detections, so one plain pass finds the most prominent person and misses
the others (on the shared COCO photos: 4 of 12 people). The LiteRT runtime drives the
detector itself and searches better and faster (`localpose.engine.litert`, see
docs/multiperson.md); MediaPipe Tasks is closed, so for it `search_people` looks again
through the landmarker alone:

  1. one pass over the whole image;
  2. the people found are painted out (their segmentation masks filled with grey) and
     the whole image is searched again, which finds people the first person overshadowed
     (overlapping skiers, a catcher behind a batter);
  3. four overlapping quarter tiles (each 60% of the width and height, so the detector
     sees people about 1.7x larger), each with everyone found so far painted out, find
     the small and distant people;
  4. de-duplication: two people whose keypoint similarity (OKS over the 33 landmarks,
     `localpose.metrics.pairwise_oks`, either way round) is at least `DUPLICATE_OKS` are
     one person; the higher-scored one is kept.

Poses found in a tile are mapped back to full-image pixels (z rescaled with the width;
world landmarks are scale-free and unchanged). Segmentation masks are returned only when
the caller asked for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from localpose.metrics import DUPLICATE_OKS, keep_distinct_people, pairwise_oks
from localpose.result import PoseFrame

__all__ = ["DUPLICATE_OKS", "TILE_FRACTION", "drop_duplicate_people", "search_people", "tiles"]

TILE_FRACTION = 0.6
"""Side of each of the four overlapping tiles, as a fraction of the image side."""
_MASK_THRESHOLD = 0.5
_PAINT = 127


def _covered(frames: list[PoseFrame], size: tuple[int, int]) -> np.ndarray:
    """Pixels belonging to the people found so far (by their segmentation masks)."""
    width, height = size
    covered = np.zeros((height, width), dtype=bool)
    for frame in frames:
        if frame.masks is not None:
            for mask in frame.masks:
                covered |= mask >= _MASK_THRESHOLD
    return covered


def _in_full_image(found: PoseFrame, x0: int, y0: int, size: tuple[int, int]) -> PoseFrame:
    """People found in a tile at (x0, y0), in the coordinates of the full image."""
    width, height = size
    masks = None
    if found.masks is not None:
        masks = np.zeros((len(found), height, width), dtype=np.float32)
        th, tw = found.masks.shape[1:]
        masks[:, y0 : y0 + th, x0 : x0 + tw] = found.masks
    return PoseFrame(
        image_size=size,
        xy=found.xy + np.array([x0, y0], dtype=found.xy.dtype),
        z=found.z * (found.width / width),
        visibility=found.visibility,
        presence=found.presence,
        world=found.world,
        score=found.score,
        masks=masks,
    )


def tiles(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The four overlapping corner tiles (x0, y0, x1, y1) of an image, each `TILE_FRACTION` of its sides."""
    width, height = size
    w, h = round(width * TILE_FRACTION), round(height * TILE_FRACTION)
    return [(x, y, x + w, y + h) for y in (0, height - h) for x in (0, width - w)]


def drop_duplicate_people(frame: PoseFrame, threshold: float = DUPLICATE_OKS) -> PoseFrame:
    """The frame without people whose OKS with a higher-scored person reaches `threshold`."""
    if len(frame) < 2:
        return frame
    return keep_distinct_people(frame, pairwise_oks(frame, frame), threshold)


def search_people(
    landmark: Callable[[np.ndarray], PoseFrame], rgb: np.ndarray, num_poses: int, keep_masks: bool = False
) -> PoseFrame:
    """Up to `num_poses` people in an RGB image; `landmark` runs the landmarker once and must
    return segmentation masks.

    The best-scored people are kept when more are found than asked for.
    """
    height, width = rgb.shape[:2]
    size = (width, height)
    found = [landmark(rgb)]
    if len(found[0]):
        painted = rgb.copy()
        painted[_covered(found, size)] = _PAINT
        found.append(landmark(painted))
    for x0, y0, x1, y1 in tiles(size):
        if sum(len(f) for f in found) >= num_poses:
            break
        covered = _covered(found, size)[y0:y1, x0:x1]
        tile = rgb[y0:y1, x0:x1].copy()
        tile[covered] = _PAINT
        extra = landmark(tile)
        if len(extra):
            found.append(_in_full_image(extra, x0, y0, size))
    people = [f for f in found if len(f)]
    if not people:
        return PoseFrame.empty(size)
    merged = drop_duplicate_people(PoseFrame.concatenate(people))
    best = np.sort(np.argsort(-merged.score, kind="stable")[:num_poses])
    merged = merged[best]
    return merged if keep_masks else merged.replace(masks=None)


class PaintingSearch:
    """A closed landmarker (MediaPipe Tasks) made to look for everyone: `search_people` around
    its single pass, which must return segmentation masks."""

    def __init__(self, engine: Any, num_poses: int, keep_masks: bool) -> None:
        self._engine = engine
        self.mode = engine.mode
        self._num_poses, self._keep_masks = num_poses, keep_masks

    @property
    def threads(self) -> int:
        return self._engine.threads

    @threads.setter
    def threads(self, count: int) -> None:
        self._engine.threads = count

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> PoseFrame:
        return search_people(self._engine.process, rgb, self._num_poses, self._keep_masks)

    def close(self) -> None:
        self._engine.close()
