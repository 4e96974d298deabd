"""Plausibility checks that flag suspicious poses instead of silently dropping them.

Flags (strings in `PoseFrame.flags`, written to every export):
  ``bone_jump``        a limb bone's 3D length differs from the track's running median by
                       more than `max_bone_change` (a mis-fit, or two people mixed up);
  ``left_right_swap``  the left/right joints fit the track's previous pose better swapped;
  ``low_visibility``   mean landmark visibility under `min_mean_visibility`;
  ``too_small``        the person's box is shorter than `min_height_fraction` of the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

from localpose.errors import InvalidOptionError
from localpose.result import PoseFrame
from localpose.schema import Skeleton

__all__ = [
    "BONE_JUMP",
    "LEFT_RIGHT_SWAP",
    "LOW_VISIBILITY",
    "TOO_SMALL",
    "PoseValidator",
    "ValidationOptions",
]

BONE_JUMP = "bone_jump"
LEFT_RIGHT_SWAP = "left_right_swap"
LOW_VISIBILITY = "low_visibility"
TOO_SMALL = "too_small"

_LIMBS = (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
_SWAP_JOINTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


@cache
def _joints(layout: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Limb bone starts and ends, left and right joints, as indices into this skeleton."""
    bones = [
        (layout.index(f"{side}_{a}"), layout.index(f"{side}_{b}"))
        for side in ("left", "right")
        for a, b in _LIMBS
    ]
    left = [layout.index(f"left_{j}") for j in _SWAP_JOINTS]
    right = [layout.index(f"right_{j}") for j in _SWAP_JOINTS]
    return np.array([a for a, _ in bones]), np.array([b for _, b in bones]), np.array(left), np.array(right)


@dataclass(frozen=True)
class ValidationOptions:
    """Thresholds of the plausibility flags."""

    max_bone_change: float = 0.35
    """Relative change of a limb bone's length against the track's median that flags a jump."""
    history: int = 30
    """Frames of a track's bone lengths kept for the running median."""
    swap_ratio: float = 0.5
    """Flag a swap when the swapped fit's error is below this fraction of the direct fit's."""
    min_mean_visibility: float = 0.5
    min_height_fraction: float = 0.05
    min_bone_visibility: float = 0.5

    def __post_init__(self) -> None:
        for name in ("swap_ratio", "min_mean_visibility", "min_height_fraction", "min_bone_visibility"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidOptionError(f"{name} must be between 0 and 1")
        if self.max_bone_change <= 0 or self.history < 1:
            raise InvalidOptionError("max_bone_change and history must be positive")


def _bone_lengths(world: np.ndarray, visibility: np.ndarray, min_vis: float, layout: Skeleton) -> np.ndarray:
    """(bones,) 3D lengths in metres; NaN where an end is not visible."""
    a, b, _left, _right = _joints(layout)
    length = np.linalg.norm(world[a] - world[b], axis=-1)
    seen = (visibility[a] >= min_vis) & (visibility[b] >= min_vis)
    return np.where(seen, length, np.nan)


def _column_median(values: np.ndarray) -> np.ndarray:
    """Median of each column ignoring NaN (NaN where a column has no value); faster than nanmedian."""
    ordered = np.sort(values, axis=0)  # NaN sort last
    count = np.sum(~np.isnan(values), axis=0)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[None], axis=0)[0]
    return np.where(count > 0, (low + high) / 2, np.nan)


@dataclass
class PoseValidator:
    """Adds plausibility flags to tracked frames fed in order (works live and offline)."""

    options: ValidationOptions = field(default_factory=ValidationOptions)
    _bones: dict[int, list[np.ndarray]] = field(default_factory=dict)
    _previous_xy: dict[int, np.ndarray] = field(default_factory=dict)

    def update(self, frame: PoseFrame) -> PoseFrame:
        """The frame with each person's flags extended by the checks that fail."""
        flags = [list(f) for f in frame.flags]
        boxes = frame.boxes
        for i in range(len(frame)):
            flags[i].extend(self._check(frame, i, boxes[i]))
        return frame.with_flags(flags)

    def _check(self, frame: PoseFrame, i: int, box: np.ndarray) -> list[str]:
        o = self.options
        found = []
        if float(np.mean(frame.visibility[i])) < o.min_mean_visibility:
            found.append(LOW_VISIBILITY)
        if (box[3] - box[1]) < o.min_height_fraction * frame.height:
            found.append(TOO_SMALL)
        track = int(frame.track_id[i])
        if track < 0:
            return found
        history = self._bones.setdefault(track, [])
        # bone lengths need world landmarks: a 2D model's poses are not checked for bone jumps
        lengths = _bone_lengths(frame.world[i], frame.visibility[i], o.min_bone_visibility, frame.layout)
        if frame.has_world and len(history) >= 3:
            median = _column_median(np.stack(history))
            with np.errstate(invalid="ignore", divide="ignore"):
                change = np.abs(lengths - median) / median
            if np.any(change > o.max_bone_change):
                found.append(BONE_JUMP)
        if BONE_JUMP not in found and frame.has_world:
            history.append(lengths)
            del history[: -o.history]
        previous = self._previous_xy.get(track)
        scale = max(box[2] - box[0], box[3] - box[1])
        if previous is not None and self._is_swap(frame.xy[i], previous, scale, frame.layout):
            found.append(LEFT_RIGHT_SWAP)  # keep the unswapped reference for the next frame
        else:
            self._previous_xy[track] = frame.xy[i].copy()
        return found

    def _is_swap(self, xy: np.ndarray, previous: np.ndarray, scale: float, layout: Skeleton) -> bool:
        """Left and right fit the previous pose much better crossed (and the sides are apart)."""
        _starts, _ends, left, right = _joints(layout)
        direct = np.sum(np.linalg.norm(xy[left] - previous[left], axis=-1)) + np.sum(
            np.linalg.norm(xy[right] - previous[right], axis=-1)
        )
        crossed = np.sum(np.linalg.norm(xy[left] - previous[right], axis=-1)) + np.sum(
            np.linalg.norm(xy[right] - previous[left], axis=-1)
        )
        meaningful = direct > 0.05 * scale * 2 * len(_SWAP_JOINTS)  # 5% of the body size per joint
        return bool(meaningful and crossed < self.options.swap_ratio * direct)
