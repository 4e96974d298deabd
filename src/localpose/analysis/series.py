"""One person's poses over time, as arrays: what the analysis tools read from a video.

`PersonSeries.from_frames` picks one person out of a sequence of `PoseFrame`s (a track
when the frames are tracked, else the best-scored person in each frame) and stacks their
landmarks. Frames where that person is absent stay in the series with ``present`` False
and NaN coordinates, so indices and timestamps keep matching the video.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from localpose.errors import InvalidInputError, InvalidOptionError, NoWorldLandmarksError
from localpose.result import PoseFrame
from localpose.schema import DEFAULT_SKELETON, NUM_LANDMARKS, skeleton, to_landmark_layout

__all__ = ["PersonSeries", "main_track_id"]


def main_track_id(frames: Sequence[PoseFrame]) -> int | None:
    """The track id seen in most frames (lowest id on ties), or None when nothing is tracked."""
    counts: Counter[int] = Counter()
    for frame in frames:
        counts.update({int(t) for t in frame.track_id if t >= 0})
    if not counts:
        return None
    return min(counts, key=lambda t: (-counts[t], t))


@dataclass(frozen=True, eq=False)
class PersonSeries:
    """One person over T frames: xy (T, 33, 2) px, world (T, 33, 3) m, visibility (T, 33), present (T,).

    A 2D model's keypoints (coco17) sit at their BlazePose landmarks (the others: 0, visibility
    0); its world is NaN and `has_world` False, so what needs world landmarks refuses it.
    """

    timestamps_ms: np.ndarray
    xy: np.ndarray
    world: np.ndarray
    visibility: np.ndarray
    present: np.ndarray
    image_size: tuple[int, int]
    track_id: int | None = None
    skeleton: str = DEFAULT_SKELETON

    @property
    def has_world(self) -> bool:
        return skeleton(self.skeleton).world

    def require_world(self, what: str) -> None:
        """NoWorldLandmarksError unless this person's poses have world landmarks."""
        if not self.has_world:
            raise NoWorldLandmarksError(what, self.skeleton)

    @classmethod
    def from_frames(cls, frames: Sequence[PoseFrame], track_id: int | None = None) -> PersonSeries:
        """Stack one person: `track_id`, else the main track, else the best-scored person per frame."""
        if not frames:
            raise InvalidInputError("no frames to analyse")
        chosen = track_id if track_id is not None else main_track_id(frames)
        t = len(frames)
        xy = np.full((t, NUM_LANDMARKS, 2), np.nan)
        world = np.full((t, NUM_LANDMARKS, 3), np.nan)
        vis = np.zeros((t, NUM_LANDMARKS))
        present = np.zeros(t, dtype=bool)
        for k, frame in enumerate(frames):
            if len(frame) == 0:
                continue
            if chosen is not None:
                hits = np.flatnonzero(frame.track_id == chosen)
                if hits.size == 0:
                    continue
                i = int(hits[0])
            else:
                i = int(np.argmax(frame.score))
            layout = frame.layout
            xy[k] = to_landmark_layout(frame.xy[i], layout)  # what it lacks: 0, visibility 0
            vis[k] = to_landmark_layout(frame.visibility[i], layout, axis=-1)
            if frame.has_world:
                world[k] = frame.world[i]
            present[k] = True
        if track_id is not None and not present.any():
            raise InvalidOptionError(f"track {track_id} does not appear in these frames")
        return cls(
            timestamps_ms=np.array([f.timestamp_ms for f in frames], dtype=np.float64),
            xy=xy,
            world=world,
            visibility=vis,
            present=present,
            image_size=frames[0].image_size,
            track_id=chosen,
            skeleton=frames[0].skeleton,
        )

    def __len__(self) -> int:
        return int(self.present.shape[0])

    @property
    def frame_interval_ms(self) -> float:
        """Median time between consecutive frames (0 for fewer than two frames)."""
        if len(self) < 2:
            return 0.0
        return float(np.median(np.diff(self.timestamps_ms)))

    def frame(self, k: int) -> PoseFrame:
        """Frame k as a one-person `PoseFrame` (empty when the person is absent)."""
        if not self.present[k]:
            return PoseFrame.empty(self.image_size, float(self.timestamps_ms[k]))
        return PoseFrame(
            image_size=self.image_size,
            xy=self.xy[k : k + 1],
            z=np.zeros((1, NUM_LANDMARKS)),
            visibility=self.visibility[k : k + 1],
            presence=np.ones((1, NUM_LANDMARKS)),
            world=self.world[k : k + 1],
            score=[1.0],
            track_id=[-1 if self.track_id is None else self.track_id],
            timestamp_ms=float(self.timestamps_ms[k]),
        )
