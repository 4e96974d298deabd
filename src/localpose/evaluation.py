"""Evaluation: annotated photo sets read as one shape, and predicted people scored against them.

Every set's people become `AnnotatedPerson`s in COCO-17 keypoint order (only the keypoints a
set labels are visible), so one scorer serves all of them:

``coco``       COCO val2017 (4 photos): the 17 COCO keypoints, COCO's segment area as scale;
``crowdpose``  CrowdPose (2 photos): its 12 body joints, box area as scale;
``posetrack``  PoseTrack18 (3 frames of 1920x1080): its 12 body joints (eyes are not labelled,
               its head points are not COCO's), box area; predictions in its ignore regions
               (unannotated spectators) are not counted as matching no one;
``h36m``       Human3.6M (4 frames): its 12 limb joints mapped to COCO's, box area;
``golden``     MediaPipe's golden photo: the 17 COCO keypoints of MediaPipe's own expected
               landmarks (not human annotation), their box area.

People count when at least `MIN_KEYPOINTS` keypoints are labelled. A prediction matches the
unmatched person it has the highest OKS with, best pairs first; found means OKS > 0.5; a
duplicate is a second prediction (OKS > 0.5) on a person already matched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from localpose.metrics import object_keypoint_similarity
from localpose.result import PoseFrame
from localpose.schema import COCO17_FROM_LANDMARKS, COCO17_NAMES, COCO17_SIGMAS

__all__ = [
    "MATCH_OKS",
    "MIN_KEYPOINTS",
    "SETS",
    "AnnotatedImage",
    "AnnotatedPerson",
    "PeopleScore",
    "coco17_keypoints",
    "images_from_coco",
    "load_set",
    "oks_matrix",
    "score_frames",
    "score_people",
]

MIN_KEYPOINTS = 5
MATCH_OKS = 0.5
SETS = ("coco", "crowdpose", "posetrack", "h36m", "golden")
_BODY = COCO17_NAMES[5:]  # shoulders to ankles, which every set labels
_H36M_TO_COCO = {
    "left_hip": "left_hip", "left_knee": "left_knee", "left_foot": "left_ankle",
    "right_hip": "right_hip", "right_knee": "right_knee", "right_foot": "right_ankle",
    "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
    "right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "right_wrist": "right_wrist",
}  # fmt: skip


@dataclass(frozen=True)
class AnnotatedPerson:
    """One annotated person: COCO-17 keypoints (17, 2) pixels, which are labelled, the OKS scale."""

    keypoints: np.ndarray
    visible: np.ndarray
    area: float


@dataclass(frozen=True)
class AnnotatedImage:
    path: Path
    people: tuple[AnnotatedPerson, ...]
    ignore: tuple[np.ndarray, ...] = ()
    """Polygons (k, 2) where people are not annotated."""

    def ignored(self, box: np.ndarray) -> bool:
        """Whether a prediction's box centre lies in an ignore region."""
        centre = (float((box[0] + box[2]) / 2), float((box[1] + box[3]) / 2))
        return any(cv2.pointPolygonTest(p.astype(np.float32), centre, False) >= 0 for p in self.ignore)


@dataclass(frozen=True)
class PeopleScore:
    """How well predicted people match the annotated ones over a set of images."""

    annotated: int
    found: int
    duplicates: int
    unmatched: int
    mean_oks: float

    @property
    def recall(self) -> float:
        return self.found / self.annotated if self.annotated else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "annotated": self.annotated,
            "found": self.found,
            "recall": round(self.recall, 4),
            "duplicates": self.duplicates,
            "unmatched_predictions": self.unmatched,
            "mean_oks_of_found": round(self.mean_oks, 4),
        }


def coco17_keypoints(frame: PoseFrame) -> np.ndarray:
    """(n, 17, 2) COCO keypoints of a frame's people, whichever skeleton it holds."""
    if frame.xy.shape[1] == len(COCO17_NAMES):
        return frame.xy
    return frame.xy[:, list(COCO17_FROM_LANDMARKS)]


def _person(names: list[str], flat: object, area: float, keep: tuple[str, ...]) -> AnnotatedPerson:
    values = json.loads(flat) if isinstance(flat, str) else flat
    triplets = np.asarray(values, np.float64).reshape(-1, 3 if len(values) % 3 == 0 else 4)
    keypoints, visible = np.zeros((17, 2)), np.zeros(17, bool)
    for name, row in zip(names, triplets, strict=True):
        if name in keep:
            k = COCO17_NAMES.index(name)
            keypoints[k], visible[k] = row[:2], row[-1] > 0
    return AnnotatedPerson(keypoints, visible, float(area))


def _coco_style(folder: Path, file: str, keep: tuple[str, ...], rename: dict[str, str] | None = None):
    return images_from_coco(json.loads((folder / file).read_text()), folder, keep, rename)


def images_from_coco(
    document: dict,
    folder: Path,
    keep: tuple[str, ...] = COCO17_NAMES,
    rename: dict[str, str] | None = None,
) -> list[AnnotatedImage]:
    """A COCO-layout keypoint document's images and people (`keep`: the keypoints that count)."""
    names = [(rename or {}).get(n, n) for n in document["categories"][0]["keypoints"]]
    images = []
    for image in document["images"]:
        people = []
        for a in document["annotations"]:
            if a["image_id"] != image["id"]:
                continue
            area = a["area"] if keep == COCO17_NAMES else a["bbox"][2] * a["bbox"][3]
            person = _person(names, a["keypoints"], area, keep)
            if person.visible.sum() >= MIN_KEYPOINTS:
                people.append(person)
        xs, ys = image.get("ignore_regions_x", []), image.get("ignore_regions_y", [])
        ignore = tuple(np.column_stack(p) for p in zip(xs, ys, strict=True) if len(p[0]) >= 3)
        images.append(AnnotatedImage(folder / image["file_name"], tuple(people), ignore))
    return images


def _golden(folder: Path) -> list[AnnotatedImage]:
    expected = json.loads((folder / "pose_expected.json").read_text())
    points = np.asarray(json.loads(str(expected["solutions_pose_test"]["pixel_xy"])), np.float64)
    keypoints = points[list(COCO17_FROM_LANDMARKS)]
    span = keypoints.max(axis=0) - keypoints.min(axis=0)
    person = AnnotatedPerson(keypoints, np.ones(17, bool), float(span[0] * span[1]))
    return [AnnotatedImage(folder / "pose.jpg", (person,))]


def load_set(data: Path, name: str) -> list[AnnotatedImage]:
    """One annotated set from the shared data folder (`SETS` names them)."""
    images = data / "images"
    if name == "coco":
        return _coco_style(images / "coco", "coco_person_keypoints.json", COCO17_NAMES)
    if name == "crowdpose":
        return _coco_style(images / "crowdpose", "crowdpose_keypoints.json", _BODY)
    if name == "posetrack":
        return _coco_style(images / "posetrack18", "posetrack18_keypoints.json", _BODY)
    if name == "h36m":
        return _coco_style(images / "h36m", "h36m_keypoints.json", _BODY, _H36M_TO_COCO)
    if name == "golden":
        return _golden(data / "mediapipe")
    raise ValueError(f"unknown annotated set {name!r}; expected one of {', '.join(SETS)}")


def oks_matrix(frame: PoseFrame, people: tuple[AnnotatedPerson, ...]) -> np.ndarray:
    predicted = coco17_keypoints(frame)
    out = np.zeros((len(frame), len(people)))
    for j, person in enumerate(people):
        for i in range(len(frame)):
            out[i, j] = object_keypoint_similarity(
                predicted[i], person.keypoints, person.visible, person.area, COCO17_SIGMAS
            )
    return out


def score_frames(frames: list[PoseFrame], images: list[AnnotatedImage]) -> PeopleScore:
    """Predicted frames (one per image, in order) scored against the images' annotated people."""
    annotated = found = duplicates = unmatched = 0
    matched: list[float] = []
    for frame, image in zip(frames, images, strict=True):
        annotated += len(image.people)
        oks = oks_matrix(frame, image.people)
        taken: set[int] = set()
        boxes = frame.boxes
        for i in np.argsort(-oks.max(axis=1)) if len(image.people) and len(frame) else range(len(frame)):
            j = int(oks[i].argmax()) if len(image.people) else -1
            if j < 0 or oks[i, j] <= MATCH_OKS:
                unmatched += 0 if image.ignored(boxes[i]) else 1
            elif j in taken:
                duplicates += 1
            else:
                taken.add(j)
                matched.append(float(oks[i, j]))
        found += len(taken)
    mean = float(np.mean(matched)) if matched else 0.0
    return PeopleScore(annotated, found, duplicates, unmatched, mean)


def score_people(frames: dict[int, PoseFrame], truth: dict) -> PeopleScore:
    """Score predicted frames (by COCO image id) against a COCO keypoint annotation document
    (`score_frames` on the images that have a frame)."""
    by_id = {image["id"]: image for image in truth["images"]}
    document = {**truth, "images": [by_id[image_id] for image_id in frames]}
    return score_frames(list(frames.values()), images_from_coco(document, Path()))
