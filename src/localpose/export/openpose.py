"""OpenPose per-frame JSON (BODY_25 layout), as written by `openpose --write_json`.

Derived keypoints (Neck, MidHip) are means of their MediaPipe sources; keypoints
MediaPipe does not estimate (small toes) are written as 0, 0, 0 like OpenPose's misses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from localpose.result import PoseFrame

__all__ = ["OPENPOSE_FOLDER", "body25_keypoints", "openpose_dict"]

OPENPOSE_FOLDER = "openpose_json"
"""Name (or name ending) of folders of OpenPose files: Pose2Sim scans only folders named *json*."""


def body25_keypoints(frame: PoseFrame, person: int) -> np.ndarray:
    """(25, 3) x, y, confidence for one person in BODY_25 order."""
    body25 = frame.layout.body25  # keypoints a skeleton lacks (COCO-17's feet) are written as (0, 0, 0)
    out = np.zeros((len(body25), 3), dtype=np.float32)
    for k, sources in enumerate(body25):
        if sources:
            idx = list(sources)
            out[k, :2] = frame.xy[person, idx].mean(axis=0)
            out[k, 2] = frame.visibility[person, idx].min()
    return out


def openpose_dict(frame: PoseFrame) -> dict[str, Any]:
    """One OpenPose JSON document for a frame (version 1.3 layout)."""
    people = []
    for i in range(len(frame)):
        track = int(frame.track_id[i])
        people.append(
            {
                "person_id": [track],
                "pose_keypoints_2d": [round(float(v), 3) for v in body25_keypoints(frame, i).reshape(-1)],
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
                "pose_keypoints_3d": [],
                "face_keypoints_3d": [],
                "hand_left_keypoints_3d": [],
                "hand_right_keypoints_3d": [],
            }
        )
    return {"version": 1.3, "people": people}
