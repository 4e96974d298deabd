"""COCO keypoint *results* format: what COCO's evaluator and most peers read.

One entry per person: {"image_id", "category_id": 1, "keypoints": [x, y, s] * 17, "score"},
where x, y are pixels and s is the landmark's visibility (COCO's evaluator ignores s).
`image_id`s are always integers (pycocotools' ``loadRes`` requires one type); `coco_image_ids`
gives them to file names (a COCO-style numeric name keeps its number) and `coco_images` is
the map from id to file name, in the layout of a COCO annotation file's ``images`` list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from localpose.errors import InvalidInputError
from localpose.result import PoseFrame

__all__ = ["coco_image_ids", "coco_images", "coco_results", "read_coco_results"]


def coco_image_ids(stems: Sequence[str]) -> list[int]:
    """An integer image id per file stem: its number when it is all digits (as COCO's own file
    names are) and not taken yet, else the next free number above every numeric stem."""
    ids: list[int | None] = []
    taken: set[int] = set()
    for stem in stems:
        number = int(stem) if stem.isdigit() else None
        ids.append(number if number is not None and number not in taken else None)
        if ids[-1] is not None:
            taken.add(number)  # type: ignore[arg-type]
    following = max(taken, default=0) + 1
    out = []
    for value in ids:
        if value is None:
            value, following = following, following + 1
        out.append(value)
    return out


def coco_images(entries: Iterable[tuple[int, str, PoseFrame]]) -> list[dict[str, Any]]:
    """The id -> file map as COCO ``images`` entries: {"id", "file_name", "width", "height"}."""
    return [
        {"id": int(image_id), "file_name": name, "width": frame.width, "height": frame.height}
        for image_id, name, frame in entries
    ]


def coco_results(frames: Iterable[tuple[int, PoseFrame]]) -> list[dict[str, Any]]:
    """COCO results entries for (image_id, frame) pairs; image ids must be integers."""
    results = []
    for image_id, frame in frames:
        if isinstance(image_id, bool) or not isinstance(image_id, (int, np.integer)):
            raise TypeError(f"COCO image ids are integers, got {image_id!r}")
        coco = list(frame.layout.coco17)  # COCO's 17 of the frame's keypoints, in COCO's order
        for i in range(len(frame)):
            xy = frame.xy[i, coco]
            s = frame.visibility[i, coco]
            keypoints = np.column_stack([xy, s]).astype(np.float64).round(3).reshape(-1)
            x1, y1, x2, y2 = (float(v) for v in frame.boxes[i])
            entry: dict[str, Any] = {
                "image_id": int(image_id),
                "category_id": 1,
                "keypoints": [float(v) for v in keypoints],
                "score": round(float(frame.score[i]), 4),
                "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
            }
            if frame.track_id[i] >= 0:
                entry["track_id"] = int(frame.track_id[i])
            results.append(entry)
    return results


def read_coco_results(
    entries: list[dict[str, Any]],
) -> dict[int | str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per image_id: (keypoints (n, 17, 2), keypoint scores (n, 17), person scores (n,))."""
    grouped: dict[int | str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("category_id") != 1 or len(entry.get("keypoints", ())) != 51:
            raise InvalidInputError("not a COCO person keypoint result (needs category_id 1 and 51 values)")
        grouped.setdefault(entry["image_id"], []).append(entry)
    out = {}
    for image_id, people in grouped.items():
        kp = np.asarray([p["keypoints"] for p in people], dtype=np.float32).reshape(-1, 17, 3)
        out[image_id] = (kp[:, :, :2], kp[:, :, 2], np.asarray([p["score"] for p in people]))
    return out
