"""The BlazePose 33-landmark topology and its mappings to other formats, written once.

Everything that names a landmark, draws a bone, mirrors a pose or converts to another
keypoint format reads the tables here; nothing else hard-codes an index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BODY25_FROM_LANDMARKS",
    "BODY25_NAMES",
    "COCO17_EDGES",
    "COCO17_FROM_LANDMARKS",
    "COCO17_NAMES",
    "COCO17_SIGMAS",
    "DEFAULT_SKELETON",
    "LANDMARK_INDEX",
    "LANDMARK_NAMES",
    "LANDMARK_SIGMAS",
    "LEFT_RIGHT_PAIRS",
    "MIRROR_INDEX",
    "NUM_LANDMARKS",
    "SKELETONS",
    "SKELETON_EDGES",
    "Skeleton",
    "landmark_index",
    "skeleton",
    "to_landmark_layout",
]

LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
"""MediaPipe Pose landmark names in model output order ("left" is the person's left)."""

NUM_LANDMARKS = len(LANDMARK_NAMES)
LANDMARK_INDEX: dict[str, int] = {name: i for i, name in enumerate(LANDMARK_NAMES)}


def landmark_index(name: str) -> int:
    """Index of a landmark by name, with an error that lists the valid names."""
    try:
        return LANDMARK_INDEX[name]
    except KeyError:
        raise KeyError(f"unknown landmark {name!r}; expected one of {', '.join(LANDMARK_NAMES)}") from None


def _edges(*pairs: tuple[str, str]) -> tuple[tuple[int, int], ...]:
    return tuple((LANDMARK_INDEX[a], LANDMARK_INDEX[b]) for a, b in pairs)


SKELETON_EDGES: tuple[tuple[int, int], ...] = _edges(
    # face
    ("nose", "left_eye_inner"),
    ("left_eye_inner", "left_eye"),
    ("left_eye", "left_eye_outer"),
    ("left_eye_outer", "left_ear"),
    ("nose", "right_eye_inner"),
    ("right_eye_inner", "right_eye"),
    ("right_eye", "right_eye_outer"),
    ("right_eye_outer", "right_ear"),
    ("mouth_left", "mouth_right"),
    # torso
    ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_hip", "right_hip"),
    # arms and hands
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("left_wrist", "left_pinky"),
    ("left_wrist", "left_index"),
    ("left_wrist", "left_thumb"),
    ("left_pinky", "left_index"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("right_wrist", "right_pinky"),
    ("right_wrist", "right_index"),
    ("right_wrist", "right_thumb"),
    ("right_pinky", "right_index"),
    # legs and feet
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("left_ankle", "left_heel"),
    ("left_heel", "left_foot_index"),
    ("left_ankle", "left_foot_index"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("right_ankle", "right_heel"),
    ("right_heel", "right_foot_index"),
    ("right_ankle", "right_foot_index"),
)
"""The 35 bones of MediaPipe's POSE_CONNECTIONS, as landmark index pairs."""

LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = (
    *tuple(
        (i, LANDMARK_INDEX["right" + name[len("left") :]])
        for i, name in enumerate(LANDMARK_NAMES)
        if name.startswith("left")
    ),
    (LANDMARK_INDEX["mouth_left"], LANDMARK_INDEX["mouth_right"]),
)
"""(left, right) index pairs: what a horizontal mirror swaps."""


def _mirror_index() -> tuple[int, ...]:
    order = list(range(NUM_LANDMARKS))
    for left, right in LEFT_RIGHT_PAIRS:
        order[left], order[right] = right, left
    return tuple(order)


MIRROR_INDEX: tuple[int, ...] = _mirror_index()
"""MIRROR_INDEX[i] is the landmark that i becomes in a left-right mirrored pose."""

COCO17_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
COCO17_FROM_LANDMARKS: tuple[int, ...] = tuple(LANDMARK_INDEX[n] for n in COCO17_NAMES)
"""COCO keypoint k is MediaPipe landmark COCO17_FROM_LANDMARKS[k]."""

COCO17_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip
"""Per-keypoint OKS sigmas from pycocotools' cocoeval.py."""


def _landmark_sigmas() -> tuple[float, ...]:
    """OKS sigmas for all 33 landmarks: COCO's where defined, else the nearest COCO joint's."""
    nearest = {
        "eye_inner": "eye", "eye_outer": "eye", "mouth": "nose",
        "pinky": "wrist", "index": "wrist", "thumb": "wrist",
        "heel": "ankle", "foot_index": "ankle",
    }  # fmt: skip
    coco = dict(zip(COCO17_NAMES, COCO17_SIGMAS, strict=True))
    sigmas = []
    for name in LANDMARK_NAMES:
        if name in coco:
            sigmas.append(coco[name])
            continue
        side, _, part = name.partition("_")
        if side == "mouth":
            sigmas.append(coco["nose"])
        else:
            sigmas.append(coco[f"{side}_{nearest[part]}"])
    return tuple(sigmas)


LANDMARK_SIGMAS: tuple[float, ...] = _landmark_sigmas()

BODY25_NAMES: tuple[str, ...] = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
"""OpenPose BODY_25 keypoint names, in OpenPose order."""

BODY25_FROM_LANDMARKS: tuple[tuple[int, ...], ...] = tuple(
    tuple(LANDMARK_INDEX[n] for n in sources)
    for sources in (
        ("nose",),
        ("left_shoulder", "right_shoulder"),  # Neck: mid-shoulder
        ("right_shoulder",),
        ("right_elbow",),
        ("right_wrist",),
        ("left_shoulder",),
        ("left_elbow",),
        ("left_wrist",),
        ("left_hip", "right_hip"),  # MidHip
        ("right_hip",),
        ("right_knee",),
        ("right_ankle",),
        ("left_hip",),
        ("left_knee",),
        ("left_ankle",),
        ("right_eye",),
        ("left_eye",),
        ("right_ear",),
        ("left_ear",),
        ("left_foot_index",),  # LBigToe: MediaPipe's foot index is the big-toe tip
        (),  # LSmallToe: not estimated by MediaPipe, written as missing (0, 0, 0)
        ("left_heel",),
        ("right_foot_index",),
        (),  # RSmallToe
        ("right_heel",),
    )
)
"""BODY_25 keypoint k is the mean of these landmarks (empty: not available)."""


COCO17_EDGES: tuple[tuple[int, int], ...] = tuple(
    (COCO17_NAMES.index(a), COCO17_NAMES.index(b))
    for a, b in (
        ("nose", "left_eye"), ("left_eye", "left_ear"), ("nose", "right_eye"), ("right_eye", "right_ear"),
        ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_hip", "right_hip"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    )
)  # fmt: skip
"""The 16 bones drawn for COCO-17 keypoints: BlazePose's body bones, eyes to ears for the face."""


@dataclass(frozen=True)
class Skeleton:
    """One keypoint layout a model gives: names in output order and everything derived from them."""

    name: str
    names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    """OKS sigma per keypoint."""
    world: bool
    """Whether the model also gives world landmarks (metres); a 2D model's `PoseFrame.world` is zeros."""

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of a keypoint by name, with an error that lists the valid names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"unknown landmark {name!r} in {self.name}; expected one of {', '.join(self.names)}"
            ) from None

    @property
    def coco17(self) -> tuple[int, ...]:
        """COCO keypoint k is keypoint coco17[k] of this skeleton."""
        return tuple(self.index(n) for n in COCO17_NAMES)

    @property
    def mirror(self) -> tuple[int, ...]:
        """mirror[i] is the keypoint that i becomes in a left-right mirrored pose."""
        swapped = {"left": "right", "right": "left"}
        out = []
        for name in self.names:
            side, _, part = name.partition("_")
            if side == "mouth":
                out.append(self.index("mouth_" + swapped[part]))
            else:
                out.append(self.index(f"{swapped[side]}_{part}") if side in swapped else self.index(name))
        return tuple(out)

    @property
    def body25(self) -> tuple[tuple[int, ...], ...]:
        """BODY_25 keypoint k is the mean of these keypoints (empty: not available in this skeleton)."""
        out = []
        for sources in BODY25_FROM_LANDMARKS:
            names = [LANDMARK_NAMES[i] for i in sources]
            out.append(tuple(self.index(n) for n in names) if all(n in self.names for n in names) else ())
        return tuple(out)


SKELETONS: dict[str, Skeleton] = {
    "blazepose33": Skeleton("blazepose33", LANDMARK_NAMES, SKELETON_EDGES, LANDMARK_SIGMAS, world=True),
    "coco17": Skeleton("coco17", COCO17_NAMES, COCO17_EDGES, COCO17_SIGMAS, world=False),
}
"""Every skeleton a `PoseFrame` may hold, by the name models.json gives it."""
DEFAULT_SKELETON = "blazepose33"


def skeleton(name: str) -> Skeleton:
    """The skeleton of this name, with an error that lists the known ones."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton {name!r}; expected one of {', '.join(SKELETONS)}") from None


def to_landmark_layout(values: np.ndarray, layout: Skeleton, axis: int = -2, fill: float = 0.0) -> np.ndarray:
    """Per-keypoint values of a skeleton (keypoints along `axis`) at BlazePose's 33 landmark indices.

    What BlazePose has and the skeleton lacks (COCO-17's hands, feet, inner eyes) is `fill`,
    so that code written for the 33 landmarks (2D angles) reads another skeleton's keypoints:
    give visibility a fill of 0 and what needs a missing landmark is not measured.
    """
    values = np.asarray(values)
    if layout.name == DEFAULT_SKELETON:
        return values
    axis %= values.ndim
    shape = list(values.shape)
    shape[axis] = NUM_LANDMARKS
    out = np.full(shape, fill, dtype=np.result_type(values.dtype, np.float64))
    target = [slice(None)] * values.ndim
    target[axis] = [LANDMARK_INDEX[name] for name in layout.names]
    out[tuple(target)] = values
    return out
