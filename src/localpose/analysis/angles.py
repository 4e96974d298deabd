"""Joint and segment angles, 2D from image landmarks and 3D from world landmarks.

The angle table `ANGLES` is data: every angle names the landmarks that define it (by
`localpose.schema` name, plus the virtual points ``mid_hip`` and ``mid_shoulder``) and the
formula that turns them into degrees. docs/analysis.md explains the conventions; in short
(following Sports2D where it makes sense):

* joint angles are 0 in the anatomical neutral position (straight limb, standing upright)
  and grow with flexion; the same vector formulas serve 2D and 3D;
* 2D segment angles are measured anticlockwise, as seen on screen, from the image's
  horizontal (pointing right) to the segment (proximal to distal point), in (-180, 180];
* 3D segment angles are the segment's elevation above the horizontal plane of the world
  landmarks (up = -y), in [-90, 90].

An angle is NaN ("not measured") when any landmark it needs has visibility below
`min_visibility`; writers turn NaN into an empty CSV cell or JSON ``null``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

import numpy as np

from localpose.errors import InvalidOptionError, NoWorldLandmarksError
from localpose.result import PoseFrame
from localpose.schema import NUM_LANDMARKS, landmark_index, to_landmark_layout

__all__ = [
    "ANGLES",
    "ANGLE_NAMES",
    "JOINT_ANGLE_NAMES",
    "SEGMENT_ANGLE_NAMES",
    "AngleDef",
    "Space",
    "add_angles_to_document",
    "angle_index",
    "angle_rows",
    "compute_angles",
    "frame_angles",
    "person_angles",
    "spaces_of",
    "write_angles_csv",
]

Space = Literal["image", "world"]
"""``image``: 2D from pixel landmarks; ``world``: 3D from world landmarks (metres)."""

Formula = Literal["flexion", "between", "dorsiflexion", "segment"]

VIRTUAL_POINTS: dict[str, tuple[str, ...]] = {
    "mid_hip": ("left_hip", "right_hip"),
    "mid_shoulder": ("left_shoulder", "right_shoulder"),
}
"""Points that are the mean of landmarks (their visibility is the smallest of theirs)."""


@dataclass(frozen=True)
class AngleDef:
    """One angle: which points define it and how.

    formula (u and v are vectors built from `points`):
      ``flexion``      points (a, b, c): 180 - angle(a - b, c - b); 0 for a straight joint.
      ``between``      points (a, b, c, d): angle(b - a, d - c), 0 to 180.
      ``dorsiflexion`` points (a, b, c, d): 90 - angle(a - b, c - d); 0 with the foot at a
                       right angle to the shank, positive when the toes come up.
      ``segment``      points (proximal, distal): orientation of distal - proximal (see module doc).
    """

    name: str
    kind: Literal["joint", "segment"]
    formula: Formula
    points: tuple[str, ...]
    description: str


def _sides(template: Sequence[tuple[str, str, Formula, tuple[str, ...], str]]) -> tuple[AngleDef, ...]:
    out = []
    for side in ("left", "right"):
        for base, kind, formula, points, description in template:
            pts = tuple(p.format(s=side) for p in points)
            out.append(AngleDef(f"{side}_{base}", kind, formula, pts, description))  # type: ignore[arg-type]
    return tuple(out)


_JOINTS = _sides(
    (
        ("ankle", "joint", "dorsiflexion", ("{s}_knee", "{s}_ankle", "{s}_foot_index", "{s}_heel"),
         "dorsiflexion: 90 - angle between shank (ankle to knee) and foot (heel to toe)"),
        ("knee", "joint", "flexion", ("{s}_hip", "{s}_knee", "{s}_ankle"),
         "flexion: 180 - angle hip-knee-ankle"),
        ("hip", "joint", "between", ("{s}_knee", "{s}_hip", "mid_hip", "mid_shoulder"),
         "flexion: angle between thigh (knee to hip) and trunk (mid-hip to mid-shoulder)"),
        ("shoulder", "joint", "between", ("{s}_elbow", "{s}_shoulder", "mid_hip", "mid_shoulder"),
         "elevation: angle between arm (elbow to shoulder) and trunk; 0 arm down, 180 overhead"),
        ("elbow", "joint", "flexion", ("{s}_shoulder", "{s}_elbow", "{s}_wrist"),
         "flexion: 180 - angle shoulder-elbow-wrist"),
        ("wrist", "joint", "between", ("{s}_elbow", "{s}_wrist", "{s}_wrist", "{s}_index"),
         "flexion: angle between forearm (elbow to wrist) and hand (wrist to index finger)"),
    )
)  # fmt: skip

_SEGMENTS = (
    AngleDef("trunk", "segment", "segment", ("mid_hip", "mid_shoulder"), "mid-hip to mid-shoulder"),
    AngleDef("pelvis", "segment", "segment", ("right_hip", "left_hip"), "right hip to left hip"),
    AngleDef("shoulders", "segment", "segment", ("right_shoulder", "left_shoulder"),
             "right shoulder to left shoulder"),
    *_sides(
        (
            ("thigh", "segment", "segment", ("{s}_hip", "{s}_knee"), "hip to knee"),
            ("shank", "segment", "segment", ("{s}_knee", "{s}_ankle"), "knee to ankle"),
            ("foot", "segment", "segment", ("{s}_heel", "{s}_foot_index"), "heel to toe tip"),
            ("arm", "segment", "segment", ("{s}_shoulder", "{s}_elbow"), "shoulder to elbow"),
            ("forearm", "segment", "segment", ("{s}_elbow", "{s}_wrist"), "elbow to wrist"),
        )
    ),
)  # fmt: skip

ANGLES: tuple[AngleDef, ...] = _JOINTS + _SEGMENTS
"""Every angle localpose computes, joints first, in output column order."""

ANGLE_NAMES: tuple[str, ...] = tuple(a.name for a in ANGLES)
JOINT_ANGLE_NAMES: tuple[str, ...] = tuple(a.name for a in ANGLES if a.kind == "joint")
SEGMENT_ANGLE_NAMES: tuple[str, ...] = tuple(a.name for a in ANGLES if a.kind == "segment")
_INDEX = {name: i for i, name in enumerate(ANGLE_NAMES)}


def angle_index(name: str) -> int:
    """Column of an angle in `compute_angles` output, with an error listing valid names."""
    try:
        return _INDEX[name]
    except KeyError:
        raise KeyError(f"unknown angle {name!r}; expected one of {', '.join(ANGLE_NAMES)}") from None


# Every distinct point used by the table, resolved once into landmark index groups.
_POINT_NAMES: tuple[str, ...] = tuple(dict.fromkeys(p for a in ANGLES for p in a.points))
_POINT_GROUPS: tuple[tuple[int, ...], ...] = tuple(
    tuple(landmark_index(m) for m in VIRTUAL_POINTS.get(p, (p,))) for p in _POINT_NAMES
)
_POINT_ROW = {p: i for i, p in enumerate(_POINT_NAMES)}
_MEMBERS = np.zeros((len(_POINT_NAMES), NUM_LANDMARKS), dtype=np.float64)
for _row, _group in enumerate(_POINT_GROUPS):
    _MEMBERS[_row, list(_group)] = 1.0 / len(_group)
_GROUP_INDEX = np.array([(g * 2)[:2] for g in _POINT_GROUPS])  # (P, 2), single landmarks repeated


def _vector_table(angles: Sequence[AngleDef]) -> dict[str, np.ndarray]:
    """Index arrays that evaluate the whole table at once.

    Joint angles are ``offset + sign * angle(P[u1] - P[u0], P[v1] - P[v0])``; segment angles
    look at ``P[v1] - P[v0]``. `rows` (K, 4) holds every point an angle needs (repeated to 4).
    """
    u0, u1, v0, v1, offset, sign, rows = [], [], [], [], [], [], []
    for angle in angles:
        r = [_POINT_ROW[p] for p in angle.points]
        if angle.formula == "flexion":  # 180 - angle(p0 - p1, p2 - p1)
            spec = (r[1], r[0], r[1], r[2], 180.0, -1.0)
        elif angle.formula == "between":  # angle(p1 - p0, p3 - p2)
            spec = (r[0], r[1], r[2], r[3], 0.0, 1.0)
        elif angle.formula == "dorsiflexion":  # 90 - angle(p0 - p1, p2 - p3)
            spec = (r[1], r[0], r[3], r[2], 90.0, -1.0)
        else:  # segment: p1 - p0
            spec = (r[0], r[1], r[0], r[1], 0.0, 0.0)
        for column, value in zip((u0, u1, v0, v1, offset, sign), spec, strict=True):
            column.append(value)
        rows.append((r * 4)[:4])
    table = {"u0": u0, "u1": u1, "v0": v0, "v1": v1, "offset": offset, "sign": sign, "rows": rows}
    out = {key: np.array(value) for key, value in table.items()}
    out["joint"] = np.array([a.kind == "joint" for a in angles])
    return out


_TABLE = _vector_table(ANGLES)


def _points(landmarks: np.ndarray, visibility: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(..., P, D) positions of the table's points and their (..., P) visibility."""
    positions = np.einsum("pk,...kd->...pd", _MEMBERS, landmarks.astype(np.float64))
    if visibility is None:
        return positions, np.ones(positions.shape[:-1])
    pvis = np.asarray(visibility, dtype=np.float64)[..., _GROUP_INDEX].min(axis=-1)
    return positions, pvis


def _angle_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unsigned angle in degrees between vectors on the last axis (NaN for a zero vector)."""
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.einsum("...d,...d->...", u, v) / (nu * nv)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def compute_angles(
    landmarks: np.ndarray,
    visibility: np.ndarray | None = None,
    space: Space = "image",
    min_visibility: float = 0.5,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Angles in degrees, (..., K) for landmarks (..., 33, D), in `ANGLE_NAMES` order (or `names`).

    D is 2 (pixels, y down) for ``image`` or 3 (metres, y down) for ``world``. An angle is
    NaN where a landmark it needs has visibility below `min_visibility` or a segment has
    zero length.
    """
    landmarks = np.asarray(landmarks)
    if landmarks.shape[-2:] not in ((NUM_LANDMARKS, 2), (NUM_LANDMARKS, 3)):
        raise ValueError(f"landmarks must have shape (..., {NUM_LANDMARKS}, 2 or 3), got {landmarks.shape}")
    if space not in ("image", "world"):
        raise InvalidOptionError(f"space must be 'image' or 'world', got {space!r}")
    if space == "world" and landmarks.shape[-1] != 3:
        raise ValueError("world angles need 3D landmarks")
    positions, pvis = _points(landmarks, None if visibility is None else np.asarray(visibility))
    t = _TABLE
    u = positions[..., t["u1"], :] - positions[..., t["u0"], :]
    v = positions[..., t["v1"], :] - positions[..., t["v0"], :]
    joint = t["offset"] + t["sign"] * _angle_between(u, v)
    values = np.where(t["joint"], joint, _segment_angle(v, space))
    seen = pvis[..., t["rows"]].min(axis=-1) >= min_visibility
    out = np.where(seen, values, np.nan)
    if names is not None:
        out = out[..., [angle_index(n) for n in names]]
    return out


def _segment_angle(v: np.ndarray, space: Space) -> np.ndarray:
    length = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if space == "image":
            # Anticlockwise on screen: image y grows downwards, so flip it.
            angle = np.degrees(np.arctan2(-v[..., 1], v[..., 0]))
            angle = np.where(angle == -180.0, 180.0, angle)
        else:
            angle = np.degrees(np.arcsin(np.clip(-v[..., 1] / length, -1.0, 1.0)))
    return np.where(length > 0, angle, np.nan)


def frame_angles(
    frame: PoseFrame, space: Space = "image", min_visibility: float = 0.5, names: Sequence[str] | None = None
) -> np.ndarray:
    """(n people, K) angles of one frame in degrees (NaN: not measured).

    A 2D model's keypoints (``coco17``) give image angles only; angles that need a landmark it
    lacks (feet, hands) are not measured. World angles need world landmarks.
    """
    if space == "world" and not frame.has_world:
        raise NoWorldLandmarksError("world (3D) angles", frame.skeleton)
    landmarks = frame.xy if space == "image" else frame.world
    landmarks = to_landmark_layout(landmarks, frame.layout)
    visibility = to_landmark_layout(frame.visibility, frame.layout, axis=-1)
    return compute_angles(landmarks, visibility, space, min_visibility, names)


def spaces_of(frame: PoseFrame, spaces: Sequence[Space] | None = None) -> tuple[Space, ...]:
    """The angle spaces asked for, or by default every space the frame's poses have."""
    if spaces is not None:
        return tuple(spaces)
    return ("image", "world") if frame.has_world else ("image",)


def _clean(value: float, digits: int = 2) -> float | None:
    return None if not np.isfinite(value) else round(float(value), digits)


def person_angles(
    frame: PoseFrame,
    person: int,
    spaces: Sequence[Space] | None = None,
    min_visibility: float = 0.5,
) -> dict[str, dict[str, float | None]]:
    """One person's angles as ``{space: {name: degrees or None}}``, JSON-ready (default: every
    space the frame has, `spaces_of`)."""
    out: dict[str, dict[str, float | None]] = {}
    for space in spaces_of(frame, spaces):
        values = frame_angles(frame[person], space, min_visibility)[0]
        out[space] = {name: _clean(v) for name, v in zip(ANGLE_NAMES, values, strict=True)}
    return out


def add_angles_to_document(
    document: dict[str, Any],
    frame: PoseFrame,
    spaces: Sequence[Space] | None = None,
    min_visibility: float = 0.5,
) -> dict[str, Any]:
    """Add ``"angles"`` to every person of a `localpose.export.frame_to_dict` document (in place)."""
    for i, person in enumerate(document["people"]):
        person["angles"] = person_angles(frame, i, spaces, min_visibility)
    return document


ANGLE_CSV_HEAD = ("source", "frame_index", "timestamp_ms", "person", "track_id", "space")


def angle_rows(
    frames: Iterable[PoseFrame],
    spaces: Sequence[Space] | None = None,
    source: str = "",
    start_index: int = 0,
    min_visibility: float = 0.5,
) -> Iterable[list[object]]:
    """Rows ``ANGLE_CSV_HEAD + ANGLE_NAMES``, one per (frame, person, space); empty cell: not measured.

    A frame without people gets one row with empty person, space and angle cells. `spaces`
    None: every space the frames have (image only for a 2D model).
    """
    for offset, frame in enumerate(frames):
        if len(frame) == 0:  # one empty row keeps the frame count, as in the keypoints CSV
            yield [source, start_index + offset, f"{frame.timestamp_ms:.3f}", "", "", "", *[""] * len(ANGLES)]
            continue
        per_space = {s: frame_angles(frame, s, min_visibility) for s in spaces_of(frame, spaces)}
        for i in range(len(frame)):
            track = "" if frame.track_id[i] < 0 else int(frame.track_id[i])
            for space in per_space:
                values = per_space[space][i]
                yield [
                    source,
                    start_index + offset,
                    f"{frame.timestamp_ms:.3f}",
                    i,
                    track,
                    space,
                    *("" if not np.isfinite(v) else f"{v:.2f}" for v in values),
                ]


def write_angles_csv(
    stream: IO[str],
    frames: Iterable[PoseFrame],
    spaces: Sequence[Space] | None = None,
    source: str = "",
    start_index: int = 0,
    header: bool = True,
    min_visibility: float = 0.5,
) -> int:
    """Write `angle_rows` as CSV (with a header line unless `header` is False); returns rows written."""
    import csv

    writer = csv.writer(stream)
    if header:
        writer.writerow([*ANGLE_CSV_HEAD, *ANGLE_NAMES])
    count = 0
    for row in angle_rows(frames, spaces, source, start_index, min_visibility):
        writer.writerow(row)
        count += 1
    return count
