"""Keypoint similarity measures (COCO's OKS), shared by evaluation and de-duplication."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from localpose.result import PoseFrame

__all__ = [
    "DUPLICATE_OKS",
    "PART_AREA",
    "PART_INSIDE",
    "box_iou",
    "distinct_in_order",
    "keep_distinct_people",
    "most_prominent",
    "object_keypoint_similarity",
    "oks_both_visible",
    "pairwise_oks",
]

DUPLICATE_OKS = 0.5
"""Two people in one image at least this similar (OKS, either way round) are one person seen twice."""
PART_INSIDE = 0.8
"""A person whose box lies at least this much inside a kept person's box is a part of that one..."""
PART_AREA = 0.5
"""...in an image search, when also smaller than this fraction of its area (a limb taken for a person)."""


def object_keypoint_similarity(
    predicted: np.ndarray,
    truth: np.ndarray,
    visible: np.ndarray,
    area: float,
    sigmas: np.ndarray | tuple[float, ...],
) -> float:
    """COCO OKS of one predicted pose against one ground-truth pose.

    predicted, truth: (k, 2) pixels; visible: (k,) bool of labelled truth keypoints;
    area: the truth's segment (or box) area in pixels; sigmas: (k,) per keypoint.
    Same formula as pycocotools: mean over labelled keypoints of exp(-d^2 / (2 s^2 k^2)).
    """
    visible = np.asarray(visible, dtype=bool)
    if not visible.any():
        return 0.0
    variances = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2
    d2 = ((np.asarray(predicted, np.float64) - np.asarray(truth, np.float64)) ** 2).sum(axis=1)
    e = d2 / variances / (float(area) + np.spacing(1)) / 2.0
    return float(np.exp(-e[visible]).mean())


def pairwise_oks(a: PoseFrame, b: PoseFrame, min_visibility: float = 0.5) -> np.ndarray:
    """(len(a), len(b)) OKS over the frames' keypoints (same skeleton), b's people as the reference.

    The scale is b's landmark box area; landmarks count where b sees them
    (visibility >= min_visibility), or all of them when b sees none.
    """
    if a.skeleton != b.skeleton:
        raise ValueError(f"cannot compare {a.skeleton} poses with {b.skeleton} poses")
    sigmas = b.layout.sigmas
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    boxes = b.boxes
    areas = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0)
    for j in range(len(b)):
        seen = b.visibility[j] >= min_visibility
        if not seen.any():
            seen = np.ones_like(seen)
        for i in range(len(a)):
            out[i, j] = object_keypoint_similarity(a.xy[i], b.xy[j], seen, areas[j], sigmas)
    return out


def keep_distinct_people(frame: PoseFrame, similarity: np.ndarray, threshold: float) -> PoseFrame:
    """The frame without people who repeat a higher-scored one.

    `similarity` is (n, n) between the frame's people, in either order; going from the best
    score down, a person is dropped when its similarity with a kept person reaches `threshold`.
    """
    if len(frame) < 2:
        return frame
    keep: list[int] = []
    for i in np.argsort(-frame.score, kind="stable"):
        if all(max(similarity[i, j], similarity[j, i]) < threshold for j in keep):
            keep.append(int(i))
    return frame if len(keep) == len(frame) else frame[sorted(keep)]


def distinct_in_order(frame: PoseFrame, tracked: int = 0, parts_of_any: bool = False) -> list[int]:
    """Indices of the frame's people, in order (the `tracked` ones first), without repeats and parts.

    A repeat has OKS >= `DUPLICATE_OKS` with an earlier kept person (either way round): two
    regions can converge on one person. A part is a person whose box lies at least `PART_INSIDE`
    inside a kept person's box: a newly detected person inside a tracked one is that person
    seen again; with `parts_of_any` (image search), anybody inside a kept person whose box is
    more than 1 / `PART_AREA` times as large (people behind others are usually about as large).
    """
    if len(frame) < 2:
        return list(range(len(frame)))
    similarity = pairwise_oks(frame, frame)
    boxes = frame.boxes
    areas = _areas(boxes)
    kept: list[int] = []
    for i in range(len(frame)):
        repeats = any(max(similarity[i, j], similarity[j, i]) >= DUPLICATE_OKS for j in kept)
        if parts_of_any:
            wholes = [j for j in kept if areas[i] < PART_AREA * areas[j]]
        else:
            wholes = [j for j in kept if j < tracked] if i >= tracked else []
        part = any(_inside(boxes[i], boxes[j]) >= PART_INSIDE for j in wholes)
        if not (repeats or part):
            kept.append(i)
    return kept


def most_prominent(frame: PoseFrame, indices: Sequence[int], count: int) -> list[int]:
    """The `count` people of `indices` that stand out most, in their given order.

    Prominence is score x sqrt(box area): a person twice as tall counts twice as much, so when
    more people are seen than asked for, a large subject with a fair score is kept before a
    small bystander with a good one (on a COCO photo of five skiers, asked for two: the two in
    the middle, 0.80 and 0.62, before the small ones at the edges, 0.85 and 0.84).
    """
    indices = list(indices)
    if len(indices) <= count:
        return indices
    prominence = frame.score[indices] * np.sqrt(_areas(frame.boxes[indices]))
    chosen = set(np.argsort(-prominence, kind="stable")[:count].tolist())
    return [index for k, index in enumerate(indices) if k in chosen]


def _areas(boxes: np.ndarray) -> np.ndarray:
    """Areas of (x0, y0, x1, y1) boxes."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _inside(box: np.ndarray, other: np.ndarray) -> float:
    """The fraction of `box` (x0, y0, x1, y1) that lies inside `other`."""
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return float(max(width, 0) * max(height, 0) / area) if area > 0 else 1.0


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (n, m) between boxes a (n, 4) and b (m, 4) given as x1, y1, x2, y2 (a box
    with negative sides counts as empty)."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def oks_both_visible(
    xy_a: np.ndarray,
    vis_a: np.ndarray,
    xy_b: np.ndarray,
    vis_b: np.ndarray,
    area_b: np.ndarray,
    min_vis: float,
    sigmas: tuple[float, ...] | np.ndarray,
) -> np.ndarray:
    """OKS matrix (n, m) of people a against references b, averaged over the keypoints that
    both sides see (visibility >= min_vis), the tracker's variant: COCO's OKS averages over the
    reference's labelled keypoints only (`object_keypoint_similarity`), but between two
    predictions neither side is ground truth. Scale: b's box area (at least 1 px²)."""
    d2 = np.sum((xy_a[:, None] - xy_b[None, :]) ** 2, axis=-1)  # (n, m, k)
    var = (2 * np.asarray(sigmas)) ** 2
    e = d2 / (2 * np.maximum(area_b, 1.0)[None, :, None] * var[None, None, :])
    both = (vis_a[:, None] >= min_vis) & (vis_b[None, :] >= min_vis)
    counts = both.sum(axis=-1)
    total = np.where(both, np.exp(-e), 0.0).sum(axis=-1)
    return np.where(counts > 0, total / np.maximum(counts, 1), 0.0)
