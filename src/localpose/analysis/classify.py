"""Simple action classes from pose features: k-nearest neighbours or logistic regression, offline.

Features (`pose_features`, version ``world-v1``): the 17 body landmarks of
`localpose.analysis.similarity.SIMILARITY_LANDMARKS` in world coordinates, centred on the
hip centre and divided by the trunk length (hip centre to shoulder centre), followed by the
12 joint angles of `localpose.analysis.angles` (3D) divided by 90. The classifier
standardises each feature with the training mean and spread; a missing angle (landmark not
visible) becomes the training mean. Models are saved as plain JSON (no pickle), so loading
one never runs code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from localpose.analysis.angles import JOINT_ANGLE_NAMES, compute_angles
from localpose.analysis.series import PersonSeries
from localpose.analysis.similarity import SIMILARITY_LANDMARKS
from localpose.errors import InvalidInputError, InvalidOptionError
from localpose.result import PoseFrame
from localpose.schema import landmark_index

__all__ = [
    "FEATURES_VERSION",
    "MODEL_FORMAT",
    "PoseClassifier",
    "Segment",
    "classify_people",
    "frame_features",
    "label_segments",
    "label_series",
    "pose_features",
]

FEATURES_VERSION = "world-v1"
MODEL_FORMAT = "localpose/pose-classifier"
_BODY = np.array([landmark_index(n) for n in SIMILARITY_LANDMARKS])
_HIPS = [landmark_index("left_hip"), landmark_index("right_hip")]
_SHOULDERS = [landmark_index("left_shoulder"), landmark_index("right_shoulder")]


def pose_features(world: np.ndarray, visibility: np.ndarray, min_visibility: float = 0.5) -> np.ndarray:
    """(..., F) features of world landmarks (..., 33, 3) with visibility (..., 33); NaN = missing angle."""
    world = np.asarray(world, dtype=np.float64)
    hip = world[..., _HIPS, :].mean(axis=-2)
    shoulder = world[..., _SHOULDERS, :].mean(axis=-2)
    trunk = np.linalg.norm(shoulder - hip, axis=-1)
    if np.any(trunk <= 0):
        raise InvalidInputError("a pose has zero trunk length; it cannot be normalised")
    body = (world[..., _BODY, :] - hip[..., None, :]) / trunk[..., None, None]
    angles = compute_angles(world, visibility, "world", min_visibility, JOINT_ANGLE_NAMES) / 90.0
    return np.concatenate([body.reshape((*body.shape[:-2], -1)), angles], axis=-1)


def frame_features(frame: PoseFrame, min_visibility: float = 0.5) -> np.ndarray:
    """(n people, F) features of every person in a frame."""
    return pose_features(frame.world, frame.visibility, min_visibility)


@dataclass(frozen=True)
class Segment:
    """A run of frames with one predicted label."""

    label: str
    start: int
    end: int
    """Inclusive frame indices."""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "start": self.start, "end": self.end}


def label_segments(labels: Sequence[str | None]) -> list[Segment]:
    """Runs of equal labels (None: no person, breaks a run and is left out)."""
    out: list[Segment] = []
    for k, label in enumerate(labels):
        if label is None:
            continue
        if out and out[-1].label == label and out[-1].end == k - 1:
            out[-1] = Segment(label, out[-1].start, k)
        else:
            out.append(Segment(label, k, k))
    return out


@dataclass(frozen=True, eq=False)
class PoseClassifier:
    """A trained classifier over `pose_features` (k-NN or multinomial logistic regression)."""

    kind: Literal["knn", "logistic"]
    labels: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    k: int = 5
    samples: np.ndarray | None = None
    """knn: standardised training features (N, F)."""
    targets: np.ndarray | None = None
    """knn: label index of each sample (N,)."""
    weights: np.ndarray | None = None
    """logistic: (classes, F + 1), the last column is the bias."""

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: Sequence[str],
        kind: Literal["knn", "logistic"] = "knn",
        k: int = 5,
        l2: float = 1.0,
    ) -> PoseClassifier:
        """Train on (N, F) features and N labels; needs at least two labels."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != len(labels):
            raise InvalidInputError(
                f"need (N, F) features for N labels, got {x.shape} and {len(labels)} labels"
            )
        names = tuple(sorted(set(labels)))
        if len(names) < 2:
            raise InvalidInputError(f"need examples of at least two labels, got {names}")
        if kind not in ("knn", "logistic"):
            raise InvalidOptionError(f"kind must be 'knn' or 'logistic', got {kind!r}")
        if k < 1:
            raise InvalidOptionError(f"k must be at least 1, got {k}")
        y = np.array([names.index(label) for label in labels])
        mean = np.nanmean(x, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        scale = np.nanstd(x, axis=0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
        z = _standardise(x, mean, scale)
        if kind == "knn":
            return cls("knn", names, mean, scale, k=k, samples=z, targets=y)
        return cls("logistic", names, mean, scale, weights=_fit_logistic(z, y, len(names), l2))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(N, classes) class probabilities for (N, F) features."""
        z = _standardise(np.atleast_2d(np.asarray(features, dtype=np.float64)), self.mean, self.scale)
        if z.shape[1] != self.mean.shape[0]:
            raise InvalidInputError(
                f"features have {z.shape[1]} values; this model expects {self.mean.shape[0]}"
            )
        if self.kind == "logistic":
            assert self.weights is not None
            return _softmax(z @ self.weights[:, :-1].T + self.weights[:, -1])
        assert self.samples is not None and self.targets is not None
        from scipy.spatial import cKDTree

        # A KD-tree keeps memory at (queries x k), not (queries x samples x features): a
        # 10-minute video against 5,000 training poses needed ~45 GB the direct way.
        k = min(self.k, self.samples.shape[0])
        distances, nearest = cKDTree(self.samples).query(z, k=k)
        distances, nearest = distances.reshape(len(z), k), nearest.reshape(len(z), k)
        w = 1.0 / (distances + 1e-6)
        votes = np.zeros((z.shape[0], len(self.labels)))
        for c in range(len(self.labels)):
            votes[:, c] = (w * (self.targets[nearest] == c)).sum(axis=1)
        return votes / votes.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> list[str]:
        return [self.labels[i] for i in np.argmax(self.predict_proba(features), axis=1)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": MODEL_FORMAT,
            "version": 1,
            "features": FEATURES_VERSION,
            "kind": self.kind,
            "labels": list(self.labels),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }
        if self.kind == "knn":
            assert self.samples is not None and self.targets is not None
            out.update(k=self.k, samples=np.round(self.samples, 6).tolist(), targets=self.targets.tolist())
        else:
            assert self.weights is not None
            out["weights"] = self.weights.tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoseClassifier:
        if data.get("format") != MODEL_FORMAT or data.get("version") != 1:
            raise InvalidInputError("not a localpose pose classifier (format/version mismatch)")
        if data.get("features") != FEATURES_VERSION:
            raise InvalidInputError(
                f"model uses features {data.get('features')!r}; this localpose computes {FEATURES_VERSION!r}"
            )
        common = {
            "labels": tuple(data["labels"]),
            "mean": np.asarray(data["mean"], dtype=np.float64),
            "scale": np.asarray(data["scale"], dtype=np.float64),
        }
        if data["kind"] == "knn":
            return cls(
                "knn",
                k=int(data["k"]),
                samples=np.asarray(data["samples"], dtype=np.float64),
                targets=np.asarray(data["targets"], dtype=np.int64),
                **common,
            )
        if data["kind"] == "logistic":
            return cls("logistic", weights=np.asarray(data["weights"], dtype=np.float64), **common)
        raise InvalidInputError(f"unknown classifier kind {data['kind']!r}")

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> PoseClassifier:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"cannot read classifier {path}: {exc}") from exc
        return cls.from_dict(data)


def _standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = (x - mean) / scale
    return np.where(np.isfinite(z), z, 0.0)


def _softmax(a: np.ndarray) -> np.ndarray:
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def _fit_logistic(z: np.ndarray, y: np.ndarray, classes: int, l2: float) -> np.ndarray:
    """Multinomial logistic regression with an L2 penalty on the weights (not the bias), by L-BFGS."""
    from scipy.optimize import minimize

    n, f = z.shape
    onehot = np.eye(classes)[y]
    xb = np.hstack([z, np.ones((n, 1))])

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(classes, f + 1)
        p = _softmax(xb @ w.T)
        value = -np.sum(onehot * np.log(np.clip(p, 1e-12, None))) / n + 0.5 * l2 * np.sum(w[:, :-1] ** 2) / n
        grad = (p - onehot).T @ xb / n
        grad[:, :-1] += l2 * w[:, :-1] / n
        return float(value), grad.ravel()

    result = minimize(
        loss, np.zeros(classes * (f + 1)), jac=True, method="L-BFGS-B", options={"maxiter": 500}
    )
    if not np.all(np.isfinite(result.x)) or not (result.success or result.nit >= 500):
        raise InvalidInputError(f"logistic regression did not converge on these examples: {result.message}")
    return result.x.reshape(classes, f + 1)


def classify_people(model: PoseClassifier, frame: PoseFrame) -> list[dict[str, Any]]:
    """Each person of one image: their most likely label and every label's probability."""
    if len(frame) == 0:
        return []
    probabilities = model.predict_proba(frame_features(frame))
    return [
        {
            "person": i,
            "label": model.labels[int(np.argmax(p))],
            "probabilities": {label: round(float(v), 4) for label, v in zip(model.labels, p, strict=True)},
        }
        for i, p in enumerate(probabilities)
    ]


def label_series(model: PoseClassifier, series: PersonSeries, window: int = 1) -> list[str | None]:
    """A label per frame of one person's series (None where the person is absent), from the class
    probabilities averaged over a centred `window` of frames, so one odd frame does not flip it."""
    labels: list[str | None] = [None] * len(series)
    present = np.flatnonzero(series.present)
    if present.size == 0:
        return labels
    probabilities = model.predict_proba(np.stack([frame_features(series.frame(k))[0] for k in present]))
    kernel = np.ones(max(1, window)) / max(1, window)
    smoothed = np.stack(
        [np.convolve(probabilities[:, c], kernel, mode="same") for c in range(probabilities.shape[1])], 1
    )
    for k, p in zip(present, smoothed, strict=True):
        labels[int(k)] = model.labels[int(np.argmax(p))]
    return labels
