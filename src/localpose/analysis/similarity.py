"""How alike two poses, or two motions, are: a 0-100 score with per-joint contributions.

Poses are compared after a weighted Procrustes alignment (translation, uniform scale and
rotation; never a reflection) on a body subset of landmarks (`SIMILARITY_LANDMARKS`),
each weighted by the smaller of its two visibilities. After alignment both poses have
unit size (weighted RMS distance from their centroid), and a joint whose aligned
positions are `d` apart keeps ``exp(-d**2 / (2 * tolerance**2))`` of its weight:

    score = 100 * sum_k w_k * exp(-d_k**2 / (2 * tolerance**2)) / sum_k w_k

so the score is 100 for a pose and any shifted, scaled or rotated copy of it, and each
joint's ``lost`` points (what it takes away from 100) add up to ``100 - score``. In the
``image`` space the rotation is in the image plane; in the ``world`` space it is any 3D
rotation (so the camera's viewpoint does not matter).

Motions are aligned in time by dynamic time warping (DTW) on the same per-frame
dissimilarity (``1 - score / 100``); the motion score is the mean pose score along the
warping path, and every phase (a slice of the reference's frames) reports its worst joints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from localpose.analysis.angles import Space
from localpose.analysis.series import PersonSeries
from localpose.errors import InvalidInputError, InvalidOptionError
from localpose.result import PoseFrame
from localpose.schema import MIRROR_INDEX, landmark_index

__all__ = [
    "SIMILARITY_LANDMARKS",
    "JointContribution",
    "MotionReport",
    "PhaseReport",
    "SimilarityOptions",
    "SimilarityReport",
    "compare_motions",
    "compare_poses",
    "pose_similarity",
]

SIMILARITY_LANDMARKS: tuple[str, ...] = (
    "nose",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
"""The body landmarks compared: the face and hand details would only add noise."""

MAX_DTW_CELLS = 16_000_000
"""Largest frames(A) x frames(B) DTW accepts (about 4000 x 4000); trim longer clips first."""


@dataclass(frozen=True)
class SimilarityOptions:
    """How poses are compared."""

    space: Space = "image"
    tolerance: float = 0.15
    """Aligned distance (in pose sizes) at which a joint keeps exp(-1/2) = 61% of its weight."""
    min_visibility: float = 0.5
    """Landmarks less visible than this in either pose are left out."""
    allow_mirror: bool = False
    """Also try the left-right mirror image of the second pose and keep the better score."""
    landmarks: tuple[str, ...] = SIMILARITY_LANDMARKS

    def __post_init__(self) -> None:
        if self.space not in ("image", "world"):
            raise InvalidOptionError(f"space must be 'image' or 'world', got {self.space!r}")
        if not self.tolerance > 0:
            raise InvalidOptionError(f"tolerance must be positive, got {self.tolerance}")
        if not 0 <= self.min_visibility <= 1:
            raise InvalidOptionError(f"min_visibility must be between 0 and 1, got {self.min_visibility}")
        if len(self.landmarks) < 3:
            raise InvalidOptionError("at least 3 landmarks are needed to compare poses")
        for name in self.landmarks:
            landmark_index(name)

    @property
    def indices(self) -> np.ndarray:
        return np.array([landmark_index(n) for n in self.landmarks])


@dataclass(frozen=True)
class JointContribution:
    """One landmark's part in a score."""

    name: str
    weight: float
    """Its share of the total weight (0 when left out)."""
    distance: float
    """Aligned distance in pose sizes (NaN when left out)."""
    similarity: float
    lost: float
    """Points this joint takes away from 100."""

    def to_dict(self) -> dict[str, Any]:
        used = self.weight > 0
        return {
            "name": self.name,
            "weight": round(self.weight, 4),
            "distance": round(self.distance, 4) if used else None,
            "similarity": round(self.similarity, 4) if used else None,
            "lost": round(self.lost, 3),
        }


@dataclass(frozen=True)
class SimilarityReport:
    """The score of one pose against a reference, and why."""

    score: float
    joints: tuple[JointContribution, ...]
    space: Space
    scale: float
    """Size of the compared pose over the reference's (image: pixels; world: metres)."""
    rotation_deg: float
    """Rotation that turns the compared pose onto the reference: image, degrees anticlockwise
    on screen; world, the angle of the 3D rotation (0 to 180)."""
    mirrored: bool
    """True when the mirror image of the compared pose matched better (allow_mirror)."""

    def worst(self, n: int = 3) -> tuple[JointContribution, ...]:
        """The n joints that lost the most points."""
        return tuple(sorted(self.joints, key=lambda j: -j.lost)[:n])

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 3),
            "space": self.space,
            "scale": round(self.scale, 5),
            "rotation_deg": round(self.rotation_deg, 3),
            "mirrored": self.mirrored,
            "joints": [j.to_dict() for j in self.joints],
        }


@dataclass
class _Aligned:
    """Batched alignment results: (...,) scores, (..., K) weights/distances/similarities."""

    score: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    similarities: np.ndarray
    scale: np.ndarray
    rotation: np.ndarray  # (..., D, D)


def _align(x: np.ndarray, wx: np.ndarray, y: np.ndarray, wy: np.ndarray, tolerance: float) -> _Aligned:
    """Weighted Procrustes of y onto x, broadcasting over leading axes: x (..., K, D), wx (..., K)."""
    w = np.minimum(wx, wy)
    total = w.sum(axis=-1, keepdims=True)
    usable = (np.count_nonzero(w > 0, axis=-1) >= 3)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        wn = np.where(usable, w / np.where(total > 0, total, 1.0), 0.0)
    cx = np.einsum("...k,...kd->...d", wn, x)
    cy = np.einsum("...k,...kd->...d", wn, y)
    x0 = x - cx[..., None, :]
    y0 = y - cy[..., None, :]
    sx = np.sqrt(np.einsum("...k,...kd,...kd->...", wn, x0, x0))
    sy = np.sqrt(np.einsum("...k,...kd,...kd->...", wn, y0, y0))
    good = usable[..., 0] & (sx > 0) & (sy > 0)
    safe_sx = np.where(good, sx, 1.0)[..., None, None]
    safe_sy = np.where(good, sy, 1.0)[..., None, None]
    xn = np.where(good[..., None, None], x0 / safe_sx, 0.0)
    yn = np.where(good[..., None, None], y0 / safe_sy, 0.0)
    h = np.einsum("...k,...ki,...kj->...ij", wn, yn, xn)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    d = np.where(d == 0, 1.0, d)
    fix = np.ones(u.shape[:-1])
    fix[..., -1] = d
    rotation = np.swapaxes(vt, -1, -2) @ (fix[..., :, None] * np.swapaxes(u, -1, -2))
    moved = np.einsum("...ij,...kj->...ki", rotation, yn)
    dist = np.linalg.norm(xn - moved, axis=-1)
    sim = np.exp(-(dist**2) / (2.0 * tolerance**2))
    score = 100.0 * np.einsum("...k,...k->...", wn, sim)
    score = np.where(good, score, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(good, sy / np.where(sx > 0, sx, 1.0), np.nan)
    return _Aligned(score, wn, np.where(wn > 0, dist, np.nan), sim, scale, rotation)


def _prepared(
    landmarks: np.ndarray, visibility: np.ndarray, options: SimilarityOptions
) -> tuple[np.ndarray, np.ndarray]:
    """The compared subset (..., K, D) and its weights (..., K) (0 below min_visibility)."""
    idx = options.indices
    points = np.asarray(landmarks, dtype=np.float64)[..., idx, :]
    vis = np.asarray(visibility, dtype=np.float64)[..., idx]
    finite = np.isfinite(points).all(axis=-1)
    weights = np.where((vis >= options.min_visibility) & finite, vis, 0.0)
    return np.where(finite[..., None], points, 0.0), weights


def _mirror_map(options: SimilarityOptions) -> np.ndarray:
    """For each compared landmark, the position in the subset of its left-right twin."""
    idx = list(options.indices)
    try:
        return np.array([idx.index(MIRROR_INDEX[i]) for i in idx])
    except ValueError:
        raise InvalidOptionError(
            "allow_mirror needs the landmark subset to hold both sides of each pair"
        ) from None


def _mirrored(
    points: np.ndarray, weights: np.ndarray, options: SimilarityOptions
) -> tuple[np.ndarray, np.ndarray]:
    order = _mirror_map(options)
    flipped = points[..., order, :].copy()
    flipped[..., 0] = -flipped[..., 0]
    return flipped, weights[..., order]


def _rotation_angle(rotation: np.ndarray) -> float:
    if rotation.shape[-1] == 2:  # image y points down: a mathematically positive turn is clockwise
        return float(-np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0])))
    cos = (np.trace(rotation) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def pose_similarity(
    reference: np.ndarray,
    reference_visibility: np.ndarray,
    other: np.ndarray,
    other_visibility: np.ndarray,
    options: SimilarityOptions | None = None,
) -> SimilarityReport:
    """Compare one person's landmarks (33, D) with a reference person's (33, D)."""
    options = options or SimilarityOptions()
    x, wx = _prepared(reference, reference_visibility, options)
    y, wy = _prepared(other, other_visibility, options)
    best = _align(x, wx, y, wy, options.tolerance)
    mirrored = False
    if options.allow_mirror:
        my, mwy = _mirrored(y, wy, options)
        candidate = _align(x, wx, my, mwy, options.tolerance)
        if np.nan_to_num(candidate.score, nan=-1) > np.nan_to_num(best.score, nan=-1):
            best, mirrored = candidate, True
    if not np.isfinite(best.score):
        raise InvalidInputError(
            "too few landmarks are visible in both poses to compare them "
            f"(need 3 with visibility >= {options.min_visibility})"
        )
    joints = tuple(
        JointContribution(
            name=name,
            weight=float(best.weights[k]),
            distance=float(best.distances[k]),
            similarity=float(best.similarities[k]) if best.weights[k] > 0 else math.nan,
            lost=float(100.0 * best.weights[k] * (1.0 - best.similarities[k])),
        )
        for k, name in enumerate(options.landmarks)
    )
    return SimilarityReport(
        score=float(best.score),
        joints=joints,
        space=options.space,
        scale=float(best.scale),
        rotation_deg=_rotation_angle(best.rotation),
        mirrored=mirrored,
    )


def compare_poses(
    reference: PoseFrame,
    other: PoseFrame,
    options: SimilarityOptions | None = None,
    reference_person: int = 0,
    other_person: int = 0,
) -> SimilarityReport:
    """Score a person of `other` against a person of `reference` (0-100, 100 = same pose)."""
    options = options or SimilarityOptions()
    for label, frame, i in (("reference", reference, reference_person), ("other", other, other_person)):
        if not 0 <= i < len(frame):
            raise InvalidInputError(f"the {label} image has {len(frame)} people; person {i} does not exist")
    field_name = "xy" if options.space == "image" else "world"
    return pose_similarity(
        getattr(reference, field_name)[reference_person],
        reference.visibility[reference_person],
        getattr(other, field_name)[other_person],
        other.visibility[other_person],
        options,
    )


# --------------------------------------------------------------------------------------------
# Motions


@dataclass(frozen=True)
class PhaseReport:
    """One slice of the reference motion: its score and the joints that lost the most."""

    index: int
    reference_frames: tuple[int, int]
    """First and last reference frame (indices into the reference sequence) of the phase."""
    score: float
    worst_joints: tuple[tuple[str, float], ...]
    """(landmark, mean points lost) for the worst joints, worst first."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "reference_frames": list(self.reference_frames),
            "score": round(self.score, 3),
            "worst_joints": [{"name": n, "lost": round(v, 3)} for n, v in self.worst_joints],
        }


@dataclass(frozen=True)
class MotionReport:
    """A motion against a reference motion, aligned in time by DTW."""

    score: float
    path: np.ndarray = field(repr=False)
    """(L, 2) pairs (reference frame, other frame) along the warping path, sequence indices."""
    pair_scores: np.ndarray = field(repr=False)
    """(L,) pose score of every pair on the path."""
    phases: tuple[PhaseReport, ...]
    space: Space
    reference_frames: int
    other_frames: int

    @property
    def tempo_ratio(self) -> float:
        """Duration of the other motion over the reference's, in frames along the path."""
        span_a = self.path[-1, 0] - self.path[0, 0]
        span_b = self.path[-1, 1] - self.path[0, 1]
        return float(span_b / span_a) if span_a > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 3),
            "space": self.space,
            "reference_frames": self.reference_frames,
            "other_frames": self.other_frames,
            "tempo_ratio": None if not math.isfinite(self.tempo_ratio) else round(self.tempo_ratio, 4),
            "phases": [p.to_dict() for p in self.phases],
            "path": self.path.tolist(),
        }


def _series(motion: Sequence[PoseFrame] | PersonSeries) -> PersonSeries:
    return motion if isinstance(motion, PersonSeries) else PersonSeries.from_frames(motion)


def _cost_matrix(
    x: np.ndarray, wx: np.ndarray, y: np.ndarray, wy: np.ndarray, tolerance: float, chunk: int = 32
) -> np.ndarray:
    """(Na, Nb) pose scores of every pair, computed in row chunks to bound memory."""
    out = np.empty((x.shape[0], y.shape[0]))
    for start in range(0, x.shape[0], chunk):
        stop = min(start + chunk, x.shape[0])
        aligned = _align(x[start:stop, None], wx[start:stop, None], y[None], wy[None], tolerance)
        out[start:stop] = aligned.score
    return out


def _dtw(cost: np.ndarray) -> np.ndarray:
    """Warping path (L, 2) minimising the summed cost, steps (1,0), (0,1), (1,1); anti-diagonal sweep."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    path = [(n - 1, m - 1)]
    i, j = n, m
    while (i, j) != (1, 1):
        options = ((acc[i - 1, j - 1], i - 1, j - 1), (acc[i - 1, j], i - 1, j), (acc[i, j - 1], i, j - 1))
        _, i, j = min(options, key=lambda o: o[0])
        path.append((i - 1, j - 1))
    return np.array(path[::-1])


def compare_motions(
    reference: Sequence[PoseFrame] | PersonSeries,
    other: Sequence[PoseFrame] | PersonSeries,
    options: SimilarityOptions | None = None,
    phases: int = 4,
    worst: int = 3,
) -> MotionReport:
    """Align `other` to `reference` in time (DTW) and score them; frames without the person are skipped."""
    options = options or SimilarityOptions()
    if phases < 1:
        raise InvalidOptionError(f"phases must be at least 1, got {phases}")
    a, b = _series(reference), _series(other)
    field_name = "xy" if options.space == "image" else "world"
    ia, ib = np.flatnonzero(a.present), np.flatnonzero(b.present)
    if ia.size == 0 or ib.size == 0:
        raise InvalidInputError("a motion has no frame with a person in it")
    if ia.size * ib.size > MAX_DTW_CELLS:
        raise InvalidInputError(
            f"motions of {ia.size} and {ib.size} frames are too long to align "
            f"(limit {MAX_DTW_CELLS} frame pairs); trim or subsample them"
        )
    x, wx = _prepared(getattr(a, field_name)[ia], a.visibility[ia], options)
    y, wy = _prepared(getattr(b, field_name)[ib], b.visibility[ib], options)
    scores = _cost_matrix(x, wx, y, wy, options.tolerance)
    if options.allow_mirror:
        my, mwy = _mirrored(y, wy, options)
        scores = np.fmax(scores, _cost_matrix(x, wx, my, mwy, options.tolerance))
    cost = 1.0 - np.nan_to_num(scores, nan=0.0) / 100.0
    path = _dtw(cost)
    aligned = _align(x[path[:, 0]], wx[path[:, 0]], y[path[:, 1]], wy[path[:, 1]], options.tolerance)
    pair_scores = np.nan_to_num(aligned.score, nan=0.0)
    lost = 100.0 * aligned.weights * (1.0 - aligned.similarities)  # (L, K)
    bounds = np.linspace(0, ia.size, phases + 1).round().astype(int)
    reports = []
    for p in range(phases):
        lo, hi = bounds[p], bounds[p + 1]
        on = (path[:, 0] >= lo) & (path[:, 0] < hi)
        if not on.any():
            continue
        mean_lost = lost[on].mean(axis=0)
        order = np.argsort(-mean_lost)[:worst]
        reports.append(
            PhaseReport(
                index=p,
                reference_frames=(int(ia[lo]), int(ia[hi - 1])),
                score=float(pair_scores[on].mean()),
                worst_joints=tuple((options.landmarks[k], float(mean_lost[k])) for k in order),
            )
        )
    return MotionReport(
        score=float(pair_scores.mean()),
        path=np.stack([ia[path[:, 0]], ib[path[:, 1]]], axis=1),
        pair_scores=pair_scores,
        phases=tuple(reports),
        space=options.space,
        reference_frames=int(ia.size),
        other_frames=int(ib.size),
    )
