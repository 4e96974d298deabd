"""Metres and root motion: one person's landmarks as 3D trajectories that travel through space.

MediaPipe's world landmarks are metric but hip-centred: the body never moves. This module
puts the hip centre back where the image says it is.

* **Scale.** Without a height, the world landmarks' own metres are used (MediaPipe's bone
  lengths). With ``person_height_m``, every length is multiplied by ``height / estimate``,
  where the estimate is the person's height from world-landmark bone lengths: the chain
  ankle-knee-hip (mean of both legs), mid-hip to mid-shoulder, mid-shoulder to mid-eye,
  divided by 0.897 (that chain's share of standing height in Winter's anthropometric table:
  ankle 0.039 H, eye 0.936 H). Bone lengths do not change when a joint bends, so the
  estimate holds in a squat; it is the median over the frames.
* **Root.** In each frame a weak-perspective fit ``xy_px = s * world_xy + c`` over the
  visible landmarks gives the pixels per metre ``s`` and the hip centre's pixel position
  ``c`` (the world origin). The hip centre in camera coordinates is then
  ``((c - principal point) / s, f / s)`` with the focal length ``f`` from ``fov_deg``:
  travel in the picture plane needs no focal length, depth does (it is the least certain axis).
* Markers are ``scale * world + root``: MediaPipe's axes (x right, y down, z away from the
  camera), metres, with the origin moved to the floor (the median lowest foot landmark)
  under the first frame's hip centre. `opensim_axes` turns them into OpenSim's (X forward towards the camera,
  Y up, Z to the right of a person facing the camera).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from localpose.analysis.series import PersonSeries
from localpose.errors import InvalidInputError, InvalidOptionError
from localpose.export.markers import POSE2SIM_MARKERS, MarkerTrajectories
from localpose.schema import landmark_index

__all__ = [
    "BodyMotion",
    "MotionOptions",
    "angle_table",
    "body_motion",
    "height_from_world",
    "marker_trajectories",
    "opensim_axes",
]

HEIGHT_SHARE = 0.897
"""Ankle-to-eye chain as a share of standing height (Winter: ankle 0.039 H, eye 0.936 H)."""

_MEDIAPIPE_TO_OPENSIM = np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]])
"""Rows: OpenSim X = -z (towards the camera), Y = -y (up), Z = -x (a front-facing person's right)."""


@dataclass(frozen=True)
class MotionOptions:
    """How landmarks become metres and a travelling root."""

    person_height_m: float | None = None
    """The person's standing height; None keeps the world landmarks' own metres."""
    fov_deg: float = 60.0
    """The camera's field of view across the image's longer side (depth only)."""
    root_motion: bool = True
    """False keeps the root at the origin (hip-centred markers, as MediaPipe gives them)."""
    min_visibility: float = 0.5
    """Landmarks at least this visible take part in the per-frame fit."""

    def __post_init__(self) -> None:
        if self.person_height_m is not None and not 0.5 <= self.person_height_m <= 2.6:
            raise InvalidOptionError(f"person height must be 0.5 to 2.6 metres, got {self.person_height_m}")
        if not 10.0 <= self.fov_deg <= 170.0:
            raise InvalidOptionError(f"fov_deg must be 10 to 170 degrees, got {self.fov_deg}")


@dataclass(frozen=True, eq=False)
class BodyMotion:
    """One person's markers over time in metres: (T, 33, 3) MediaPipe axes, NaN where absent."""

    times_s: np.ndarray
    markers: np.ndarray
    root: np.ndarray
    """(T, 3) hip centre in the markers' frame (floor origin; zeros without root motion)."""
    camera_root: np.ndarray
    """(T, 3) hip centre in camera coordinates (x right, y down, z forward from the camera), metres,
    whether or not the markers travel."""
    scale: float
    """Factor applied to the world landmarks (1 without a height)."""
    estimated_height_m: float
    """The height read from the world landmarks' bone lengths, before scaling."""
    pixels_per_metre: np.ndarray
    """(T,) from the per-frame fit, after scaling (NaN where absent)."""
    present: np.ndarray


def _point(world: np.ndarray, *names: str) -> np.ndarray:
    return np.mean([world[..., landmark_index(n), :] for n in names], axis=0)


def _length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def height_from_world(world: np.ndarray) -> np.ndarray:
    """Standing height (metres) per frame from world landmarks (..., 33, 3) bone lengths."""
    legs = [
        _length(_point(world, f"{s}_ankle"), _point(world, f"{s}_knee"))
        + _length(_point(world, f"{s}_knee"), _point(world, f"{s}_hip"))
        for s in ("left", "right")
    ]
    hips = _point(world, "left_hip", "right_hip")
    shoulders = _point(world, "left_shoulder", "right_shoulder")
    eyes = _point(world, "left_eye", "right_eye")
    chain = (legs[0] + legs[1]) / 2 + _length(hips, shoulders) + _length(shoulders, eyes)
    return chain / HEIGHT_SHARE


def _fit(xy: np.ndarray, world: np.ndarray, seen: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares s, c with xy ~ s * world_xy + c over the `seen` landmarks."""
    if seen.sum() < 4:
        seen = np.ones_like(seen)
    p, w = xy[seen], world[seen, :2]
    pm, wm = p.mean(axis=0), w.mean(axis=0)
    dw = w - wm
    s = float(np.sum(dw * (p - pm)) / max(float(np.sum(dw * dw)), 1e-12))
    return s, pm - s * wm


_FEET = [landmark_index(f"{s}_{p}") for s in ("left", "right") for p in ("heel", "foot_index", "ankle")]


def _floor_origin(markers: np.ndarray, root: np.ndarray) -> np.ndarray:
    """The origin on the floor under the first root position: x, z of that root, y of the
    floor (the median over frames of the lowest foot landmark; y points down)."""
    floor = float(np.nanmedian(np.nanmax(markers[:, _FEET, 1], axis=1)))
    return np.array([root[0, 0], floor, root[0, 2]])


def body_motion(series: PersonSeries, options: MotionOptions | None = None) -> BodyMotion:
    """Scaled, travelling markers of one person (see the module doc for the method)."""
    options = options or MotionOptions()
    present = series.present.copy()
    if not present.any():
        raise InvalidInputError("the person never appears, so there is no motion to export")
    world = series.world
    estimated = float(np.nanmedian(height_from_world(world[present])))
    if not math.isfinite(estimated) or estimated <= 0:
        raise InvalidInputError("the world landmarks give no usable body size")
    scale = 1.0 if options.person_height_m is None else options.person_height_m / estimated
    width, height = series.image_size
    focal = max(width, height) / 2.0 / math.tan(math.radians(options.fov_deg) / 2.0)
    centre = np.array([width / 2.0, height / 2.0])
    t = len(series)
    camera_root = np.full((t, 3), np.nan)
    per_metre = np.full(t, np.nan)
    for k in np.flatnonzero(present):
        s, c = _fit(series.xy[k], world[k], series.visibility[k] >= options.min_visibility)
        if s <= 0:
            present[k] = False
            continue
        per_metre[k] = s / scale
        camera_root[k, :2] = (c - centre) / per_metre[k]
        camera_root[k, 2] = focal / per_metre[k]
    root = np.zeros((t, 3))
    if options.root_motion:
        seen = camera_root[present]
        root = camera_root - _floor_origin(scale * world[present] + seen[:, None, :], seen)
    markers = scale * world + root[:, None, :]
    markers[~present] = np.nan
    root[~present] = np.nan
    return BodyMotion(
        times_s=series.timestamps_ms / 1000.0,
        markers=markers,
        root=root,
        camera_root=camera_root,
        scale=scale,
        estimated_height_m=estimated,
        pixels_per_metre=per_metre,
        present=present,
    )


def opensim_axes(points: np.ndarray) -> np.ndarray:
    """MediaPipe-axis points (..., 3) in OpenSim's axes: X towards the camera, Y up, Z right."""
    return np.asarray(points, dtype=np.float64) @ _MEDIAPIPE_TO_OPENSIM.T


def marker_trajectories(motion: BodyMotion) -> MarkerTrajectories:
    """The Pose2Sim BlazePose markers of a motion, in OpenSim's axes (metres)."""
    index = [landmark_index(landmark) for _, landmark in POSE2SIM_MARKERS]
    return MarkerTrajectories(
        names=tuple(name for name, _ in POSE2SIM_MARKERS),
        times_s=motion.times_s,
        positions=opensim_axes(motion.markers[:, index]),
    )


def angle_table(series: PersonSeries, min_visibility: float = 0.5) -> tuple[tuple[str, ...], np.ndarray]:
    """(names, (T, K) degrees): every 3D joint and segment angle of `ANGLES`, NaN where not measured."""
    from localpose.analysis.angles import ANGLE_NAMES, compute_angles

    return ANGLE_NAMES, compute_angles(series.world, series.visibility, "world", min_visibility)
