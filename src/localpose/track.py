"""Person tracking: stable ids for the people of successive frames.

Each frame's people are matched to the live tracks by the Hungarian algorithm on a
similarity that mixes keypoint similarity (OKS of the visible landmarks, scaled by the
track's box) and box overlap (IoU). A person nobody matches starts a new track; a track
nobody matches waits `max_gap_ms` for its person to come back (re-entry keeps the id)
and is then closed. Ids are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from localpose.errors import InvalidOptionError
from localpose.metrics import box_iou, keep_distinct_people, oks_both_visible
from localpose.result import PoseFrame

__all__ = ["PoseTracker", "TrackerOptions", "drop_duplicates", "match_scores"]


@dataclass(frozen=True)
class TrackerOptions:
    """How people are matched from frame to frame."""

    min_similarity: float = 0.2
    """Below this similarity (0-1) a person and a track are never matched."""
    max_gap_ms: float = 1000.0
    """A lost track keeps its id this long; a person seen again within it gets the id back."""
    min_visibility: float = 0.5
    """Landmarks below this visibility do not count in the keypoint similarity."""
    oks_weight: float = 0.7
    """Share of keypoint similarity (the rest is box IoU) in the matching score."""
    duplicate_similarity: float = 0.4
    """Two people of one frame this similar are one person seen twice: the lower-scored is dropped."""
    reentry_reach: float = 1.0
    """A person no track's pose matches takes the id of a track unmatched in this frame (seen
    within `max_gap_ms`) whose last box centre lies within this many body heights (the larger
    box's height) of theirs: a jump, a fall or a fast turn changes the pose more than the place.
    0 turns this off."""

    def __post_init__(self) -> None:
        for name in ("min_similarity", "min_visibility", "oks_weight", "duplicate_similarity"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidOptionError(f"{name} must be between 0 and 1, got {value}")
        for name in ("max_gap_ms", "reentry_reach"):
            if getattr(self, name) < 0:
                raise InvalidOptionError(f"{name} must be >= 0, got {getattr(self, name)}")


def match_scores(frame: PoseFrame, reference: PoseFrame, options: TrackerOptions | None = None) -> np.ndarray:
    """Matching score (n, m) in [0, 1] between the people of `frame` and of `reference`."""
    options = options or TrackerOptions()
    if len(frame) == 0 or len(reference) == 0:
        return np.zeros((len(frame), len(reference)))
    ref_boxes = reference.boxes
    area = (ref_boxes[:, 2] - ref_boxes[:, 0]) * (ref_boxes[:, 3] - ref_boxes[:, 1])
    if frame.skeleton != reference.skeleton:
        raise ValueError(f"cannot match {frame.skeleton} poses with {reference.skeleton} poses")
    oks = oks_both_visible(
        frame.xy,
        frame.visibility,
        reference.xy,
        reference.visibility,
        area,
        options.min_visibility,
        reference.layout.sigmas,
    )
    iou = box_iou(frame.boxes, ref_boxes)
    return options.oks_weight * oks + (1 - options.oks_weight) * iou


def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment of rows to columns: (rows, cols), rows ascending.

    The Hungarian algorithm with potentials, O(n^2 m) for n <= m; what scipy's
    linear_sum_assignment returns (same total cost), without importing scipy.optimize (~0.2 s)
    for the few people a frame holds.
    """
    cost = np.asarray(cost, dtype=np.float64)
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    n, m = cost.shape
    row_potential, col_potential = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: 1-based row holding column j (0: none)
    previous = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        owner[0], column = i, 0
        slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while owner[column] != 0:
            used[column] = True
            row = owner[column]
            reduced = cost[row - 1] - row_potential[row] - col_potential[1:]
            free = ~used[1:]
            better = free & (reduced < slack[1:])
            slack[1:][better] = reduced[better]
            previous[1:][better] = column
            candidates = np.where(free, slack[1:], np.inf)
            column_next = int(np.argmin(candidates)) + 1
            delta = candidates[column_next - 1]
            row_potential[owner[used]] += delta
            col_potential[used] -= delta
            slack[1:][free] -= delta
            column = column_next
        while column:  # flip the augmenting path
            owner[column] = owner[previous[column]]
            column = previous[column]
    cols = np.flatnonzero(owner[1:])
    rows = owner[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order], cols[order]


def drop_duplicates(frame: PoseFrame, options: TrackerOptions | None = None) -> PoseFrame:
    """The frame without people that repeat a higher-scored person (MediaPipe can return one twice)."""
    options = options or TrackerOptions()
    if len(frame) < 2:
        return frame
    return keep_distinct_people(frame, match_scores(frame, frame, options), options.duplicate_similarity)


@dataclass
class _Track:
    track_id: int
    last: PoseFrame  # one person
    last_seen_ms: float


@dataclass
class PoseTracker:
    """Gives every person a track id that stays with them from frame to frame.

    >>> tracker = PoseTracker()  # doctest: +SKIP
    >>> tracked = [tracker.update(frame) for frame in frames]  # doctest: +SKIP
    """

    options: TrackerOptions = field(default_factory=TrackerOptions)
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 0

    def update(self, frame: PoseFrame) -> PoseFrame:
        """The frame with duplicates dropped and `track_id` set for every person.

        Tracks seen in the previous frame are matched first, then lost tracks (re-entry), so a
        person is not pulled onto an older track that happens to fit slightly better.
        """
        frame = drop_duplicates(frame, self.options)
        now = frame.timestamp_ms
        self._tracks = [t for t in self._tracks if now - t.last_seen_ms <= self.options.max_gap_ms]
        ids = np.full(len(frame), -1, dtype=np.int64)
        latest = max((t.last_seen_ms for t in self._tracks), default=None)
        recent = [t for t in self._tracks if t.last_seen_ms == latest]
        lost = [t for t in self._tracks if t.last_seen_ms != latest]
        for tracks in (recent, lost):
            self._match(frame, tracks, ids, now)
        self._match_by_place(frame, [t for t in self._tracks if t.last_seen_ms != now], ids, now)
        for r in np.flatnonzero(ids < 0):
            ids[r] = self._next_id
            self._tracks.append(_Track(self._next_id, frame[[int(r)]], now))
            self._next_id += 1
        return frame.replace(track_id=ids)

    def _match_by_place(self, frame: PoseFrame, tracks: list[_Track], ids: np.ndarray, now: float) -> None:
        """Still unmatched people to unmatched tracks by where they were (`reentry_reach`)."""
        free = np.flatnonzero(ids < 0)
        if not tracks or not len(free) or self.options.reentry_reach <= 0:
            return
        new = frame[free].boxes
        old = PoseFrame.concatenate([t.last for t in tracks]).boxes
        centre_new = (new[:, :2] + new[:, 2:]) / 2
        centre_old = (old[:, :2] + old[:, 2:]) / 2
        height = np.maximum((new[:, 3] - new[:, 1])[:, None], (old[:, 3] - old[:, 1])[None, :])
        reach = np.linalg.norm(centre_new[:, None] - centre_old[None, :], axis=2) / np.maximum(height, 1.0)
        _assign(frame, free, tracks, -reach, reach <= self.options.reentry_reach, ids, now)

    def _match(self, frame: PoseFrame, tracks: list[_Track], ids: np.ndarray, now: float) -> None:
        """Hungarian assignment of the still unmatched people to `tracks` (fills `ids`)."""
        free = np.flatnonzero(ids < 0)
        if not tracks or not len(free):
            return
        reference = PoseFrame.concatenate([t.last for t in tracks])
        similarity = match_scores(frame[free], reference, self.options)
        _assign(frame, free, tracks, similarity, similarity >= self.options.min_similarity, ids, now)


def _assign(
    frame: PoseFrame,
    free: np.ndarray,
    tracks: list[_Track],
    score: np.ndarray,
    accept: np.ndarray,
    ids: np.ndarray,
    now: float,
) -> None:
    """Hungarian assignment of the people `free` to `tracks` maximising `score` (rows: free,
    columns: tracks); a pair is kept only where `accept`; `ids` and the tracks are updated."""
    rows, cols = linear_assignment(-score)
    for r, c in zip(rows, cols, strict=True):
        if accept[r, c]:
            person = int(free[r])
            ids[person] = tracks[c].track_id
            tracks[c].last = frame[[person]]
            tracks[c].last_seen_ms = now
