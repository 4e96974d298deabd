"""Repetition counting with form feedback: a hysteresis state machine on a smoothed angle.

Each exercise (`EXERCISES`) names one signal, an angle from `localpose.analysis.angles`
combined over the body's sides, and three thresholds on it, all rising from rest to peak:

    rest   the signal is back at rest at or below this (standing, arms straight, lying ...)
    start  a repetition starts when the signal rises to or above this
    peak   a repetition is complete ("full") only if the signal reached this

    unknown --(s <= rest)--> rest --(s >= start)--> moving --(s >= peak)--> peak
    moving  --(s <= rest)--> rest   (a partial repetition: too shallow)
    peak    --(s <= rest)--> rest   (one full repetition)

The gap between `rest` and `start` is the hysteresis that makes jitter harmless; the
signal is smoothed first (median of the samples of the last 150 ms, at most 3, then an
exponential filter with a time constant), and missing samples are bridged for up to
`RepOptions.max_gap_s`. A longer gap abandons the repetition in progress (partial,
reason ``lost``), and so does staying away from rest longer than `RepOptions.max_rep_s`
(``too_long``); a repetition still in progress when the input ends is partial with
reason ``unfinished``. Motion before the first rest position is ignored, so a clip that
starts mid-repetition does not count it.

Form checks run on each finished repetition; every check compares one measure with a
documented threshold (docs/analysis.md has the table). `RepCounter` is the streaming
interface (one frame at a time, e.g. a webcam); `count_reps` runs it over a whole video.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from localpose.analysis.angles import ANGLES, VIRTUAL_POINTS, Space, angle_index, compute_angles
from localpose.analysis.series import PersonSeries
from localpose.errors import InvalidOptionError, NoWorldLandmarksError
from localpose.result import PoseFrame
from localpose.schema import landmark_index

__all__ = [
    "EXERCISES",
    "ExerciseSpec",
    "FormCheck",
    "Rep",
    "RepCounter",
    "RepOptions",
    "RepReport",
    "RepUpdate",
    "count_reps",
    "exercise_spec",
]

State = Literal["unknown", "rest", "moving", "peak"]

BOTTOM_BAND_DEG = 5.0
"""Form measures "at the deepest point" take the median over the samples whose smoothed
signal is within this many degrees of its peak (robust to single noisy frames)."""


class _Sample(NamedTuple):
    """One frame of the person, kept while a repetition is in progress."""

    frame: int
    t_ms: float
    signal: float
    world_angles: np.ndarray
    image_angles: np.ndarray
    world: np.ndarray
    visibility: np.ndarray


@dataclass
class _Window:
    """The samples of one repetition, handed to the form checks."""

    t_ms: np.ndarray  # (n,)
    signal: np.ndarray  # (n,) smoothed
    world_angles: np.ndarray  # (n, K)
    image_angles: np.ndarray  # (n, K)
    world: np.ndarray  # (n, 33, 3)
    visibility: np.ndarray  # (n, 33)

    @property
    def peak(self) -> int:
        return int(np.nanargmax(self.signal))

    @property
    def bottom(self) -> np.ndarray:
        """Samples at the deepest point: within `BOTTOM_BAND_DEG` of the peak of the smoothed signal."""
        return np.flatnonzero(self.signal >= np.nanmax(self.signal) - BOTTOM_BAND_DEG)

    def angle(self, name: str, space: Space = "world") -> np.ndarray:
        source = self.world_angles if space == "world" else self.image_angles
        return source[:, angle_index(name)]


@dataclass(frozen=True)
class FormCheck:
    """A form flag: raised when `measure(window)` is above (``>``) or below (``<``) `threshold`."""

    flag: str
    measure_name: str
    unit: str
    comparison: Literal["<", ">"]
    threshold: float
    description: str
    measure: Callable[[_Window], float] = field(repr=False, compare=False)

    def evaluate(self, window: _Window) -> tuple[float, bool]:
        value = float(self.measure(window))
        if not math.isfinite(value):
            return value, False
        return value, value < self.threshold if self.comparison == "<" else value > self.threshold


@dataclass(frozen=True)
class ExerciseSpec:
    """What to count: the signal (angles combined over sides), its space and thresholds, and form checks."""

    name: str
    angles: tuple[str, ...]
    combine: Literal["mean", "max"]
    space: Space
    rest: float
    start: float
    peak: float
    description: str
    checks: tuple[FormCheck, ...] = ()

    def __post_init__(self) -> None:
        if not self.rest < self.start <= self.peak:
            raise InvalidOptionError(
                f"{self.name}: thresholds must satisfy rest < start <= peak, got "
                f"{self.rest}, {self.start}, {self.peak}"
            )
        for name in self.angles:
            angle_index(name)


# ---------------------------------------------------------------------------------------------
# Form measures (world landmarks: metres, y down; horizontal means the x-z plane)

_L = {name: landmark_index(name) for name in (
    "left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)}  # fmt: skip


def _horizontal(v: np.ndarray) -> np.ndarray:
    out = np.array(v, dtype=np.float64, copy=True)
    out[..., 1] = 0.0
    return out


def _peak_signal(w: _Window) -> float:
    return float(np.nanmax(w.signal))


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


def _thigh_depth(w: _Window) -> float:
    """Thigh elevation at the deepest point (degrees, world; 0 = parallel to the floor), mean of both."""
    thighs = np.stack([w.angle("left_thigh"), w.angle("right_thigh")], axis=1)[w.bottom]
    with np.errstate(invalid="ignore"):
        per_sample = np.nanmean(np.where(np.isfinite(thighs), thighs, np.nan), axis=1)
    return _median(per_sample)


def _front_thigh_depth(w: _Window) -> float:
    """Elevation of the more horizontal (front) thigh at the deepest point (degrees, world)."""
    thighs = np.stack([w.angle("left_thigh"), w.angle("right_thigh")], axis=1)[w.bottom]
    front = np.where(
        np.isfinite(thighs).any(axis=1), np.nanmax(np.nan_to_num(thighs, nan=-180.0), axis=1), np.nan
    )
    return _median(front)


def _duration_s(w: _Window) -> float:
    return float(w.t_ms[-1] - w.t_ms[0]) / 1000.0


def _trunk_lean(w: _Window) -> np.ndarray:
    """Trunk lean from vertical in degrees (world), per sample."""
    return 90.0 - w.angle("trunk")


def _max_trunk_lean(w: _Window) -> float:
    return float(np.nanmax(_trunk_lean(w))) if np.isfinite(_trunk_lean(w)).any() else math.nan


def _trunk_swing(w: _Window) -> float:
    lean = _trunk_lean(w)
    return float(np.nanmax(lean) - np.nanmin(lean)) if np.isfinite(lean).any() else math.nan


def _knee_ankle_width_ratio(w: _Window) -> float:
    """Knee distance over ankle distance (horizontal, world) at the deepest point."""
    p = w.world[w.bottom]
    knees = np.linalg.norm(_horizontal(p[:, _L["left_knee"]] - p[:, _L["right_knee"]]), axis=1)
    ankles = np.linalg.norm(_horizontal(p[:, _L["left_ankle"]] - p[:, _L["right_ankle"]]), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _median(np.where(ankles > 0, knees / ankles, np.nan))


def _knee_travel(w: _Window) -> float:
    """How far the knee is ahead of the toe tip at the deepest point, in shank lengths (mean of sides)."""
    return _median(np.array([_knee_travel_at(w.world[k], w.visibility[k]) for k in w.bottom]))


def _knee_travel_at(p: np.ndarray, vis: np.ndarray) -> float:
    values = []
    for side in ("left", "right"):
        knee, ankle = _L[f"{side}_knee"], _L[f"{side}_ankle"]
        heel, toe = _L[f"{side}_heel"], _L[f"{side}_foot_index"]
        if min(vis[knee], vis[ankle], vis[heel], vis[toe]) < 0.5:
            continue
        forward = _horizontal(p[toe] - p[heel])
        norm = np.linalg.norm(forward)
        shank = np.linalg.norm(p[knee] - p[ankle])
        if norm == 0 or shank == 0:
            continue
        values.append(float(np.dot(p[knee] - p[toe], forward / norm) / shank))
    return float(np.mean(values)) if values else math.nan


def _body_line(w: _Window) -> np.ndarray:
    """Signed bend at the hips (degrees, world): + when the hips sag below the shoulder-ankle line."""
    p = w.world
    shoulder = (p[:, _L["left_shoulder"]] + p[:, _L["right_shoulder"]]) / 2
    hip = (p[:, _L["left_hip"]] + p[:, _L["right_hip"]]) / 2
    ankle = (p[:, _L["left_ankle"]] + p[:, _L["right_ankle"]]) / 2
    u, v = shoulder - hip, ankle - hip
    cos = np.einsum("nd,nd->n", u, v) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
    bend = 180.0 - np.degrees(np.arccos(np.clip(cos, -1, 1)))
    line = ankle - shoulder
    t = np.einsum("nd,nd->n", hip - shoulder, line) / np.einsum("nd,nd->n", line, line)
    off = hip - (shoulder + t[:, None] * line)
    return np.where(off[:, 1] > 0, bend, -bend)  # world y points down


def _hip_sag(w: _Window) -> float:
    return float(max(0.0, np.nanmax(_body_line(w))))


def _hip_pike(w: _Window) -> float:
    return float(max(0.0, -np.nanmin(_body_line(w))))


def _mean_sides(w: _Window, base: str, row: int) -> float:
    values = [w.world_angles[row, angle_index(f"{s}_{base}")] for s in ("left", "right")]
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _elbow_flare(w: _Window) -> float:
    """Angle between upper arms and trunk (world) at the deepest point, mean of the visible sides."""
    return _median(np.array([_mean_sides(w, "shoulder", k) for k in w.bottom]))


def _ankle_spread(w: _Window) -> float:
    p = w.world
    ankles = np.linalg.norm(_horizontal(p[:, _L["left_ankle"]] - p[:, _L["right_ankle"]]), axis=1)
    shoulders = np.linalg.norm(p[:, _L["left_shoulder"]] - p[:, _L["right_shoulder"]], axis=1)
    return float(np.nanmax(ankles / shoulders))


def _curl_drift(w: _Window) -> float:
    """Largest upper-arm elevation of the curling arm (the one more flexed at the peak)."""
    left, right = w.angle("left_elbow")[w.peak], w.angle("right_elbow")[w.peak]
    side = "left" if (math.isfinite(left) and not (right > left)) else "right"
    drift = w.angle(f"{side}_shoulder")
    return float(np.nanmax(drift)) if np.isfinite(drift).any() else math.nan


def _check(flag, measure_name, unit, comparison, threshold, description, measure) -> FormCheck:
    return FormCheck(flag, measure_name, unit, comparison, threshold, description, measure)


def _rushed(threshold_s: float) -> FormCheck:
    return _check(
        "rushed", "duration_s", "s", "<", threshold_s,
        f"the repetition took less than {threshold_s} s from rest back to rest", _duration_s,
    )  # fmt: skip


EXERCISES: dict[str, ExerciseSpec] = {
    spec.name: spec
    for spec in (
        ExerciseSpec(
            "squat", ("left_knee", "right_knee"), "mean", "world", rest=35, start=50, peak=80,
            description="knee flexion, visibility-weighted mean of both knees (3D)",
            checks=(
                _check("shallow", "thigh_elevation_deg", "deg", "<", -30,
                       "thighs stay more than 30 degrees above parallel to the floor", _thigh_depth),
                _check("forward_lean", "trunk_lean_deg", "deg", ">", 45,
                       "trunk more than 45 degrees from vertical", _max_trunk_lean),
                _check("knees_caving", "knee_ankle_width_ratio", "ratio", "<", 0.8,
                       "at the bottom the knees are closer together than 0.8 x the ankle distance",
                       _knee_ankle_width_ratio),
                _check("knees_past_toes", "knee_travel", "shank lengths", ">", 0.4,
                       "at the bottom the knee is ahead of the toe tip by more than 0.4 shank lengths",
                       _knee_travel),
                _rushed(1.0),
            ),
        ),
        ExerciseSpec(
            "pushup", ("left_elbow", "right_elbow"), "mean", "image", rest=40, start=55, peak=75,
            description="elbow flexion, visibility-weighted mean of both elbows (2D, side view)",
            checks=(
                _check("shallow", "depth_deg", "deg", "<", 90,
                       "deepest elbow flexion under 90 degrees", _peak_signal),
                _check("hip_sag", "hip_sag_deg", "deg", ">", 20,
                       "hips sag more than 20 degrees below the shoulder-ankle line", _hip_sag),
                _check("hip_pike", "hip_pike_deg", "deg", ">", 25,
                       "hips raised more than 25 degrees above the shoulder-ankle line", _hip_pike),
                _check("elbow_flare", "elbow_flare_deg", "deg", ">", 70,
                       "at the bottom the upper arms make more than 70 degrees with the trunk (3D)",
                       _elbow_flare),
                _rushed(1.0),
            ),
        ),
        ExerciseSpec(
            "lunge", ("left_knee", "right_knee"), "max", "world", rest=35, start=50, peak=80,
            description="knee flexion of the more bent (front) knee (3D)",
            checks=(
                _check("shallow", "thigh_elevation_deg", "deg", "<", -30,
                       "the front thigh stays more than 30 degrees above parallel to the floor",
                       _front_thigh_depth),
                _check("forward_lean", "trunk_lean_deg", "deg", ">", 30,
                       "trunk more than 30 degrees from vertical", _max_trunk_lean),
                _rushed(1.0),
            ),
        ),
        ExerciseSpec(
            "jumping_jack", ("left_shoulder", "right_shoulder"), "mean", "image",
            rest=50, start=70, peak=120,
            description="arm elevation (angle between arm and trunk), mean of both arms (2D, front view)",
            checks=(
                _check("arms_not_overhead", "arm_elevation_deg", "deg", "<", 150,
                       "arms rise less than 150 degrees from the sides", _peak_signal),
                _check("legs_not_spread", "ankle_spread", "shoulder widths", "<", 1.2,
                       "feet never more than 1.2 shoulder widths apart", _ankle_spread),
            ),
        ),
        ExerciseSpec(
            "situp", ("trunk",), "mean", "world", rest=25, start=35, peak=60,
            description="trunk elevation above the floor plane (3D segment angle)",
            checks=(
                _check("short_range", "trunk_elevation_deg", "deg", "<", 70,
                       "trunk rises less than 70 degrees from the floor", _peak_signal),
                _rushed(1.0),
            ),
        ),
        ExerciseSpec(
            "curl", ("left_elbow", "right_elbow"), "max", "world", rest=45, start=60, peak=100,
            description="elbow flexion of the more bent arm (3D)",
            checks=(
                _check("incomplete_curl", "peak_flexion_deg", "deg", "<", 120,
                       "elbow flexion never reaches 120 degrees", _peak_signal),
                _check("elbow_drift", "upper_arm_elevation_deg", "deg", ">", 35,
                       "the curling arm's upper arm swings more than 35 degrees away from the trunk",
                       _curl_drift),
                _check("torso_swing", "trunk_swing_deg", "deg", ">", 15,
                       "trunk lean changes by more than 15 degrees during the repetition", _trunk_swing),
                _rushed(1.0),
            ),
        ),
    )
}  # fmt: skip
"""The built-in exercises by name (docs/analysis.md lists signals, thresholds and checks)."""


def exercise_spec(exercise: str | ExerciseSpec) -> ExerciseSpec:
    """The spec for an exercise name (``push-up`` and ``push_up`` also work), or the spec itself."""
    if isinstance(exercise, ExerciseSpec):
        return exercise
    key = exercise.lower().replace("-", "").replace(" ", "").replace("_", "")
    aliases = {"pushup": "pushup", "squat": "squat", "lunge": "lunge", "jumpingjack": "jumping_jack",
               "situp": "situp", "curl": "curl", "bicepscurl": "curl", "bicepcurl": "curl"}  # fmt: skip
    if key not in aliases:
        raise InvalidOptionError(f"unknown exercise {exercise!r}; choose from {', '.join(EXERCISES)}")
    return EXERCISES[aliases[key]]


@dataclass(frozen=True)
class RepOptions:
    """How the signal is cleaned before the state machine sees it."""

    smoothing_s: float = 0.1
    """Time constant of the exponential filter (0: none). Before it, a median of the samples of
    the last 150 ms (at most 3) removes single-frame spikes at video frame rates."""
    max_gap_s: float = 1.0
    """Longest run of missing samples bridged without abandoning the repetition in progress."""
    max_rep_s: float = 20.0
    """A repetition not back at rest after this long is abandoned (partial, ``too_long``)."""
    min_visibility: float = 0.5
    """Landmarks below this visibility do not count (an angle needing one is missing)."""
    space: Space | None = None
    """Override the exercise's signal space (its thresholds were tuned for its own space)."""

    def __post_init__(self) -> None:
        if self.smoothing_s < 0 or self.max_gap_s < 0:
            raise InvalidOptionError("smoothing_s and max_gap_s must not be negative")
        if self.max_rep_s <= 0:
            raise InvalidOptionError(f"max_rep_s must be positive, got {self.max_rep_s}")
        if not 0 <= self.min_visibility <= 1:
            raise InvalidOptionError(f"min_visibility must be between 0 and 1, got {self.min_visibility}")
        if self.space not in (None, "image", "world"):
            raise InvalidOptionError(f"space must be 'image' or 'world', got {self.space!r}")


@dataclass(frozen=True)
class Rep:
    """One repetition (full or partial) with its tempo, range of motion and form flags."""

    index: int
    complete: bool
    reason: str
    """``full``; partial: ``shallow`` (never reached the peak threshold), ``unfinished`` (input
    ended), ``lost`` (person gone longer than max_gap_s), ``too_long`` (over max_rep_s)."""
    start_frame: int
    peak_frame: int
    end_frame: int
    start_ms: float
    peak_ms: float
    end_ms: float
    peak_deg: float
    rom_deg: float
    """Range of motion: peak minus the lower of the start and end values of the signal."""
    flags: tuple[str, ...]
    measures: dict[str, float]

    @property
    def to_peak_s(self) -> float:
        return (self.peak_ms - self.start_ms) / 1000.0

    @property
    def return_s(self) -> float:
        return (self.end_ms - self.peak_ms) / 1000.0

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "complete": self.complete,
            "reason": self.reason,
            "frames": {"start": self.start_frame, "peak": self.peak_frame, "end": self.end_frame},
            "time_ms": {
                "start": round(self.start_ms, 3),
                "peak": round(self.peak_ms, 3),
                "end": round(self.end_ms, 3),
            },
            "tempo_s": {
                "to_peak": round(self.to_peak_s, 3),
                "return": round(self.return_s, 3),
                "total": round(self.duration_s, 3),
            },
            "peak_deg": round(self.peak_deg, 2),
            "rom_deg": round(self.rom_deg, 2),
            "flags": list(self.flags),
            "measures": {
                k: (None if not math.isfinite(v) else round(v, 3)) for k, v in self.measures.items()
            },
        }


@dataclass(frozen=True)
class RepUpdate:
    """What a live display needs after one frame."""

    reps: int
    partial: int
    state: State
    value: float | None
    """The smoothed signal in degrees (None while it is missing)."""
    finished: Rep | None
    """The repetition (full or partial) that ended on this frame, if any."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "reps": self.reps,
            "partial": self.partial,
            "state": self.state,
            "value": None if self.value is None else round(self.value, 2),
            "finished": None if self.finished is None else self.finished.to_dict(),
        }


@dataclass(frozen=True)
class RepReport:
    """All repetitions of one exercise in a sequence, and the signal they were counted on."""

    exercise: ExerciseSpec
    space: Space
    items: tuple[Rep, ...]
    timestamps_ms: np.ndarray
    raw: np.ndarray
    smoothed: np.ndarray

    @property
    def reps(self) -> int:
        return sum(1 for r in self.items if r.complete)

    @property
    def partial(self) -> int:
        return sum(1 for r in self.items if not r.complete)

    @property
    def full(self) -> tuple[Rep, ...]:
        return tuple(r for r in self.items if r.complete)

    def to_dict(self) -> dict[str, Any]:
        spec = self.exercise
        return {
            "exercise": spec.name,
            "signal": spec.description,
            "space": self.space,
            "thresholds_deg": {"rest": spec.rest, "start": spec.start, "peak": spec.peak},
            "reps": self.reps,
            "partial": self.partial,
            "items": [r.to_dict() for r in self.items],
            "checks": [
                {
                    "flag": c.flag,
                    "measure": c.measure_name,
                    "unit": c.unit,
                    "flagged_when": f"{c.comparison} {c.threshold:g}",
                    "description": c.description,
                }
                for c in spec.checks
            ],
        }


class _Smoother:
    """Median of the samples of the last `median_ms` (at most 3), then an exponential filter (tau)."""

    def __init__(self, tau_s: float, median_ms: float = 150.0) -> None:
        self.tau_ms = tau_s * 1000.0
        self.median_ms = median_ms
        self.recent: deque[tuple[float, float]] = deque(maxlen=3)
        self.value: float | None = None
        self.last_ms: float | None = None

    def reset(self) -> None:
        self.recent.clear()
        self.value = None
        self.last_ms = None

    def __call__(self, t_ms: float, x: float) -> float:
        self.recent.append((t_ms, x))
        median = float(np.median([v for t, v in self.recent if t_ms - t <= self.median_ms]))
        if self.value is None or self.last_ms is None or self.tau_ms <= 0:
            self.value = median
        else:
            dt = max(t_ms - self.last_ms, 0.0)
            alpha = 1.0 - math.exp(-dt / self.tau_ms)
            self.value += alpha * (median - self.value)
        self.last_ms = t_ms
        return self.value


class RepCounter:
    """Count repetitions one frame at a time (live) — `count_reps` runs it over a whole sequence.

    >>> counter = RepCounter("squat")  # doctest: +SKIP
    >>> for frame in frames:  # doctest: +SKIP
    ...     update = counter.update(frame)
    >>> report = counter.finish()  # doctest: +SKIP
    """

    def __init__(
        self, exercise: str | ExerciseSpec, options: RepOptions | None = None, track_id: int | None = None
    ) -> None:
        self.spec = exercise_spec(exercise)
        self.options = options or RepOptions()
        self.space: Space = self.options.space or self.spec.space
        self.track_id = track_id
        self._columns = [angle_index(n) for n in self.spec.angles]
        self._smoother = _Smoother(self.options.smoothing_s)
        self._state: State = "unknown"
        self._items: list[Rep] = []
        self._frame = -1
        self._last_valid_ms: float | None = None
        self._rep: list[_Sample] = []
        self._times: list[float] = []
        self._raw: list[float] = []
        self._smoothed: list[float] = []
        self._finished = False

    @property
    def state(self) -> State:
        return self._state

    @property
    def reps(self) -> int:
        return sum(1 for r in self._items if r.complete)

    @property
    def partial(self) -> int:
        return sum(1 for r in self._items if not r.complete)

    # -- input -----------------------------------------------------------------------------

    def _pick(self, frame: PoseFrame) -> int | None:
        if len(frame) == 0:
            return None
        if self.track_id is not None:
            hits = np.flatnonzero(frame.track_id == self.track_id)
            return int(hits[0]) if hits.size else None
        return int(np.argmax(frame.score))

    def update(self, frame: PoseFrame) -> RepUpdate:
        """Feed the next frame (its `timestamp_ms` must not go backwards)."""
        i = self._pick(frame)
        if i is None:
            return self.update_landmarks(frame.timestamp_ms, None, None, None)
        return self.update_landmarks(frame.timestamp_ms, frame.xy[i], frame.world[i], frame.visibility[i])

    def update_landmarks(
        self,
        timestamp_ms: float,
        xy: np.ndarray | None,
        world: np.ndarray | None,
        visibility: np.ndarray | None,
    ) -> RepUpdate:
        """Feed one person's landmarks (None: not seen in this frame)."""
        if self._finished:
            raise RuntimeError("this RepCounter has finished; create a new one")
        self._frame += 1
        t = float(timestamp_ms)
        if xy is None or world is None or visibility is None:
            return self._feed(t, math.nan, None)
        min_vis = self.options.min_visibility
        world_angles = compute_angles(world, visibility, "world", min_vis)
        image_angles = compute_angles(xy, visibility, "image", min_vis)
        angles = world_angles if self.space == "world" else image_angles
        raw = self._combine(angles, visibility)
        sample = _Sample(self._frame, t, math.nan, world_angles, image_angles, np.asarray(world), visibility)
        return self._feed(t, raw, sample)

    def _combine(self, angles: np.ndarray, visibility: np.ndarray) -> float:
        values = angles[self._columns]
        ok = np.isfinite(values)
        if not ok.any():
            return math.nan
        if self.spec.combine == "max":
            return float(np.max(values[ok]))
        weights = np.array([self._weight(n, visibility) for n in self.spec.angles])[ok]
        return float(np.sum(values[ok] * weights) / np.sum(weights))

    @staticmethod
    def _weight(name: str, visibility: np.ndarray) -> float:
        """The smallest visibility of the landmarks an angle needs."""
        points = ANGLES[angle_index(name)].points
        idx = [landmark_index(m) for p in points for m in VIRTUAL_POINTS.get(p, (p,))]
        return max(float(np.min(visibility[idx])), 1e-6)

    # -- state machine ---------------------------------------------------------------------

    def _feed(self, t: float, raw: float, sample: _Sample | None) -> RepUpdate:
        self._times.append(t)
        self._raw.append(raw)
        finished: Rep | None = None
        gap_ms = self.options.max_gap_s * 1000.0
        if sample is None or not math.isfinite(raw):
            self._smoothed.append(math.nan)
            if self._last_valid_ms is not None and t - self._last_valid_ms > gap_ms:
                if self._state in ("moving", "peak"):
                    finished = self._close(complete=False, reason="lost")
                self._state = "unknown"
                self._smoother.reset()
                self._last_valid_ms = None
            return self._report(None, finished)
        if self._last_valid_ms is not None and t - self._last_valid_ms > gap_ms:
            # A long gap ended: whatever was in progress is gone.
            if self._state in ("moving", "peak"):
                finished = self._close(complete=False, reason="lost")
            self._state = "unknown"
            self._smoother.reset()
        self._last_valid_ms = t
        s = self._smoother(t, raw)
        self._smoothed.append(s)
        spec = self.spec
        sample = sample._replace(signal=s)
        if self._state in ("unknown", "rest"):
            if s <= spec.rest:
                self._state = "rest"
                self._rep = [sample]  # the repetition will start from the last sample at rest
            elif self._state == "rest" and s >= spec.start:
                self._state = "peak" if s >= spec.peak else "moving"
                self._rep.append(sample)
        else:
            self._rep.append(sample)
            if s >= spec.peak:
                self._state = "peak"
            if s <= spec.rest:
                finished = self._close(
                    complete=self._state == "peak", reason="full" if self._state == "peak" else "shallow"
                )
                self._state = "rest"
                self._rep = [sample]
            elif t - self._rep[0].t_ms > self.options.max_rep_s * 1000.0:
                finished = self._close(complete=False, reason="too_long")
                self._state = "unknown"
        return self._report(s, finished)

    def _report(self, value: float | None, finished: Rep | None) -> RepUpdate:
        return RepUpdate(self.reps, self.partial, self._state, value, finished)

    def _close(self, complete: bool, reason: str) -> Rep:
        samples = self._rep
        frames = np.array([s.frame for s in samples])
        times = np.array([s.t_ms for s in samples])
        signal = np.array([s.signal for s in samples])
        window = _Window(
            t_ms=times,
            signal=signal,
            world_angles=np.stack([s.world_angles for s in samples]),
            image_angles=np.stack([s.image_angles for s in samples]),
            world=np.stack([s.world for s in samples]),
            visibility=np.stack([s.visibility for s in samples]),
        )
        p = window.peak
        measures: dict[str, float] = {}
        flags: list[str] = []
        if complete:
            for check in self.spec.checks:
                value, raised = check.evaluate(window)
                measures[check.measure_name] = value
                if raised:
                    flags.append(check.flag)
        low = min(signal[0], signal[-1]) if complete or reason == "shallow" else signal[0]
        rep = Rep(
            index=len(self._items),
            complete=complete,
            reason=reason,
            start_frame=int(frames[0]),
            peak_frame=int(frames[p]),
            end_frame=int(frames[-1]),
            start_ms=float(times[0]),
            peak_ms=float(times[p]),
            end_ms=float(times[-1]),
            peak_deg=float(signal[p]),
            rom_deg=float(signal[p] - low),
            flags=tuple(flags),
            measures=measures,
        )
        self._items.append(rep)
        self._rep = []
        return rep

    def finish(self) -> RepReport:
        """End of input: a repetition in progress becomes partial (``unfinished``); returns the report."""
        if not self._finished:
            if self._state in ("moving", "peak") and self._rep:
                self._close(complete=False, reason="unfinished")
            self._finished = True
        return RepReport(
            exercise=self.spec,
            space=self.space,
            items=tuple(self._items),
            timestamps_ms=np.array(self._times),
            raw=np.array(self._raw),
            smoothed=np.array(self._smoothed),
        )


def count_reps(
    frames: Sequence[PoseFrame] | PersonSeries,
    exercise: str | ExerciseSpec,
    options: RepOptions | None = None,
    track_id: int | None = None,
) -> RepReport:
    """Count the repetitions of one person (a track, or the main one) in a sequence of frames."""
    series = frames if isinstance(frames, PersonSeries) else PersonSeries.from_frames(frames, track_id)
    counter = RepCounter(exercise, options)
    if counter.space == "world" and not series.has_world:
        what = f"the {counter.spec.name} counter's 3D signal (space image counts in 2D)"
        raise NoWorldLandmarksError(what, series.skeleton)
    for k in range(len(series)):
        if series.present[k]:
            counter.update_landmarks(
                series.timestamps_ms[k], series.xy[k], series.world[k], series.visibility[k]
            )
        else:
            counter.update_landmarks(series.timestamps_ms[k], None, None, None)
    return counter.finish()
