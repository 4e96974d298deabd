"""Temporal smoothing of tracked poses: causal (live) and zero-phase (files).

`OneEuroSmoother` filters frame by frame as they arrive, per track, with the One Euro
filter and the parameters of MediaPipe's own pose landmark smoothing
(``pose_landmark_filtering.pbtxt``: image landmarks min_cutoff 0.05, beta 80,
derivate_cutoff 1, velocity scaled by the person's size; world landmarks min_cutoff 0.1,
beta 40, derivate_cutoff 1, unscaled). `smooth_tracks` works on a whole video: it fills
short dropouts of a track by linear interpolation (those people carry the flag
``interpolated``) and then runs a zero-phase Butterworth low-pass (filtfilt) or a
Gaussian over every uninterrupted stretch of each track.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from localpose.errors import InvalidOptionError
from localpose.result import PoseFrame
from localpose.schema import DEFAULT_SKELETON, skeleton

__all__ = [
    "INTERPOLATED",
    "OneEuroOptions",
    "OneEuroSmoother",
    "SmoothingOptions",
    "TrackTable",
    "jitter",
    "smooth_tracks",
]

INTERPOLATED = "interpolated"
"""Flag of a person filled in by interpolation across a short dropout of their track."""

OfflineMethod = Literal["none", "butterworth", "gaussian"]


@dataclass(frozen=True)
class OneEuroOptions:
    """One Euro parameters (defaults: MediaPipe's pose landmark smoothing)."""

    min_cutoff: float = 0.05
    beta: float = 80.0
    derivate_cutoff: float = 1.0
    world_min_cutoff: float = 0.1
    world_beta: float = 40.0
    reset_after_ms: float = 1000.0
    """A track unseen this long starts its filter afresh."""

    def __post_init__(self) -> None:
        if min(self.min_cutoff, self.derivate_cutoff, self.world_min_cutoff) <= 0:
            raise InvalidOptionError("One Euro cutoffs must be positive")
        if min(self.beta, self.world_beta) < 0:
            raise InvalidOptionError("One Euro beta must be >= 0")


@dataclass(frozen=True)
class SmoothingOptions:
    """Offline smoothing of a whole video's tracks."""

    method: OfflineMethod = "butterworth"
    cutoff_hz: float = 6.0
    """Butterworth cut-off (Sports2D's default); lowered to 0.8 x Nyquist for low frame rates."""
    order: int = 4
    sigma_frames: float = 1.5
    """Gaussian standard deviation, in frames."""
    max_gap_ms: float = 250.0
    """Dropouts of a track up to this long are filled by interpolation; longer ones split it."""

    def __post_init__(self) -> None:
        if self.method not in ("none", "butterworth", "gaussian"):
            raise InvalidOptionError(f"smoothing must be none, butterworth or gaussian, got {self.method!r}")
        if self.cutoff_hz <= 0 or self.sigma_frames <= 0 or self.order < 1:
            raise InvalidOptionError("smoothing cutoff, sigma and order must be positive")
        if self.max_gap_ms < 0:
            raise InvalidOptionError("max_gap_ms must be >= 0")


def _alpha(cutoff: float | np.ndarray, dt: float) -> float | np.ndarray:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


@dataclass
class _OneEuro:
    """One Euro filter over an array of values (vectorised), as in MediaPipe's OneEuroFilter."""

    min_cutoff: float
    beta: float
    derivate_cutoff: float
    x: np.ndarray | None = None
    dx: np.ndarray | None = None
    t_s: float = 0.0

    def __call__(self, value: np.ndarray, t_s: float, value_scale: float = 1.0) -> np.ndarray:
        if self.x is None or self.dx is None:
            self.x, self.dx, self.t_s = value.copy(), np.zeros_like(value), t_s
            return value
        dt = t_s - self.t_s
        if dt <= 0:
            return self.x
        dx = (value - self.x) * value_scale / dt
        self.dx = self.dx + _alpha(self.derivate_cutoff, dt) * (dx - self.dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx)
        self.x = self.x + _alpha(cutoff, dt) * (value - self.x)
        self.t_s = t_s
        return self.x


@dataclass
class _PersonFilters:
    image: _OneEuro
    world: _OneEuro
    last_ms: float


@dataclass
class OneEuroSmoother:
    """Causal per-track smoothing for live use: feed tracked frames in order."""

    options: OneEuroOptions = field(default_factory=OneEuroOptions)
    _filters: dict[int, _PersonFilters] = field(default_factory=dict)

    def _filters_for(self, track_id: int, now_ms: float) -> _PersonFilters:
        state = self._filters.get(track_id)
        if state is None or now_ms - state.last_ms > self.options.reset_after_ms:
            o = self.options
            state = _PersonFilters(
                _OneEuro(o.min_cutoff, o.beta, o.derivate_cutoff),
                _OneEuro(o.world_min_cutoff, o.world_beta, o.derivate_cutoff),
                now_ms,
            )
            self._filters[track_id] = state
        return state

    def update(self, frame: PoseFrame, scales: Sequence[float] | None = None) -> PoseFrame:
        """The frame with tracked people's xy, z and world landmarks smoothed (untracked pass).

        Speeds are measured relative to each person's size: the mean side of their landmark box,
        or `scales` (pixels, one per person) when given (MediaPipe uses its crop's side).
        """
        if len(frame) == 0:
            return frame
        now = frame.timestamp_ms
        t_s = now / 1000.0
        xyz = np.concatenate([frame.xy, frame.z[..., None] * frame.width], axis=-1).astype(np.float64)
        world = frame.world.astype(np.float64)
        boxes = frame.boxes
        for i, track_id in enumerate(frame.track_id):
            if track_id < 0:
                continue
            state = self._filters_for(int(track_id), now)
            box_scale = ((boxes[i, 2] - boxes[i, 0]) + (boxes[i, 3] - boxes[i, 1])) / 2
            scale = box_scale if scales is None else scales[i]
            xyz[i] = state.image(xyz[i], t_s, 1.0 / max(scale, 1e-6))
            world[i] = state.world(world[i], t_s)
            state.last_ms = now
        return frame.replace(xy=xyz[..., :2], z=xyz[..., 2] / frame.width, world=world)


@dataclass
class TrackTable:
    """Every track of a video as arrays over all T frames (NaN where the track is absent)."""

    ids: list[int]
    timestamps_ms: np.ndarray  # (T,)
    values: np.ndarray  # (tracks, T, k, 6): x, y, z, world x, y, z (k keypoints of the skeleton)
    visibility: np.ndarray  # (tracks, T, k)
    presence: np.ndarray  # (tracks, T, k)
    score: np.ndarray  # (tracks, T)
    present: np.ndarray  # (tracks, T) bool
    skeleton: str = DEFAULT_SKELETON

    @classmethod
    def from_frames(cls, frames: Sequence[PoseFrame]) -> TrackTable:
        ids = sorted({int(t) for f in frames for t in f.track_id if t >= 0})
        row = {t: k for k, t in enumerate(ids)}
        shape = (len(ids), len(frames))
        kinds = {f.skeleton for f in frames} or {DEFAULT_SKELETON}
        if len(kinds) > 1:
            raise ValueError(f"cannot smooth a video whose frames hold different skeletons: {sorted(kinds)}")
        (kind,) = kinds
        keypoints = len(skeleton(kind))
        values = np.full((*shape, keypoints, 6), np.nan)
        vis = np.zeros((*shape, keypoints))
        pres = np.zeros((*shape, keypoints))
        score = np.zeros(shape)
        present = np.zeros(shape, dtype=bool)
        for k, f in enumerate(frames):
            for i, t in enumerate(f.track_id):
                if t < 0:
                    continue
                r = row[int(t)]
                values[r, k] = np.concatenate([f.xy[i], f.z[i][:, None], f.world[i]], axis=-1)
                vis[r, k], pres[r, k], score[r, k], present[r, k] = (
                    f.visibility[i],
                    f.presence[i],
                    f.score[i],
                    True,
                )
        stamps = np.array([f.timestamp_ms for f in frames], dtype=np.float64)
        return cls(ids, stamps, values, vis, pres, score, present, kind)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _fill_gaps(table: TrackTable, max_gap_ms: float) -> np.ndarray:
    """Interpolate every short absence between two presences, in place; returns the filled mask."""
    filled = np.zeros_like(table.present)
    t = table.timestamps_ms
    for r in range(len(table.ids)):
        for start, stop in _runs(~table.present[r]):
            if start == 0 or stop == len(t) or t[stop] - t[start - 1] > max_gap_ms + 1e-6:
                continue
            w = (t[start:stop] - t[start - 1]) / (t[stop] - t[start - 1])
            for array in (table.values, table.visibility, table.presence, table.score):
                a, b = array[r, start - 1], array[r, stop]
                array[r, start:stop] = a + (b - a) * w.reshape(-1, *([1] * (array.ndim - 2)))
            filled[r, start:stop] = True
    table.present |= filled
    return filled


def _butterworth(values: np.ndarray, fs: float, options: SmoothingOptions) -> np.ndarray:
    cutoff = min(options.cutoff_hz, 0.8 * fs / 2)
    b, a = butterworth_lowpass(options.order, cutoff / (fs / 2))
    padlen = 3 * max(len(a), len(b))
    if len(values) <= padlen:
        return values
    return zero_phase_filter(b, a, values, padlen)


def butterworth_lowpass(order: int, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Digital Butterworth low-pass (b, a); `cutoff` is a fraction of Nyquist, in (0, 1).

    The classic design, as scipy.signal.butter makes it: analogue prototype poles, pre-warped
    cutoff, bilinear transform. Written here because importing scipy.signal takes ~0.5 s,
    longer than smoothing a whole video.
    """
    warped = 4.0 * np.tan(np.pi * cutoff / 2.0)  # sampling rate 2: Nyquist is 1
    poles = -np.exp(1j * np.pi * np.arange(-order + 1, order, 2) / (2 * order)) * warped
    gain = warped**order * np.real(1.0 / np.prod(4.0 - poles))
    digital_poles = (4.0 + poles) / (4.0 - poles)
    b = gain * np.real(np.poly(-np.ones(order)))
    a = np.real(np.poly(digital_poles))
    return b, a


def _lfilter(b: np.ndarray, a: np.ndarray, x: np.ndarray, state: np.ndarray) -> np.ndarray:
    """IIR filter along axis 0 (direct form II transposed) from `state` (order, *x.shape[1:])."""
    y = np.empty_like(x)
    z = state.copy()
    order = len(a) - 1
    for n in range(len(x)):
        y[n] = b[0] * x[n] + z[0]
        for i in range(order - 1):
            z[i] = b[i + 1] * x[n] + z[i + 1] - a[i + 1] * y[n]
        z[order - 1] = b[order] * x[n] - a[order] * y[n]
    return y


def zero_phase_filter(b: np.ndarray, a: np.ndarray, x: np.ndarray, padlen: int) -> np.ndarray:
    """Forward-backward filtering along axis 0 with odd extension, as scipy.signal.filtfilt does."""
    b, a = b / a[0], a / a[0]
    order = len(a) - 1
    # Steady-state initial conditions for a unit step (scipy's lfilter_zi).
    companion = np.zeros((order, order))
    companion[0] = -a[1:]
    companion[1:, :-1] = np.eye(order - 1)
    zi = np.linalg.solve(np.eye(order) - companion.T, b[1:] - a[1:] * b[0])
    zi = zi.reshape(order, *([1] * (x.ndim - 1)))
    x = np.asarray(x, dtype=np.float64)
    extended = np.concatenate([2 * x[0] - x[padlen:0:-1], x, 2 * x[-1] - x[-2 : -padlen - 2 : -1]])
    forward = _lfilter(b, a, extended, zi * extended[0])
    backward = _lfilter(b, a, forward[::-1], zi * forward[-1])[::-1]
    return backward[padlen:-padlen]


def _gaussian(values: np.ndarray, options: SmoothingOptions) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(values, options.sigma_frames, axis=0, mode="nearest")


def _frame_rate(timestamps_ms: np.ndarray) -> float:
    steps = np.diff(timestamps_ms)
    steps = steps[steps > 0]
    return 1000.0 / float(np.median(steps)) if len(steps) else 30.0


def smooth_tracks(frames: Sequence[PoseFrame], options: SmoothingOptions | None = None) -> list[PoseFrame]:
    """Tracked frames with short dropouts filled (flagged) and each track smoothed offline.

    Untracked people (id -1) are passed through untouched; frame count and order are kept.
    Segmentation masks are not carried over (smoothed people have none).
    """
    options = options or SmoothingOptions()
    table = TrackTable.from_frames(frames)
    filled = _fill_gaps(table, options.max_gap_ms)
    fs = _frame_rate(table.timestamps_ms)
    for r in range(len(table.ids)):
        for start, stop in _runs(table.present[r]):
            stretch = table.values[r, start:stop]
            if options.method == "butterworth":
                table.values[r, start:stop] = _butterworth(stretch, fs, options)
            elif options.method == "gaussian":
                table.values[r, start:stop] = _gaussian(stretch, options)
    return _rebuild(frames, table, filled)


def _rebuild(frames: Sequence[PoseFrame], table: TrackTable, filled: np.ndarray) -> list[PoseFrame]:
    out = []
    for k, frame in enumerate(frames):
        untracked = frame[np.flatnonzero(frame.track_id < 0)]
        rows = np.flatnonzero(table.present[:, k])
        flags_by_id = {int(t): frame.flags[i] for i, t in enumerate(frame.track_id) if t >= 0}
        tracked = PoseFrame(
            image_size=frame.image_size,
            xy=table.values[rows, k, :, :2],
            z=table.values[rows, k, :, 2],
            visibility=table.visibility[rows, k],
            presence=table.presence[rows, k],
            world=table.values[rows, k, :, 3:],
            score=table.score[rows, k],
            track_id=[table.ids[r] for r in rows],
            timestamp_ms=frame.timestamp_ms,
            flags=[_flags(flags_by_id, table.ids[r], bool(filled[r, k])) for r in rows],
            skeleton=table.skeleton,
        )
        out.append(PoseFrame.concatenate([tracked, untracked]) if len(untracked) else tracked)
    return out


def _flags(flags_by_id: dict[int, tuple[str, ...]], track_id: int, filled: bool) -> tuple[str, ...]:
    """A person's flags after gap filling: the detected person's, or ``interpolated``."""
    return (INTERPOLATED,) if filled else flags_by_id[track_id]


def jitter(values: np.ndarray) -> float:
    """Mean absolute second difference along the first (time) axis, ignoring NaN."""
    second = np.diff(np.asarray(values, dtype=np.float64), n=2, axis=0)
    return float(np.nanmean(np.abs(second)))
