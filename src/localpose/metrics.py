"""Keypoint similarity measures (COCO's OKS), shared by evaluation and de-duplication."""

from __future__ import annotations

import numpy as np

from localpose.result import PoseFrame
from localpose.schema import LANDMARK_SIGMAS

__all__ = ["DUPLICATE_OKS", "keep_distinct_people", "object_keypoint_similarity", "pairwise_oks"]

DUPLICATE_OKS = 0.5
"""Two people in one image at least this similar (OKS, either way round) are one person seen twice."""


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
    """(len(a), len(b)) OKS over the 33 landmarks, with b's people as the reference.

    The scale is b's landmark box area; landmarks count where b sees them
    (visibility >= min_visibility), or all of them when b sees none.
    """
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    boxes = b.boxes
    areas = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0)
    for j in range(len(b)):
        seen = b.visibility[j] >= min_visibility
        if not seen.any():
            seen = np.ones_like(seen)
        for i in range(len(a)):
            out[i, j] = object_keypoint_similarity(a.xy[i], b.xy[j], seen, areas[j], LANDMARK_SIGMAS)
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
