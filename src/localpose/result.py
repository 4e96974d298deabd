"""`PoseFrame`: the one result type that flows through localpose.

A frame holds n people; every per-person quantity is an array whose first axis is the
person. Estimation produces it, and tracking, smoothing, validation, drawing, export and
analysis take it and return it (or read it). Index it like an array to select people.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from localpose.schema import DEFAULT_SKELETON, Skeleton
from localpose.schema import skeleton as skeleton_named

__all__ = ["Landmark", "Person", "PoseFrame", "WorldLandmark"]

NO_TRACK = -1


class Landmark(NamedTuple):
    """One image landmark: pixels, MediaPipe's relative depth, and its confidences."""

    name: str
    x: float
    y: float
    z: float
    visibility: float
    presence: float
    x_norm: float
    y_norm: float

    def __repr__(self) -> str:  # rounded: pixels to 0.01, the rest to what they mean
        return (
            f"Landmark(name={self.name!r}, x={self.x:.2f}, y={self.y:.2f}, z={self.z:.4f}, "
            f"visibility={self.visibility:.3f}, presence={self.presence:.3f}, "
            f"x_norm={self.x_norm:.4f}, y_norm={self.y_norm:.4f})"
        )


class WorldLandmark(NamedTuple):
    """One world landmark in metres, origin at the centre of the hips."""

    name: str
    x: float
    y: float
    z: float

    def __repr__(self) -> str:  # rounded to the millimetre
        return f"WorldLandmark(name={self.name!r}, x={self.x:.3f}, y={self.y:.3f}, z={self.z:.3f})"


def _as_array(name: str, value: object, dtype: type, shape: tuple[int | None, ...]) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    expected = tuple("n" if s is None else s for s in shape)
    if array.ndim != len(shape) or any(
        s is not None and s != a for s, a in zip(shape, array.shape, strict=True)
    ):
        raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    return array


@dataclass(frozen=True, eq=False)
class PoseFrame:
    """Poses of n people in one image or video frame.

    `skeleton` names the keypoint layout (`localpose.schema.SKELETONS`): ``blazepose33`` (the
    default: BlazePose's 33 landmarks in `LANDMARK_NAMES` order, with world landmarks) or
    ``coco17`` (COCO's 17 keypoints from a 2D model such as MoveNet). With k keypoints:
      xy (n, k, 2) pixels, origin top-left; z (n, k) MediaPipe relative depth (scale of
      normalised x, smaller is nearer; zeros for a 2D model); visibility, presence (n, k) in
      [0, 1] (a 2D model's keypoint score); world (n, k, 3) metres, hip-centred (zeros for a
      2D model: `has_world` is False); score (n,); track_id (n,), -1 when untracked;
      masks (n, H, W) float in [0, 1] or None; flags: n tuples of validation flags.
    `people_seen`: distinct people the engine found in the image before keeping the best
    `num_poses` (None when it did not count them); more than n means some were left out.
    """

    image_size: tuple[int, int]
    xy: np.ndarray
    z: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world: np.ndarray
    score: np.ndarray
    track_id: np.ndarray | None = None
    timestamp_ms: float = 0.0
    masks: np.ndarray | None = None
    flags: tuple[tuple[str, ...], ...] | None = None
    skeleton: str = DEFAULT_SKELETON
    people_seen: int | None = None

    def __post_init__(self) -> None:
        width, height = (int(v) for v in self.image_size)
        if width <= 0 or height <= 0:
            raise ValueError(f"image_size must be positive (width, height), got {self.image_size}")
        k = len(skeleton_named(self.skeleton))
        xy = _as_array("xy", self.xy, np.float32, (None, k, 2))
        n = xy.shape[0]
        fields = {
            "image_size": (width, height),
            "xy": xy,
            "z": _as_array("z", self.z, np.float32, (n, k)),
            "visibility": _as_array("visibility", self.visibility, np.float32, (n, k)),
            "presence": _as_array("presence", self.presence, np.float32, (n, k)),
            "world": _as_array("world", self.world, np.float32, (n, k, 3)),
            "score": _as_array("score", self.score, np.float32, (n,)),
            "track_id": _as_array(
                "track_id",
                np.full(n, NO_TRACK) if self.track_id is None else self.track_id,
                np.int64,
                (n,),
            ),
            "timestamp_ms": float(self.timestamp_ms),
            "flags": tuple(() for _ in range(n))
            if self.flags is None
            else tuple(tuple(f) for f in self.flags),
        }
        if len(fields["flags"]) != n:
            raise ValueError(f"flags must have one entry per person ({n}), got {len(self.flags)}")
        if self.masks is not None:
            fields["masks"] = _as_array("masks", self.masks, np.float32, (n, height, width))
        for key, value in fields.items():
            object.__setattr__(self, key, value)

    @classmethod
    def empty(
        cls, image_size: tuple[int, int], timestamp_ms: float = 0.0, skeleton: str = DEFAULT_SKELETON
    ) -> PoseFrame:
        """A frame with no people."""
        k = len(skeleton_named(skeleton))
        return cls(
            image_size=image_size,
            xy=np.zeros((0, k, 2)),
            z=np.zeros((0, k)),
            visibility=np.zeros((0, k)),
            presence=np.zeros((0, k)),
            world=np.zeros((0, k, 3)),
            score=np.zeros(0),
            timestamp_ms=timestamp_ms,
            skeleton=skeleton,
        )

    @classmethod
    def concatenate(cls, frames: Sequence[PoseFrame]) -> PoseFrame:
        """People of several frames of the same image in one frame (masks kept only if all have them)."""
        if not frames:
            raise ValueError("concatenate needs at least one frame")
        first = frames[0]
        if any(f.image_size != first.image_size for f in frames):
            raise ValueError("cannot concatenate frames of different image sizes")
        if any(f.skeleton != first.skeleton for f in frames):
            raise ValueError("cannot concatenate frames of different skeletons")
        with_masks = all(f.masks is not None for f in frames)
        return cls(
            image_size=first.image_size,
            xy=np.concatenate([f.xy for f in frames]),
            z=np.concatenate([f.z for f in frames]),
            visibility=np.concatenate([f.visibility for f in frames]),
            presence=np.concatenate([f.presence for f in frames]),
            world=np.concatenate([f.world for f in frames]),
            score=np.concatenate([f.score for f in frames]),
            track_id=np.concatenate([f.track_id for f in frames]),
            timestamp_ms=first.timestamp_ms,
            masks=np.concatenate([f.masks for f in frames]) if with_masks else None,
            flags=tuple(flag for f in frames for flag in f.flags),
            skeleton=first.skeleton,
        )

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> PoseFrame:
        """The people selected by an int, slice, index list or boolean mask, as a new frame."""
        if isinstance(index, (int, np.integer)):
            if not -len(self) <= index < len(self):
                raise IndexError(f"person {index} out of range for {len(self)} people")
            index = [int(index)]
        picked = np.arange(len(self))[index]
        return dataclasses.replace(
            self,
            xy=self.xy[picked],
            z=self.z[picked],
            visibility=self.visibility[picked],
            presence=self.presence[picked],
            world=self.world[picked],
            score=self.score[picked],
            track_id=self.track_id[picked],
            masks=None if self.masks is None else self.masks[picked],
            flags=tuple(self.flags[i] for i in picked),
        )

    def __iter__(self) -> Iterator[Person]:
        return iter(self.people)

    def __repr__(self) -> str:
        return (
            f"PoseFrame(people={len(self)}, image_size={self.image_size}, "
            f"timestamp_ms={self.timestamp_ms:g}, track_id={self.track_id.tolist()})"
        )

    def replace(self, **changes: object) -> PoseFrame:
        """A copy with some fields changed (shapes are checked again)."""
        return dataclasses.replace(self, **changes)

    def with_flags(self, flags: Sequence[Sequence[str]]) -> PoseFrame:
        """A copy with each person's flags extended by the given ones (duplicates dropped)."""
        merged = tuple(tuple(dict.fromkeys((*old, *new))) for old, new in zip(self.flags, flags, strict=True))
        return self.replace(flags=merged)

    @property
    def people(self) -> list[Person]:
        """One view per person, for named access to landmarks."""
        return [Person(self, i) for i in range(len(self))]

    @property
    def layout(self) -> Skeleton:
        """The `Skeleton` this frame holds: keypoint names, bones, OKS sigmas, whether 3D."""
        return skeleton_named(self.skeleton)

    @property
    def has_world(self) -> bool:
        """Whether `world` holds world landmarks (metres); False for a 2D model's keypoints."""
        return self.layout.world

    @property
    def width(self) -> int:
        return self.image_size[0]

    @property
    def height(self) -> int:
        return self.image_size[1]

    @property
    def xy_norm(self) -> np.ndarray:
        """(n, 33, 2) coordinates divided by image width and height."""
        return self.xy / np.asarray(self.image_size, dtype=np.float32)

    @property
    def boxes(self) -> np.ndarray:
        """(n, 4) x1, y1, x2, y2 pixel boxes around the landmarks, clipped to the image."""
        if len(self) == 0:
            return np.zeros((0, 4), dtype=np.float32)
        limit = np.asarray(self.image_size, dtype=np.float32) - 1
        clipped = np.clip(self.xy, 0, limit)
        return np.concatenate([clipped.min(axis=1), clipped.max(axis=1)], axis=1)


@dataclass(frozen=True)
class Person:
    """A view of one person in a `PoseFrame`, for named access."""

    frame: PoseFrame
    index: int

    @property
    def track_id(self) -> int:
        return int(self.frame.track_id[self.index])

    @property
    def score(self) -> float:
        return float(self.frame.score[self.index])

    @property
    def box(self) -> tuple[float, float, float, float]:
        """x1, y1, x2, y2 in pixels."""
        x1, y1, x2, y2 = (float(v) for v in self.frame.boxes[self.index])
        return x1, y1, x2, y2

    @property
    def flags(self) -> tuple[str, ...]:
        return self.frame.flags[self.index]

    def landmark(self, name: str) -> Landmark:
        """An image landmark by name, e.g. ``person.landmark("left_knee")``."""
        return self.landmarks[self.frame.layout.index(name)]

    @property
    def landmarks(self) -> list[Landmark]:
        f, i = self.frame, self.index
        norm = f.xy_norm[i]
        return [
            Landmark(
                name,
                float(f.xy[i, k, 0]),
                float(f.xy[i, k, 1]),
                float(f.z[i, k]),
                float(f.visibility[i, k]),
                float(f.presence[i, k]),
                float(norm[k, 0]),
                float(norm[k, 1]),
            )
            for k, name in enumerate(f.layout.names)
        ]

    @property
    def world_landmarks(self) -> list[WorldLandmark]:
        if not self.frame.has_world:
            raise ValueError(f"a {self.frame.skeleton} pose has no world landmarks (a 2D model)")
        w = self.frame.world[self.index]
        return [
            WorldLandmark(name, float(w[k, 0]), float(w[k, 1]), float(w[k, 2]))
            for k, name in enumerate(self.frame.layout.names)
        ]
