"""Animation export: one person's world landmarks as a BVH file, and a BVH reader with forward kinematics.

The skeleton (`BVH_SKELETON`) is rooted at the hips; every joint sits on a landmark (or the
mid-point of two) and its rotation turns the rest pose's bone towards the landmarks:

* ``Hips`` and ``Chest`` take their full orientation from the hip (resp. shoulder) line and
  the trunk direction, so the legs (resp. arms) start exactly at the hip (shoulder) landmarks;
* every other joint uses the smallest rotation (swing) that points its bone at its child's
  landmark, keeping the twist of its parent (landmarks say nothing about a bone's twist).

Units and axes: centimetres; Y up, the character faces +Z in the rest pose and its left is
+X (MediaPipe world (x, y, z) becomes (100 x, -100 y, -100 z)). This is what Blender's BVH
importer expects with its default "-Z forward, Y up". The rest pose is a T-pose whose bone
lengths are the medians over the track, so bones keep one length for the whole clip; the
difference from the landmarks is mostly MediaPipe's bone-length jitter. Rotations are
written as Z, X, Y Euler angles in degrees (R = Rz Rx Ry). MediaPipe's world landmarks are
hip-centred, so by default the root stays at the origin; given `MotionOptions`, the body is
scaled (``person_height_m``) and the root travels along the hip centre's trajectory from
`localpose.analysis.motion` (origin on the floor under the first frame's hips), so a walk
crosses the scene and a jump leaves the floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from localpose.analysis.series import PersonSeries
from localpose.errors import InvalidInputError
from localpose.result import PoseFrame
from localpose.schema import landmark_index

if TYPE_CHECKING:
    from localpose.analysis.motion import MotionOptions

__all__ = [
    "BVH_SKELETON",
    "BvhMotion",
    "BvhWriteResult",
    "landmark_positions",
    "read_bvh",
    "write_bvh",
]

VIRTUAL = {
    "mid_hip": ("left_hip", "right_hip"),
    "mid_shoulder": ("left_shoulder", "right_shoulder"),
    "mid_ear": ("left_ear", "right_ear"),
}


@dataclass(frozen=True)
class _JointDef:
    name: str
    parent: str | None
    point: str
    """Landmark (or virtual point) the joint sits on."""
    rest: tuple[float, float, float]
    """Rest direction of the bone from the parent to this joint (zero: same place as the parent)."""
    end: str | None = None
    """Landmark of the end site, for joints that end a chain."""
    end_rest: tuple[float, float, float] = (0.0, 0.0, 0.0)


_X, _Y, _Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
_NX, _NY = (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)
_ZERO = (0.0, 0.0, 0.0)

BVH_SKELETON: tuple[_JointDef, ...] = (
    _JointDef("Hips", None, "mid_hip", _ZERO),
    _JointDef("LeftUpLeg", "Hips", "left_hip", _X),
    _JointDef("LeftLeg", "LeftUpLeg", "left_knee", _NY),
    _JointDef("LeftFoot", "LeftLeg", "left_ankle", _NY, end="left_foot_index", end_rest=_Z),
    _JointDef("RightUpLeg", "Hips", "right_hip", _NX),
    _JointDef("RightLeg", "RightUpLeg", "right_knee", _NY),
    _JointDef("RightFoot", "RightLeg", "right_ankle", _NY, end="right_foot_index", end_rest=_Z),
    _JointDef("Spine", "Hips", "mid_hip", _ZERO),
    _JointDef("Chest", "Spine", "mid_shoulder", _Y),
    _JointDef("Neck", "Chest", "mid_shoulder", _ZERO),
    _JointDef("Head", "Neck", "mid_ear", _Y, end="nose", end_rest=_Z),
    _JointDef("LeftArm", "Chest", "left_shoulder", _X),
    _JointDef("LeftForeArm", "LeftArm", "left_elbow", _X),
    _JointDef("LeftHand", "LeftForeArm", "left_wrist", _X, end="left_index", end_rest=_X),
    _JointDef("RightArm", "Chest", "right_shoulder", _NX),
    _JointDef("RightForeArm", "RightArm", "right_elbow", _NX),
    _JointDef("RightHand", "RightForeArm", "right_wrist", _NX, end="right_index", end_rest=_NX),
)
"""The joints in file order (parents before children), with the landmark each sits on."""

_FRAMED = {
    # joint: (primary landmarks a-b -> rest +X, secondary c-d -> rest +Y)
    "Hips": (("left_hip", "right_hip"), ("mid_shoulder", "mid_hip")),
    "Chest": (("left_shoulder", "right_shoulder"), ("mid_shoulder", "mid_hip")),
}


def _point(world: np.ndarray, name: str) -> np.ndarray:
    """(T, 3) positions of a landmark or virtual point."""
    members = VIRTUAL.get(name, (name,))
    return np.mean([world[:, landmark_index(m)] for m in members], axis=0)


def _to_bvh(v: np.ndarray) -> np.ndarray:
    """MediaPipe world metres (x right, y down, z away) to BVH centimetres (Y up, facing +Z)."""
    return np.asarray(v, dtype=np.float64) * np.array([100.0, -100.0, -100.0])


def _frame_basis(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """(T, 3, 3) orthonormal bases with columns (primary, secondary made orthogonal, their cross).

    A degenerate frame (coincident landmarks, or a trunk along the hip line) gets the identity.
    """
    n1 = np.linalg.norm(primary, axis=-1, keepdims=True)
    e1 = primary / np.where(n1 > 1e-9, n1, 1.0)
    s = secondary - np.einsum("td,td->t", secondary, e1)[:, None] * e1
    n2 = np.linalg.norm(s, axis=-1, keepdims=True)
    e2 = s / np.where(n2 > 1e-9, n2, 1.0)
    basis = np.stack([e1, e2, np.cross(e1, e2)], axis=-1)
    bad = (n1[:, 0] <= 1e-9) | (n2[:, 0] <= 1e-9)
    basis[bad] = np.eye(3)
    return basis


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T, 3, 3) smallest rotations taking unit vectors a (T, 3) to b (T, 3)."""
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    degenerate = (na[:, 0] <= 1e-9) | (nb[:, 0] <= 1e-9)  # a zero-length bone: no rotation
    a = a / np.where(na > 1e-9, na, 1.0)
    b = b / np.where(nb > 1e-9, nb, 1.0)
    v = np.cross(a, b)
    c = np.einsum("td,td->t", a, b)
    out = np.empty((*a.shape[:-1], 3, 3))
    eye = np.eye(3)
    for t in range(a.shape[0]):
        if degenerate[t]:
            out[t] = eye
        elif c[t] > -1.0 + 1e-9:
            vx = np.array([[0, -v[t, 2], v[t, 1]], [v[t, 2], 0, -v[t, 0]], [-v[t, 1], v[t, 0], 0]])
            out[t] = eye + vx + vx @ vx / (1.0 + c[t])
        else:  # opposite: half a turn about any axis perpendicular to a
            axis = np.cross(a[t], [1.0, 0.0, 0.0])
            if np.linalg.norm(axis) < 1e-6:
                axis = np.cross(a[t], [0.0, 1.0, 0.0])
            axis /= np.linalg.norm(axis)
            out[t] = 2.0 * np.outer(axis, axis) - eye
    return out


def _euler_zxy(r: np.ndarray) -> np.ndarray:
    """(T, 3) degrees (z, x, y) with R = Rz(z) Rx(x) Ry(y)."""
    sx = np.clip(r[:, 2, 1], -1.0, 1.0)
    x = np.arcsin(sx)
    locked = np.abs(sx) > 1.0 - 1e-9
    z = np.where(locked, np.arctan2(r[:, 1, 0], r[:, 0, 0]), np.arctan2(-r[:, 0, 1], r[:, 1, 1]))
    y = np.where(locked, 0.0, np.arctan2(-r[:, 2, 0], r[:, 2, 2]))
    return np.degrees(np.stack([z, x, y], axis=1))


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((*a.shape, 3, 3))
    i = "XYZ".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


@dataclass(frozen=True)
class BvhWriteResult:
    """What `write_bvh` wrote."""

    frames: int
    frame_time_s: float
    filled_frames: int
    """Frames without the person, filled with the nearest frame that has them."""
    bone_lengths_cm: dict[str, float]


def _nearest_present(mask: np.ndarray) -> np.ndarray:
    """For every frame, the index of the nearest frame where `mask` is True."""
    present = np.flatnonzero(mask)
    if present.size == 0:
        raise InvalidInputError("the person never appears, so there is nothing to animate")
    idx = np.arange(mask.shape[0])
    nearest = present[np.clip(np.searchsorted(present, idx), 0, present.size - 1)]
    before = present[np.clip(np.searchsorted(present, idx) - 1, 0, present.size - 1)]
    return np.where(np.abs(before - idx) <= np.abs(nearest - idx), before, nearest)


def _filled_world(series: PersonSeries) -> tuple[np.ndarray, int]:
    series.require_world("BVH export")
    use = _nearest_present(series.present)
    return series.world[use], int(len(series) - series.present.sum())


def _root_and_scale(series: PersonSeries, motion: MotionOptions | None) -> tuple[np.ndarray, float]:
    """(T, 3) root translation in metres (MediaPipe axes, gaps filled) and the body scale."""
    if motion is None:
        return np.zeros((len(series), 3)), 1.0
    from localpose.analysis.motion import body_motion

    body = body_motion(series, motion)
    return body.root[_nearest_present(body.present)], body.scale


def write_bvh(
    target: str | Path | IO[str],
    frames: Sequence[PoseFrame] | PersonSeries,
    track_id: int | None = None,
    frame_time_s: float | None = None,
    motion: MotionOptions | None = None,
) -> BvhWriteResult:
    """Write one person's world landmarks as BVH; frame time from the timestamps unless given.

    With `motion`, lengths are scaled and the root moves through space (see the module doc).
    """
    series = frames if isinstance(frames, PersonSeries) else PersonSeries.from_frames(frames, track_id)
    world, filled = _filled_world(series)
    travel, scale = _root_and_scale(series, motion)
    world = world * scale
    if not np.isfinite(world).all():
        raise InvalidInputError("the world landmarks hold non-finite values; cannot animate them")
    t = world.shape[0]
    if frame_time_s is None:
        interval = series.frame_interval_ms
        frame_time_s = interval / 1000.0 if interval > 0 else 1.0 / 30.0
    pos = {j.point: _to_bvh(_point(world, j.point)) for j in BVH_SKELETON}
    for j in BVH_SKELETON:
        if j.end:
            pos[j.end] = _to_bvh(_point(world, j.end))
    by_name = {j.name: j for j in BVH_SKELETON}

    # Rest offsets: median bone lengths along the rest directions.
    lengths: dict[str, float] = {}
    offsets: dict[str, np.ndarray] = {}
    end_offsets: dict[str, np.ndarray] = {}
    for j in BVH_SKELETON:
        if j.parent is None or j.rest == _ZERO:
            offsets[j.name] = np.zeros(3)
        else:
            length = float(np.median(np.linalg.norm(pos[j.point] - pos[by_name[j.parent].point], axis=1)))
            lengths[j.name] = length
            offsets[j.name] = length * np.array(j.rest)
        if j.end:
            length = float(np.median(np.linalg.norm(pos[j.end] - pos[j.point], axis=1)))
            lengths[f"{j.name}_end"] = length
            end_offsets[j.name] = length * np.array(j.end_rest)

    children: dict[str, list[_JointDef]] = {j.name: [] for j in BVH_SKELETON}
    for j in BVH_SKELETON:
        if j.parent:
            children[j.parent].append(j)

    world_rot: dict[str, np.ndarray] = {}
    local_rot: dict[str, np.ndarray] = {}
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    for j in BVH_SKELETON:
        parent_rot = eye if j.parent is None else world_rot[j.parent]
        if j.name in _FRAMED:
            (a, b), (c, d) = _FRAMED[j.name]
            current = _frame_basis(pos[a] - pos[b], pos[c] - pos[d])
            rot = current  # the rest basis is the identity (primary +X, secondary +Y)
        else:
            bone = [k for k in children[j.name] if k.rest != _ZERO]
            if bone:
                target_dir, rest_dir = pos[bone[0].point] - pos[j.point], np.array(bone[0].rest)
            elif j.end:
                target_dir, rest_dir = pos[j.end] - pos[j.point], np.array(j.end_rest)
            else:  # a zero-offset joint whose child is zero-offset too: keep the parent's rotation
                target_dir, rest_dir = None, None
            if target_dir is None:
                rot = np.array(parent_rot)
            else:
                start = np.einsum("tij,j->ti", parent_rot, rest_dir)
                rot = _swing(start, target_dir) @ parent_rot
        world_rot[j.name] = rot
        local_rot[j.name] = np.swapaxes(parent_rot, -1, -2) @ rot

    root = pos["mid_hip"] + _to_bvh(travel)
    euler = {name: _euler_zxy(r) for name, r in local_rot.items()}
    hierarchy = _hierarchy_text(children, offsets, end_offsets)
    lines = [hierarchy, "MOTION", f"Frames: {t}", f"Frame Time: {frame_time_s:.6f}"]
    for k in range(t):
        values = [*root[k]]
        for j in BVH_SKELETON:
            values.extend(euler[j.name][k])
        lines.append(" ".join(f"{v:.6f}" for v in values))
    text = "\n".join(lines) + "\n"
    if isinstance(target, (str, Path)):
        Path(target).write_text(text)
    else:
        target.write(text)
    return BvhWriteResult(t, frame_time_s, filled, {k: round(v, 3) for k, v in lengths.items()})


def _hierarchy_text(
    children: dict[str, list[_JointDef]], offsets: dict[str, np.ndarray], end_offsets: dict[str, np.ndarray]
) -> str:
    out = ["HIERARCHY"]

    def emit(j: _JointDef, depth: int) -> None:
        pad = "  " * depth
        head = "ROOT" if j.parent is None else "JOINT"
        out.append(f"{pad}{head} {j.name}")
        out.append(f"{pad}{{")
        o = offsets[j.name]
        out.append(f"{pad}  OFFSET {o[0]:.4f} {o[1]:.4f} {o[2]:.4f}")
        if j.parent is None:
            out.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
        else:
            out.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        for child in children[j.name]:
            emit(child, depth + 1)
        if j.end:
            e = end_offsets[j.name]
            out.append(f"{pad}  End Site")
            out.append(f"{pad}  {{")
            out.append(f"{pad}    OFFSET {e[0]:.4f} {e[1]:.4f} {e[2]:.4f}")
            out.append(f"{pad}  }}")
        out.append(f"{pad}}}")

    emit(BVH_SKELETON[0], 0)
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH file: joints (end sites named ``<parent>_end``), offsets, channels and motion."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    """Index of each joint's parent (-1 for the root)."""
    offsets: np.ndarray  # (J, 3)
    channels: tuple[tuple[str, ...], ...]
    frame_time_s: float
    motion: np.ndarray  # (F, total channels)

    @property
    def frames(self) -> int:
        return int(self.motion.shape[0])

    def positions(self) -> np.ndarray:
        """(F, J, 3) world positions of every joint and end site by forward kinematics."""
        f = self.frames
        rot = np.zeros((len(self.names), f, 3, 3))
        pos = np.zeros((len(self.names), f, 3))
        column = 0
        for j, (parent, chans) in enumerate(zip(self.parents, self.channels, strict=True)):
            local = np.broadcast_to(np.eye(3), (f, 3, 3)).copy()
            translation = np.zeros((f, 3))
            for c in chans:
                values = self.motion[:, column]
                column += 1
                axis, kind = c[0].upper(), c[1:].lower()
                if kind == "position":
                    translation[:, "XYZ".index(axis)] = values
                else:
                    local = local @ _axis_rotation(axis, values)
            if parent < 0:
                rot[j] = local
                pos[j] = self.offsets[j] + translation
            else:
                rot[j] = rot[parent] @ local
                pos[j] = pos[parent] + np.einsum("fij,j->fi", rot[parent], self.offsets[j]) + translation
        return np.swapaxes(pos, 0, 1)


def read_bvh(source: str | Path | IO[str]) -> BvhMotion:
    """Parse a BVH file (any rotation channel order; end sites become joints named ``<parent>_end``)."""
    text = Path(source).read_text() if isinstance(source, (str, Path)) else source.read()
    tokens = text.split()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise InvalidInputError("BVH file ends inside its HIERARCHY section")
        pos += 1
        return tokens[pos - 1]

    if take() != "HIERARCHY":
        raise InvalidInputError("not a BVH file: it does not start with HIERARCHY")
    pending: int | None = None
    while True:
        token = take()
        if token in ("ROOT", "JOINT"):
            names.append(take())
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            pending = len(names) - 1
        elif token == "End":
            take()  # "Site"
            parent = stack[-1]
            names.append(f"{names[parent]}_end")
            parents.append(parent)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            pending = len(names) - 1
        elif token == "{":
            if pending is None:
                raise InvalidInputError("BVH: '{' without a joint")
            stack.append(pending)
            pending = None
        elif token == "}":
            stack.pop()
        elif token == "OFFSET":
            offsets[stack[-1]] = [float(take()), float(take()), float(take())]
        elif token == "CHANNELS":
            count = int(take())
            channels[stack[-1]] = tuple(take() for _ in range(count))
        elif token == "MOTION":
            break
        else:
            raise InvalidInputError(f"BVH: unexpected token {token!r} in HIERARCHY")
    if take() != "Frames:":
        raise InvalidInputError("BVH: expected 'Frames:' after MOTION")
    count = int(take())
    if (take(), take()) != ("Frame", "Time:"):
        raise InvalidInputError("BVH: expected 'Frame Time:'")
    frame_time = float(take())
    width = sum(len(c) for c in channels)
    values = np.array([float(v) for v in tokens[pos:]], dtype=np.float64)
    if values.size != count * width:
        raise InvalidInputError(f"BVH: expected {count} frames of {width} values, found {values.size} values")
    return BvhMotion(
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.array(offsets, dtype=np.float64),
        channels=tuple(channels),
        frame_time_s=frame_time,
        motion=values.reshape(count, width),
    )


def landmark_positions(
    series_or_frames: Sequence[PoseFrame] | PersonSeries, motion: BvhMotion
) -> dict[str, np.ndarray]:
    """For each BVH joint and end site, the (T, 3) landmark positions it stands for, in BVH units/axes.

    This is what `read_bvh(...).positions()` should reproduce; tests use it to measure the
    round-trip error.
    """
    series = (
        series_or_frames
        if isinstance(series_or_frames, PersonSeries)
        else PersonSeries.from_frames(series_or_frames)
    )
    world, _ = _filled_world(series)
    out: dict[str, np.ndarray] = {}
    for j in BVH_SKELETON:
        out[j.name] = _to_bvh(_point(world, j.point))
        if j.end:
            out[f"{j.name}_end"] = _to_bvh(_point(world, j.end))
    missing = [n for n in out if n not in motion.names]
    if missing:
        raise InvalidInputError(f"this BVH was not written by localpose (no joints {', '.join(missing)})")
    return out
